// The servers of one frontend: what its configured backends resolve to, their health checks,
// and the balancing policy that picks one for each new connection.
//
// Each configured backend (a name or an IP literal with a port) is resolved again every
// resolve_interval; every address it resolves to is a Server of its own. An address that
// disappears drains (no new sessions; it leaves the list when its last session ends); a name
// that does not resolve yet is logged and simply has no server until it does.
//
// update() applies a new frontend configuration in place: servers whose backend is still
// configured keep their health and counters; sessions hold their Server by shared_ptr, so a
// server removed here stays valid for them.
#pragma once

#include "balance/health_check.h"
#include "balance/policy.h"
#include "balance/resolver.h"
#include "balance/server.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hamba::balance {

class BackendSet {
public:
  // `on_available` runs when a server may have become available (up, added, enabled), so the
  // owner can serve its queue.
  BackendSet(uv_loop_t* loop, const config::Frontend& frontend, std::function<void()> on_available);
  ~BackendSet();
  BackendSet(const BackendSet&) = delete;
  BackendSet& operator=(const BackendSet&) = delete;

  // Starts resolving and checking (separate from the constructor so the owner is ready for
  // callbacks).
  void start();
  void update(const config::Frontend& frontend);
  // Stops checks and resolution (frontend removed, or shutting down). Idempotent.
  void stop();

  // The server for a new session, or nullptr when none can take one now (queue it). Prefers
  // servers that are up; when every server is down it tries the enabled ones anyway (a check
  // may be wrong; a failed connect is retried on the next server).
  ServerPtr pick(const Server* avoid = nullptr);

  // A session left `server` (counters.current already decremented): drained servers go.
  void released(Server& server);

  // Sets the admin state of every server whose backend name or resolved address is `address`
  // ("HOST:PORT"); returns how many servers matched, plus configured names with no server yet.
  int set_state(const std::string& address, config::ServerState state);

  // Every server (drained ones included until their last session ends), in order.
  const std::vector<ServerPtr>& servers() const { return servers_; }

  // One configured backend and its resolution status, for stats.
  struct Name {
    config::Backend backend;
    bool resolved = false; // resolved at least once to at least one address
    std::string error;     // last resolution error, "" when fine
    size_t servers = 0;    // addresses it resolves to now
  };
  std::vector<Name> names() const;

private:
  struct Member {
    ServerPtr server;
    std::unique_ptr<HealthCheck> check;
  };
  struct Entry {
    config::Backend backend;
    std::unique_ptr<Resolver> resolver;
    std::vector<Member> members;
    bool resolved = false;
    std::string error;
  };

  void start_entry(Entry& entry);
  void on_resolved(Entry& entry, int status, const std::vector<sockaddr_storage>& addresses);
  void on_health_change(Server& server);
  void rebuild();

  uv_loop_t* loop_;
  config::Frontend frontend_;
  std::function<void()> on_available_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<ServerPtr> servers_;
  Policy policy_;
  bool started_ = false;
  bool stopped_ = false;
};

} // namespace hamba::balance
