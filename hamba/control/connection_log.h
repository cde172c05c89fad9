// The optional per-connection log line (--log-connections / HAMBA_LOG_CONNECTIONS=text|json):
// one line on stderr when a client connection ends, with who, where to, how much and why.
//
//   text: 2026-11-26T16:00:00.123Z conn frontend=80 client=127.0.0.1:40112 server=rng1:80
//         address=127.0.0.2:80 bytes_in=78 bytes_out=1432 duration_ms=12 end="client closed"
//   json: {"time":"2026-11-26T16:00:00.123Z","event":"connection","frontend":"80",...}
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace hamba::control {

enum class ConnectionLogFormat { off, text, json };

// "text", "json", or "off"/"none"/"" (off). Throws std::invalid_argument naming `word`.
ConnectionLogFormat parse_connection_log_format(const std::string& word);

// What is known about one client connection when it ends.
struct ConnectionRecord {
  std::string frontend;
  std::string client; // "127.0.0.1:40112"
  std::string server; // the server as configured, "rng1:80" ("" when none was reached)
  std::string
      address; // the address it resolved to and was connected to, "127.0.0.2:80" ("" when none)
  uint64_t bytes_in = 0;  // client -> server
  uint64_t bytes_out = 0; // server -> client
  std::chrono::milliseconds duration{0};
  std::string end; // why it ended: "client closed", "server closed", "idle timeout", ...
  // client_ca: the verified client certificate's subject ("CN=a,O=b"); "" (not shown) else.
  std::string tls_subject;
};

// The line for `record`, without the trailing newline; `time` is the end time as printed in
// logs ("2026-11-26T16:00:00.123Z"). Empty when `format` is off.
std::string format_connection(const ConnectionRecord& record, ConnectionLogFormat format,
                              const std::string& time);

// Writes the line for `record` to stderr in one write(2) (nothing when off).
void log_connection(const ConnectionRecord& record, ConnectionLogFormat format);

} // namespace hamba::control
