// Parsing and printing of endpoints and socket addresses (see endpoint.h).
#include "base/endpoint.h"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>
#include <uv.h>

namespace hamba {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// `port` is the port part of `whole`; both are named in errors.
uint16_t parse_port(std::string_view port, std::string_view whole, uint16_t min_port) {
  if (port.empty())
    throw EndpointError(fmt::format("\"{}\" has no port (write HOST:PORT)", whole));
  if (!all_digits(port))
    throw EndpointError(fmt::format("port \"{}\" in \"{}\" is not a number", port, whole));
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || value < min_port || value > 65535)
    throw EndpointError(
        fmt::format("port {} in \"{}\" is out of range {}-65535", port, whole, min_port));
  return static_cast<uint16_t>(value);
}

// A DNS name (letters, digits, '-', '.'; '_' as Docker and compose names have it) or an IPv4
// literal: anything else could not be resolved, and would not print back as the same word.
bool is_host_name(std::string_view host) {
  return host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "-._") == std::string_view::npos;
}

} // namespace

Endpoint parse_endpoint(std::string_view text, uint16_t min_port) {
  Endpoint e;
  if (text.empty())
    throw EndpointError("empty address (write HOST:PORT)");
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      throw EndpointError(fmt::format("\"{}\" has no closing ']'", text));
    e.host = std::string(text.substr(1, close - 1));
    unsigned char buf[16];
    if (inet_pton(AF_INET6, e.host.c_str(), buf) != 1)
      throw EndpointError(fmt::format("\"{}\" in \"{}\" is not an IPv6 address", e.host, text));
    if (close + 1 >= text.size() || text[close + 1] != ':')
      throw EndpointError(fmt::format("\"{}\" has no port (write [ADDRESS]:PORT)", text));
    e.port = parse_port(text.substr(close + 2), text, min_port);
    return e;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    if (!all_digits(text))
      throw EndpointError(fmt::format("\"{}\" has no port (write HOST:PORT)", text));
    e.port = parse_port(text, text, min_port);
    return e;
  }
  if (text.find(':') != colon)
    throw EndpointError(
        fmt::format("\"{}\": write IPv6 addresses in brackets, as [{}]:PORT", text, text));
  e.host = std::string(text.substr(0, colon));
  if (!is_host_name(e.host))
    throw EndpointError(fmt::format("\"{}\" in \"{}\" is not a host name (letters, digits, "
                                    "'-', '.' and '_') nor an IP address",
                                    e.host, text));
  e.port = parse_port(text.substr(colon + 1), text, min_port);
  return e;
}

std::string format_endpoint(const Endpoint& e) {
  if (e.host.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", e.host, e.port);
  return fmt::format("{}:{}", e.host, e.port);
}

bool is_ip_literal(const std::string& host) {
  sockaddr_storage unused;
  return ip_literal_sockaddr(host, 0, unused);
}

bool ip_literal_sockaddr(const std::string& host, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (host.empty())
    return false;
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0)
    return true;
  std::memset(&out, 0, sizeof out);
  if (uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0)
    return true;
  std::memset(&out, 0, sizeof out);
  return false;
}

std::string format_sockaddr(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      sockaddr_in in4{};
      in4.sin_family = AF_INET;
      in4.sin_port = in6->sin6_port;
      std::memcpy(&in4.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
      return format_sockaddr(reinterpret_cast<const sockaddr*>(&in4));
    }
    uv_ip6_name(in6, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
  }
  if (address->sa_family == AF_INET) {
    auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
    uv_ip4_name(in4, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(in4->sin_port));
  }
  return "?";
}

socklen_t sockaddr_size(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

} // namespace hamba
