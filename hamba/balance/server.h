// One member of a backend's pool: a configured server at one of the addresses its name resolved
// to, with its health, its administrative state and its counters. Plain data shared
// (std::shared_ptr) by the Backend that lists it and by every session connected to it, so a
// member that leaves the configuration or DNS keeps its counters until its last session ends.
// Written only on the event loop thread; read by stats.
#pragma once

#include "balance/health_state.h"
#include "balance/slow_start.h"
#include "config/config.h"

#include <cstdint>
#include <memory>
#include <string>
#include <sys/socket.h>

namespace hamba::balance {

struct ServerCounters {
  uint64_t current = 0;          // sessions connecting or connected to this server now
  uint64_t total = 0;            // sessions that got connected to it
  uint64_t bytes_in = 0;         // client -> server
  uint64_t bytes_out = 0;        // server -> client
  uint64_t connect_errors = 0;   // connects refused or timed out
  uint64_t retries = 0;          // failed connects retried on another server
  uint64_t checks_failed = 0;    // failed health checks
  uint64_t traffic_failures = 0; // failed connects and resets before the first byte, counted
                                 // by passive health (hamba's own failures are not)
  uint64_t downs = 0;            // times it went DOWN (by checks or by traffic)
  // Connections to it that ended in a reset, by the side that failed (HAProxy's srv_abrt and
  // cli_abrt): the server reset (or a write to it failed), or the client did.
  uint64_t resets_by_server = 0;
  uint64_t resets_by_client = 0;
};

class Server {
public:
  Server(config::Endpoint name, const sockaddr* address, int maxconn);

  // The server as configured ("rng:80"): a name that resolves to several addresses makes
  // several members with the same name.
  const config::Endpoint& name() const { return name_; }
  // The resolved address, "10.0.0.3:80" ("[fd00::3]:80").
  const std::string& address() const { return address_text_; }
  // "10.0.0.3:80 (rng:80)" for a resolved name, "10.0.0.3:80" for a literal: for logs.
  std::string label() const;
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&address_); }

  // Sessions it may have at once; 0: no limit (none was configured).
  int maxconn() const { return maxconn_; }
  void set_maxconn(int n) { maxconn_ = n; }

  // Health, from active checks and from traffic (balance/health_state.h): a server starts up,
  // so the first connections need no wait.
  bool up() const { return health_.up(); }
  HealthState::Cause down_cause() const { return health_.down_cause(); }
  // Checks were turned off: nothing would ever bring a server they took DOWN back, so it counts
  // as up again, as a server that is not checked does.
  void forget_health() { health_.forget_checks(); }

  // A failed connect or a reset before the first byte (never hamba's own failure: see
  // base/descriptors.h). True when it took the server DOWN; `why` is kept for the log.
  bool record_traffic_failure(int threshold, const std::string& why, int64_t now_ms);
  void record_traffic_success() {
    if (health_.traffic_failures() != 0)
      health_.traffic_success();
  }
  // With checks off: retry_after has passed since traffic took it down. True when it is up.
  bool retry(SlowStart::Clock::time_point now);
  int64_t traffic_down_ms() const {
    return traffic_down_ms_;
  } // loop time, when traffic took it down
  // Why it is DOWN, for the log and the stats ("3 failed connects in a row: ECONNREFUSED ...").
  const std::string& down_reason() const { return down_reason_; }

  // Weight 1-256, and its effective weight now (scaled by kWeightScale; lower while it ramps up
  // after coming up: slow start).
  int weight() const { return weight_; }
  void set_weight(int w) { weight_ = w; }
  uint32_t effective_weight(SlowStart::Clock::time_point now) const {
    return slow_start_.effective_weight(weight_, now);
  }
  bool ramping(SlowStart::Clock::time_point now) const { return slow_start_.ramping(now); }
  void set_slowstart(config::Duration window) { slow_start_.set_window(window); }
  // It came up (a check's rise, a retry, or added by DNS or a reconfigure): the ramp starts.
  void start_ramp(SlowStart::Clock::time_point now) { slow_start_.started(now); }

  config::ServerState state() const { return state_; }
  void set_state(config::ServerState s) { state_ = s; }
  // The name no longer resolves to this address: no new sessions, existing ones finish.
  bool vanished() const { return vanished_; }
  void set_vanished(bool v) { vanished_ = v; }

  // May take a new session (ignoring maxconn): enabled, not vanished, and up (unless
  // `ignore_health`, used when every server is down).
  bool usable(bool ignore_health) const {
    return state_ == config::ServerState::enabled && !vanished_ && (up() || ignore_health);
  }
  bool has_room() const {
    return maxconn_ == 0 || counters.current < static_cast<uint64_t>(maxconn_);
  }

  // Records one health check; returns true when the server went up or down because of it.
  // `detail` is the check's result in a few words ("http 500", "timeout", "ECONNREFUSED ...").
  bool record_check(bool ok, const std::string& detail, int rise, int fall, int64_t now_ms);
  bool last_check_ok() const { return last_check_ok_; }
  int64_t last_check_time_ms() const { return last_check_time_ms_; } // Unix ms, 0 = never
  const std::string& last_check_error() const { return last_check_error_; }

  ServerCounters counters;

private:
  config::Endpoint name_;
  sockaddr_storage address_{};
  std::string address_text_;
  int maxconn_;
  HealthState health_;
  SlowStart slow_start_;
  int weight_ = 1;
  config::ServerState state_ = config::ServerState::enabled;
  bool vanished_ = false;
  int64_t traffic_down_ms_ = 0;
  std::string down_reason_;
  bool last_check_ok_ = false;
  int64_t last_check_time_ms_ = 0;
  std::string last_check_error_;
};

using ServerPtr = std::shared_ptr<Server>;

} // namespace hamba::balance
