// Parsing and printing of HOST:PORT words (see host_port.h).
#include "host_port.h"

#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <uv.h>

namespace http {

namespace {
std::optional<int> parse_port(std::string_view s) {
  int port = 0;
  if (s.empty() || s.size() > 5)
    return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  if (ec != std::errc() || end != s.data() + s.size() || port < 0 || port > 65535)
    return std::nullopt;
  return port;
}
} // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    if (hp.host.empty())
      return std::nullopt;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      port_text = text;
    } else {
      hp.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      if (hp.host.find(':') != std::string::npos) // bare IPv6 needs brackets
        return std::nullopt;
    }
  }
  auto port = parse_port(port_text);
  if (!port)
    return std::nullopt;
  hp.port = *port;
  return hp;
}

std::string to_string(const HostPort& hp) {
  if (hp.host.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", hp.host, hp.port);
  return fmt::format("{}:{}", hp.host, hp.port);
}

bool numeric_sockaddr(const std::string& host, int port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  const std::string h = host.empty() ? "0.0.0.0" : host;
  if (uv_ip4_addr(h.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0)
    return true;
  return uv_ip6_addr(h.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

std::string sockaddr_text(const sockaddr* sa) {
  char ip[64] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in, ip, sizeof ip);
    port = ntohs(in->sin_port);
    return fmt::format("{}:{}", ip, port);
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(in6, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    return fmt::format("[{}]:{}", ip, port);
  }
  return "?";
}

} // namespace http
