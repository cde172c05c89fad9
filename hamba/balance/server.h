// One member of a backend's pool: a configured server at one of the addresses its name resolved
// to, with its health, its administrative state and its counters. Plain data shared
// (std::shared_ptr) by the Backend that lists it and by every session connected to it, so a
// member that leaves the configuration or DNS keeps its counters until its last session ends.
// Health, admin state and weights are written on the main loop only, and workers see them
// through published snapshots (balance/pool_snapshot.h); the counters are atomics, one count
// for the whole process that every worker adds to.
#pragma once

#include "balance/health_state.h"
#include "balance/slow_start.h"
#include "config/config.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/socket.h>

namespace hamba::balance {

// Relaxed atomics: exact counts, no ordering (a lock-prefixed add, uncontended unless two
// workers relay to the same server at the same instant).
using Count = std::atomic<uint64_t>;

struct ServerCounters {
  Count current = 0;          // sessions connecting or connected to this server now
  Count total = 0;            // sessions that got connected to it
  Count bytes_in = 0;         // client -> server
  Count bytes_out = 0;        // server -> client
  Count connect_errors = 0;   // connects refused or timed out
  Count retries = 0;          // failed connects retried on another server
  Count checks_failed = 0;    // failed health checks
  Count traffic_failures = 0; // failed connects and resets before the first byte, counted
                              // by passive health (hamba's own failures are not)
  Count downs = 0;            // times it went DOWN (by checks or by traffic)
  // Connections to it that ended in a reset, by the side that failed (HAProxy's srv_abrt and
  // cli_abrt): the server reset (or a write to it failed), or the client did.
  Count resets_by_server = 0;
  Count resets_by_client = 0;
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

  // A backup takes connections only while no normal server is up (balance/pool_snapshot.h).
  bool backup() const { return backup_; }
  void set_backup(bool b) { backup_ = b; }

  config::ServerState state() const { return state_; }
  void set_state(config::ServerState s) { state_ = s; }
  // The name no longer resolves to this address: no new sessions, existing ones finish.
  // Atomic: a worker ending a session looks, to tell the main loop the member may go.
  bool vanished() const { return vanished_.load(std::memory_order_relaxed); }
  void set_vanished(bool v) { vanished_.store(v, std::memory_order_relaxed); }

  // May take a new session (ignoring maxconn): enabled, not vanished, and up (unless
  // `ignore_health`, used when every server is down).
  bool usable(bool ignore_health) const {
    return state_ == config::ServerState::enabled && !vanished() && (up() || ignore_health);
  }
  bool has_room() const { return has_room(maxconn_); }
  bool has_room(int maxconn) const {
    return maxconn == 0 ||
           counters.current.load(std::memory_order_relaxed) < static_cast<uint64_t>(maxconn);
  }
  // Takes a slot for a new session, unless `maxconn` (the snapshot's) are taken: exact however
  // many workers take slots at once. release() gives it back.
  bool try_acquire(int maxconn) {
    if (maxconn == 0) {
      counters.current.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    uint64_t now = counters.current.load(std::memory_order_relaxed);
    while (now < static_cast<uint64_t>(maxconn))
      if (counters.current.compare_exchange_weak(now, now + 1, std::memory_order_relaxed))
        return true;
    return false;
  }
  // leastconn: takes a slot only if the count is still `seen`, the one the choice was made on;
  // false when another worker took or gave one meanwhile (choose again).
  bool try_acquire_at(uint64_t seen, int maxconn) {
    if (maxconn != 0 && seen >= static_cast<uint64_t>(maxconn))
      return false;
    return counters.current.compare_exchange_strong(seen, seen + 1, std::memory_order_relaxed);
  }
  void release() { counters.current.fetch_sub(1, std::memory_order_relaxed); }
  // Traffic failures are being counted toward taking it DOWN: a success must reset them.
  bool failing() const { return health_.traffic_failures() != 0; }

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
  bool backup_ = false;
  config::ServerState state_ = config::ServerState::enabled;
  std::atomic<bool> vanished_{false};
  int64_t traffic_down_ms_ = 0;
  std::string down_reason_;
  bool last_check_ok_ = false;
  int64_t last_check_time_ms_ = 0;
  std::string last_check_error_;
};

using ServerPtr = std::shared_ptr<Server>;

} // namespace hamba::balance
