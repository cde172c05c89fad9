// Server health bookkeeping (rise/fall) and address formatting; see server.h.
#include "balance/server.h"

#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>
#include <uv.h>

namespace hamba::balance {

std::string format_sockaddr(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      // An IPv4 client of a dual-stack listener ([::]): shown as the IPv4 address it is.
      sockaddr_in in4{};
      in4.sin_family = AF_INET;
      in4.sin_port = in6->sin6_port;
      std::memcpy(&in4.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
      return format_sockaddr(reinterpret_cast<const sockaddr*>(&in4));
    }
    uv_ip6_name(in6, host, sizeof host);
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
  }
  auto* in4 = reinterpret_cast<const sockaddr_in*>(address);
  uv_ip4_name(in4, host, sizeof host);
  return fmt::format("{}:{}", host, ntohs(in4->sin_port));
}

Server::Server(config::Endpoint name, const sockaddr* address, int maxconn)
    : name_(std::move(name)), maxconn_(maxconn) {
  std::memcpy(&address_, address,
              address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  address_text_ = format_sockaddr(address);
}

std::string Server::label() const {
  std::string name = config::format_endpoint(name_);
  return name == address_text_ ? name : address_text_ + " (" + name + ")";
}

bool Server::record_check(bool ok, const std::string& error, int rise, int fall, int64_t now_ms) {
  last_check_ok_ = ok;
  last_check_time_ms_ = now_ms;
  last_check_error_ = ok ? std::string() : error;
  if (!ok)
    ++counters.checks_failed;
  if (up_) {
    failures_ = ok ? 0 : failures_ + 1;
    if (failures_ >= fall) {
      up_ = false;
      successes_ = 0;
      return true;
    }
  } else {
    successes_ = ok ? successes_ + 1 : 0;
    if (successes_ >= rise) {
      up_ = true;
      failures_ = 0;
      return true;
    }
  }
  return false;
}

} // namespace hamba::balance
