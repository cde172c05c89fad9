// One member of a backend's pool: a configured server at one of the addresses its name resolved
// to, with its health, its administrative state and its counters. Plain data shared
// (std::shared_ptr) by the Backend that lists it and by every session connected to it, so a
// member that leaves the configuration or DNS keeps its counters until its last session ends.
// Written only on the event loop thread; read by stats.
#pragma once

#include "config/config.h"

#include <cstdint>
#include <memory>
#include <string>
#include <sys/socket.h>

namespace hamba::balance {

struct ServerCounters {
  uint64_t current = 0;        // sessions connecting or connected to this server now
  uint64_t total = 0;          // sessions that got connected to it
  uint64_t bytes_in = 0;       // client -> server
  uint64_t bytes_out = 0;      // server -> client
  uint64_t connect_errors = 0; // connects refused or timed out
  uint64_t retries = 0;        // failed connects retried on another server
  uint64_t checks_failed = 0;  // failed health checks
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

  // Health (from checks): a server starts up, so the first connections need no wait; checks
  // and failed connects (retried elsewhere) take it down.
  bool up() const { return up_; }
  // Checks were turned off: nothing would ever bring a DOWN server back, so it counts as up
  // again, as a server that is not checked does.
  void forget_health() {
    up_ = true;
    successes_ = failures_ = 0;
  }
  config::ServerState state() const { return state_; }
  void set_state(config::ServerState s) { state_ = s; }
  // The name no longer resolves to this address: no new sessions, existing ones finish.
  bool vanished() const { return vanished_; }
  void set_vanished(bool v) { vanished_ = v; }

  // May take a new session (ignoring maxconn): enabled, not vanished, and up (unless
  // `ignore_health`, used when every server is down).
  bool usable(bool ignore_health) const {
    return state_ == config::ServerState::enabled && !vanished_ && (up_ || ignore_health);
  }
  bool has_room() const {
    return maxconn_ == 0 || counters.current < static_cast<uint64_t>(maxconn_);
  }

  // Records one health check; returns true when the server went up or down because of it.
  bool record_check(bool ok, const std::string& error, int rise, int fall, int64_t now_ms);
  bool last_check_ok() const { return last_check_ok_; }
  int64_t last_check_time_ms() const { return last_check_time_ms_; } // Unix ms, 0 = never
  const std::string& last_check_error() const { return last_check_error_; }

  ServerCounters counters;

private:
  config::Endpoint name_;
  sockaddr_storage address_{};
  std::string address_text_;
  int maxconn_;
  bool up_ = true;
  config::ServerState state_ = config::ServerState::enabled;
  bool vanished_ = false;
  int successes_ = 0; // consecutive, while down
  int failures_ = 0;  // consecutive, while up
  bool last_check_ok_ = false;
  int64_t last_check_time_ms_ = 0;
  std::string last_check_error_;
};

using ServerPtr = std::shared_ptr<Server>;

} // namespace hamba::balance
