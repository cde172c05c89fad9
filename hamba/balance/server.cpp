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

bool Server::record_check(bool ok, const std::string& detail, int rise, int fall, int64_t now_ms) {
  last_check_ok_ = ok;
  last_check_time_ms_ = now_ms;
  last_check_error_ = detail;
  if (!ok)
    ++counters.checks_failed;
  HealthState::Change change = health_.check(ok, rise, fall);
  if (change == HealthState::Change::went_down) {
    ++counters.downs;
    down_reason_ = detail;
  }
  return change != HealthState::Change::none;
}

bool Server::record_traffic_failure(int threshold, const std::string& why, int64_t now_ms) {
  ++counters.traffic_failures;
  if (health_.traffic_failure(threshold) != HealthState::Change::went_down)
    return false;
  ++counters.downs;
  traffic_down_ms_ = now_ms;
  down_reason_ = fmt::format("{} failed connect{} or early reset{} in a row, the last: {}",
                             threshold, threshold == 1 ? "" : "s", threshold == 1 ? "" : "s", why);
  return true;
}

bool Server::retry(SlowStart::Clock::time_point now) {
  if (health_.retry() != HealthState::Change::went_up)
    return false;
  slow_start_.started(now);
  return true;
}

} // namespace hamba::balance
