// The control socket's wire format, shared by the server (inside `hamba run`) and the client
// commands (`hamba reconfigure|showconfig|enable|disable|drain`).
//
// One request per connection, human-readable so that `socat - UNIX:$HOME/.hamba.sock` works:
//
//     client: "reconfigure\n<YAML configuration>"  then shuts its write side (EOF ends it)
//     server: "ok\n<body>"  or  "error <reason>\n"   then closes
//
// The first request line is the command and an optional argument ("disable web1:80"); the rest
// is the payload. The first reply line is "ok" or "ok <note>" or "error <reason>"; the rest is
// the body (the YAML for showconfig).
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace hamba::control {

// A request above this size is refused: a configuration is a few KiB, this is a bound, not a
// goal.
inline constexpr std::size_t max_request_bytes = 1 << 20;

struct Request {
  std::string command;  // "reconfigure", "showconfig", "enable", "disable", "drain"
  std::string argument; // "HOST:PORT" for enable/disable/drain, else empty
  std::string payload;  // the YAML configuration for reconfigure, else empty
  bool operator==(const Request&) const = default;
};

struct Reply {
  bool ok = true;
  std::string message; // the reason when !ok; an optional one-line note when ok
  std::string body;    // e.g. the configuration for showconfig
  bool operator==(const Reply&) const = default;

  static Reply success(std::string note = {}, std::string body = {}) {
    return {true, std::move(note), std::move(body)};
  }
  static Reply failure(std::string reason) { return {false, std::move(reason), {}}; }
};

std::string encode_request(const Request& request);
// Throws std::invalid_argument naming the problem (empty request, no command).
Request decode_request(const std::string& text);

std::string encode_reply(const Reply& reply);
// Throws std::invalid_argument when the text is not a reply (e.g. not a hamba on the socket).
Reply decode_reply(const std::string& text);

// The control socket path: `flag` (--control) when set, else $HAMBA_CONTROL, else
// $HOME/.hamba.sock (the original image sets HOME=/run, so `docker exec C hamba showconfig`
// finds /run/.hamba.sock with no flag). `env` maps variable names to values (tests pass their
// own).
std::string socket_path(const std::string& flag, const std::map<std::string, std::string>& env);
// The same, reading the process environment.
std::string socket_path(const std::string& flag);

} // namespace hamba::control
