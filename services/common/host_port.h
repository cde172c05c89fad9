// "HOST:PORT" words as used by every flag that names an address (--listen, --rng, --redis, ...),
// and the socket address of a numeric host.
//
//     auto hp = http::parse_host_port("rng:80");          // {"rng", 80}
//     auto any = http::parse_host_port("8000");           // {"", 8000}: all addresses
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace http {

struct HostPort {
  std::string host; // name, IPv4 or IPv6 literal (without brackets); empty: all addresses
  int port = 0;
};

// Parses "HOST:PORT", "[IPV6]:PORT", ":PORT" or "PORT" (host empty). Port 0..65535.
// nullopt when the word is malformed.
std::optional<HostPort> parse_host_port(std::string_view text);

// "host:port", with brackets around an IPv6 literal.
std::string to_string(const HostPort& hp);

// Fills `out` with the socket address of a numeric host ("" means 0.0.0.0). False when the host
// is not an IPv4/IPv6 literal.
bool numeric_sockaddr(const std::string& host, int port, sockaddr_storage& out);

// "1.2.3.4:56" or "[::1]:56" for a socket address.
std::string sockaddr_text(const sockaddr* sa);

} // namespace http
