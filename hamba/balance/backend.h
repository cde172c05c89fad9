// One frontend's backend: the pool of servers it balances over. Resolves the configured
// servers' names, health-checks every address, and publishes the pool to the worker loops as
// immutable snapshots (balance/pool_snapshot.h), from which they pick (balance/policy.h). Lives
// on the main loop.
//
// Each configured server (a name or an IP literal with a port) is resolved again every
// resolve_interval; every address it resolves to is a pool member of its own (a balance::Server).
// An address that disappears drains (no new sessions; it leaves the pool when its last session
// ends); a name that does not resolve yet is logged and simply has no member until it does.
//
// update() applies a new frontend configuration in place: members whose server is still
// configured keep their health and counters; sessions hold their member by shared_ptr, so one
// removed here stays valid for them, and a server configured again while they do takes that
// member back (its counters, and the sessions maxconn counts).
#pragma once

#include "balance/health_check.h"
#include "balance/pool_snapshot.h"
#include "balance/resolver.h"
#include "balance/server.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hamba::balance {

// How soon the workers must see a change. A server that just went DOWN is `now`: the very next
// connection must avoid it. Everything else may wait for one snapshot of many changes.
enum class Urgency { batched, now };

class Backend {
public:
  using OnAvailable = std::function<void(Urgency)>;
  // `on_available` runs after every change a snapshot shows (up or down, added or removed,
  // enabled, drained, a weight, a slow-start step), so the owner publishes snapshot() again.
  Backend(uv_loop_t* loop, const config::Frontend& frontend, OnAvailable on_available);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Starts resolving and checking (separate from the constructor so the owner is ready for
  // callbacks).
  void start();
  void update(const config::Frontend& frontend);
  // Stops checks and resolution (frontend removed, or shutting down). Idempotent.
  void stop();

  // The pool as it is now, for the workers; the same object until something changes. `owner`
  // is this backend as a weak reference (it lives inside its frontend or route), for the
  // reports workers send back.
  PoolSnapshotPtr snapshot(const std::weak_ptr<Backend>& owner);

  // Passive health: a connect to `server` failed, or it reset a connection before its first
  // byte (`why` names it). Never for hamba's own failures (base/descriptors.h): the caller
  // filters those. Enough in a row take it DOWN at once (observe: {failures: N}).
  void traffic_failure(Server& server, const std::string& why);
  // A connection to `server` got its first byte (reported while the snapshot says `failing`).
  void traffic_success(Server& server);

  // Sets the weight of every member whose server name or resolved address is `address`;
  // returns how many matched (configured names with no address yet count once).
  int set_weight(const std::string& address, int weight);

  // A session left a server that no longer resolves (counters.current already decremented):
  // it leaves the pool with its last session.
  void released(Server& server);

  // Sets the admin state of every member whose server name or resolved address is `address`
  // ("HOST:PORT"); returns how many matched, plus configured names with no address yet.
  int set_state(const std::string& address, config::ServerState state);

  // Every member (drained ones included until their last session ends), in order.
  const std::vector<ServerPtr>& servers() const { return servers_; }

  // One configured server and its resolution status, for stats.
  struct Name {
    config::Server server;
    bool resolved = false; // resolved at least once to at least one address
    std::string error;     // last resolution error, "" when fine
    size_t addresses = 0;  // addresses it resolves to now
  };
  std::vector<Name> names() const;

  // server_tls: health checks speak TLS with it (nullptr: plain TCP), from their next probe.
  void set_server_tls(std::shared_ptr<const net::TlsClientContext> tls);
  // No normal server is up and backups take the connections (as of the last snapshot).
  bool on_backup() const { return on_backup_; }

private:
  struct Member {
    ServerPtr server;
    std::unique_ptr<HealthCheck> check;
  };
  struct Entry {
    config::Server server;
    std::unique_ptr<Resolver> resolver;
    std::vector<Member> members;
    bool resolved = false;
    std::string error;
    // Loop time (ms) of the first of the answers in a row that said the name is gone, while
    // its last addresses are held (dns_hold); unset otherwise.
    std::optional<uint64_t> gone_since;
  };

  void start_entry(Entry& entry);
  void on_resolved(Entry& entry, int status, const std::vector<sockaddr_storage>& addresses);
  // A `gone` answer (NXDOMAIN) for a name with live addresses: true while they are held
  // (dns_hold), false once they should drain.
  bool hold_gone_name(Entry& entry, int status);
  void on_health_change(Server& server);
  void rebuild();
  void changed(Urgency urgency = Urgency::batched); // a snapshot is due; the owner hears
  // Slow start: while a server ramps, its effective weight grows; snapshots follow it in steps.
  void ramp_step();
  Member new_member(const config::Server& server, const sockaddr_storage& address);
  // The member update() removed for `server` at `address`, if sessions (or a worker's view not
  // yet replaced) still hold it; it leaves removed_.
  ServerPtr take_back(const config::Server& server, const sockaddr_storage& address);
  void start_check(Member& m);
  // Checks off: brings back servers that traffic took DOWN retry_after ago, and arms the timer
  // for the next one.
  void retry_due();

  uv_loop_t* loop_;
  config::Frontend frontend_;
  OnAvailable on_available_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<ServerPtr> servers_;
  // Members of servers removed from the configuration: watched, not held, until they end.
  std::vector<std::weak_ptr<Server>> removed_;
  config::Balance balance_;
  std::shared_ptr<std::atomic<uint64_t>> turn_ = std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<const MaglevTable> table_; // source: reused while the members are the same
  PoolSnapshotPtr snapshot_;                 // nullptr: due
  uvx::Timer ramp_timer_;
  bool ramp_armed_ = false;
  uvx::Timer retry_timer_; // checks off: the next server traffic took down to try again
  bool retry_armed_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::shared_ptr<const net::TlsClientContext> server_tls_;
  bool on_backup_ = false; // the last snapshot's set in use was backups: logged when it changes
};

} // namespace hamba::balance
