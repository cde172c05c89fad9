// Server health bookkeeping (rise/fall) and address formatting; see server.h.
#include "balance/server.h"

#include <cstring>
#include <fmt/format.h>

namespace hamba::balance {

Server::Server(config::Endpoint name, const sockaddr* address, int maxconn)
    : name_(std::move(name)), maxconn_(maxconn) {
  std::memcpy(&address_, address, sockaddr_size(address));
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
