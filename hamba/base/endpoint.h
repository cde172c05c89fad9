// Endpoints: a host and a port as every word of hamba and the services names them ("rng:80",
// "[::1]:6379", ":8000", "8000"), and the socket addresses they become. The one place that
// parses, checks and prints them, so the balancer, its admin page and the services agree.
//
//     hamba::Endpoint e = hamba::parse_endpoint("rng:80");      // {"rng", 80}
//     hamba::format_endpoint({"::1", 80});                      // "[::1]:80"
//     sockaddr_storage sa;
//     hamba::ip_literal_sockaddr("10.0.0.5", 6379, sa);         // true: no DNS needed
//     hamba::format_sockaddr(sa_ptr);                           // "10.0.0.5:6379"
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace hamba {

// A host (DNS name, IPv4 or IPv6 literal without brackets; empty = every address) and a port.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

// A word that is not an endpoint; what() names the word and says what to write instead.
class EndpointError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

// Parses "HOST:PORT", "[IPV6]:PORT", ":PORT" or "PORT" (host empty). The port must be from
// `min_port` to 65535 (0 lets a listener take a free port). Throws EndpointError.
Endpoint parse_endpoint(std::string_view text, uint16_t min_port = 1);

// "host:port", with brackets around an IPv6 literal.
std::string format_endpoint(const Endpoint& e);

// True when `host` is an IPv4 or IPv6 literal (no DNS lookup needed).
bool is_ip_literal(const std::string& host);

// Fills `out` with the socket address of an IP literal and port; false (and `out` zeroed) when
// `host` is a name to resolve, or empty.
bool ip_literal_sockaddr(const std::string& host, uint16_t port, sockaddr_storage& out);

// "10.0.0.3:80" or "[fd00::3]:80" for an IPv4 or IPv6 socket address. An IPv4-mapped IPv6
// address (an IPv4 client of a dual-stack listener) is shown as the IPv4 address it is.
std::string format_sockaddr(const sockaddr* address);

// The size of the sockaddr_in or sockaddr_in6 that `address` holds, for connect() and bind().
socklen_t sockaddr_size(const sockaddr* address);

} // namespace hamba
