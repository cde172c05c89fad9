// One frontend's backend: the pool of servers it balances over. Resolves the configured
// servers' names, health-checks every address, and holds the policy that picks one for each new
// connection.
//
// Each configured server (a name or an IP literal with a port) is resolved again every
// resolve_interval; every address it resolves to is a pool member of its own (a balance::Server).
// An address that disappears drains (no new sessions; it leaves the pool when its last session
// ends); a name that does not resolve yet is logged and simply has no member until it does.
//
// update() applies a new frontend configuration in place: members whose server is still
// configured keep their health and counters; sessions hold their member by shared_ptr, so one
// removed here stays valid for them.
#pragma once

#include "balance/health_check.h"
#include "balance/policy.h"
#include "balance/resolver.h"
#include "balance/server.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hamba::balance {

class Backend {
public:
  // `on_available` runs when a server may have become available (up, added, enabled), so the
  // owner can serve its queue.
  Backend(uv_loop_t* loop, const config::Frontend& frontend, std::function<void()> on_available);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Starts resolving and checking (separate from the constructor so the owner is ready for
  // callbacks).
  void start();
  void update(const config::Frontend& frontend);
  // Stops checks and resolution (frontend removed, or shutting down). Idempotent.
  void stop();

  // The server for a new session, or nullptr when none can take one now (queue it). Prefers
  // servers that are up; when every server is down it tries the enabled ones anyway (a check
  // may be wrong; a failed connect is retried on the next server).
  // `client_hash` is hash_client() of the client's address (balance: source).
  ServerPtr pick(const Server* avoid = nullptr, uint64_t client_hash = 0);

  // Passive health: a connect to `server` failed, or it reset a connection before its first
  // byte (`why` names it). Never for hamba's own failures (base/descriptors.h): the caller
  // filters those. Enough in a row take it DOWN at once (observe: {failures: N}).
  void traffic_failure(Server& server, const std::string& why);
  // A connection to `server` got its first byte, or ended cleanly.
  void traffic_success(Server& server) { server.record_traffic_success(); }

  // Sets the weight of every member whose server name or resolved address is `address`;
  // returns how many matched (configured names with no address yet count once).
  int set_weight(const std::string& address, int weight);

  // A session left `server` (counters.current already decremented): drained servers go.
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
  Member new_member(const config::Server& server, const sockaddr_storage& address);
  void start_check(Member& m);
  // Checks off: brings back servers that traffic took DOWN retry_after ago, and arms the timer
  // for the next one.
  void retry_due();

  uv_loop_t* loop_;
  config::Frontend frontend_;
  std::function<void()> on_available_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<ServerPtr> servers_;
  Policy policy_;
  uvx::Timer retry_timer_; // checks off: the next server traffic took down to try again
  bool retry_armed_ = false;
  bool started_ = false;
  bool stopped_ = false;
};

} // namespace hamba::balance
