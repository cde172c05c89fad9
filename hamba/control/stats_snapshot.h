// A copy of every counter the admin endpoints show, taken at one instant on the loop thread.
//
// The HTML page, /metrics and /stats.json are all rendered from one StatsSnapshot (see
// stats_render.h), so they can never disagree with each other; stats_collect.cpp fills it from
// the engine. Byte directions follow HAProxy: "in" is client -> server, "out" server -> client.
// The numbers below are copied in and written out through the rows of stats_counters.h: a new
// one needs its row there to be shown at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hamba::control {

struct ServerStats {
  std::string backend;            // the SNI route it serves; "" for the frontend's own servers
  std::string name;               // the server as configured, "rng:80"
  std::string address;            // the address it resolved to, "10.0.0.3:80"
  bool up = true;                 // health, from checks and failed connects
  std::string state = "enabled";  // administrative: "enabled", "disabled", "drain"
  bool gone = false;              // the name no longer resolves to this address (draining)
  bool unresolved = false;        // a name that resolves to nothing (yet): no address at all
  std::string last_check;         // "ok", the failure reason, or "" when never checked
  int64_t last_check_time_ms = 0; // Unix ms, 0 = never
  std::string down_reason;        // why it is DOWN ("http 500", "3 failed connects ..."), if so
  std::string check_type = "tcp"; // tcp, http, redis ("" when checks are off)
  int maxconn = 0;                // 0: no limit
  int weight = 1;                 // configured, 1-256
  int effective_weight = 16;      // what the policy uses now: weight x 16, lower in slow start
  bool backup = false;            // takes connections only while no normal server is up
  uint64_t traffic_failures = 0;  // failed connects and early resets (passive health)
  uint64_t downs = 0;             // times it went DOWN
  uint64_t current = 0;           // connections now
  uint64_t total = 0;             // connections since start
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t connect_errors = 0;
  uint64_t retries = 0;
  uint64_t checks_failed = 0;
  uint64_t resets_by_server = 0; // connections that ended because the server reset
  uint64_t resets_by_client = 0; // ... because the client reset

  // What a human wants to see first: "unresolved", "gone", "disabled", "drain", else "up" or
  // "down".
  std::string status() const {
    if (unresolved)
      return "unresolved";
    if (gone)
      return "gone";
    if (state != "enabled")
      return state;
    return up ? "up" : "down";
  }
};

// One source of the per-source table (per_source): its address (an IPv6 group's first address),
// connections open now and connections admitted in its current rate window.
struct SourceStats {
  std::string source;
  uint64_t current = 0;
  uint64_t in_window = 0;
};

// The per-source table of a frontend, when per_source is on.
struct SourceTableStats {
  uint64_t slots = 0;     // sources it can hold
  uint64_t used = 0;      // slots that have held a source since the start
  uint64_t bytes = 0;     // its memory when full
  uint64_t untracked = 0; // clients admitted untracked: their slot was another's, still active
  std::vector<SourceStats> top_by_current;
  std::vector<SourceStats> top_by_rate;
};

struct FrontendStats {
  std::string name; // "80" or the configured name
  std::string bind; // "0.0.0.0:80"
  std::string balance;
  bool on_backup = false; // no normal server is up: backup servers take the connections
  uint64_t current = 0;
  uint64_t total = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t errors = 0;    // clients closed because no server could take them
  uint64_t queued = 0;    // clients waiting for a server with room
  uint64_t timeouts = 0;  // connections closed by the idle or queue timeout
  uint64_t abandoned = 0; // queued clients that left before a server had room
  // Accepts that failed, by reason (emfile, enfile, enobufs, enomem, other), in that order.
  uint64_t accept_errors[5] = {0, 0, 0, 0, 0};
  uint64_t proxy_header_errors = 0; // accept_proxy: no valid PROXY header in time
  uint64_t client_hello_errors = 0; // routes: no valid TLS ClientHello in time
  // tls: failed handshakes by reason (version, cipher, certificate, protocol, timeout, closed).
  uint64_t tls_handshake_errors[6] = {0, 0, 0, 0, 0, 0};
  uint64_t tls_record_errors = 0; // tls: a client record refused after the handshake
  // Clients refused, by reason (engine/admission.h's Refusal order).
  uint64_t refused[5] = {0, 0, 0, 0, 0};
  std::vector<ServerStats> servers;
  std::optional<SourceTableStats> sources; // per_source on
};

struct StatsSnapshot {
  std::string version;
  int64_t now_ms = 0;     // Unix ms when the snapshot was taken
  int64_t started_ms = 0; // Unix ms when hamba started
  std::vector<FrontendStats> frontends;
  struct Worker {
    uint64_t accepted = 0; // connections since start
    uint64_t current = 0;  // connections now
  };
  std::vector<Worker> workers; // one per worker loop
};

} // namespace hamba::control
