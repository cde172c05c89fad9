// One frontend as the main loop keeps it: its configuration, the backend (pool of servers) its
// connections are balanced over and its routes' backends, its counters, and the view of all
// that the worker loops are given (FrontendView, immutable).
//
// The listening socket is bound here, so that a bind error refuses a reconfigure before
// anything changes; each worker then listens on a duplicate of it (engine/worker_frontend.h)
// and the main loop keeps none.
#pragma once

#include "balance/backend.h"
#include "balance/server.h"
#include "config/config.h"
#include "engine/admission.h"
#include "engine/source_table.h"
#include "net/tls_context.h"
#include "net/tls_ticket_keys.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace hamba::engine {

class Engine;
using balance::Count;

// Counted by every worker into the one object (relaxed atomics), read by stats.
struct FrontendCounters {
  Count current = 0;   // sessions now (queued, connecting or relaying)
  Count total = 0;     // sessions accepted
  Count bytes_in = 0;  // client -> server
  Count bytes_out = 0; // server -> client
  Count queued = 0;    // clients waiting for a server with room, now (every worker's queue)
  Count failed = 0;    // clients closed because no server could be reached
  Count timeouts = 0;  // sessions closed by the idle or queue timeout
  Count abandoned = 0; // queued clients that left before a server had room
  // Accepts that failed, by reason: hamba out of descriptors (emfile, enfile), of memory
  // (enobufs, enomem), or another error (other): indexed by local_error_index().
  Count accept_errors[5] = {0, 0, 0, 0, 0};
  // accept_proxy: clients closed for a missing, malformed, oversized or late PROXY header.
  Count proxy_header_errors = 0;
  // routes: clients closed for a first byte that is not TLS, a malformed or late ClientHello.
  Count client_hello_errors = 0;
  // tls: handshakes that failed, by reason (net::TlsFailure, none excluded: version, cipher,
  // certificate, protocol, timeout, closed).
  Count tls_handshake_errors[6] = {0, 0, 0, 0, 0, 0};
  // tls: connections reset for a client record that did not authenticate or was malformed.
  Count tls_record_errors = 0;
  // Clients refused by the allow and deny lists, accept_proxy from or per_source limits,
  // indexed by Refusal (engine/admission.h).
  Count refused[kRefusalReasons] = {0, 0, 0, 0, 0};
};

// One route of a frontend: TLS connections whose server name matches go to its own backend.
struct Route {
  Route(uv_loop_t* loop, const config::Frontend& frontend, const config::Route& route,
        balance::Backend::OnAvailable on_available);
  config::Route config;
  balance::Backend backend;
};

// What a worker needs of a frontend, published whole by the main loop after every change and
// never modified after.
struct FrontendView {
  struct RouteView {
    config::Route config;
    balance::PoolSnapshotPtr pool;
    // Toward its servers: its own server_tls, else the frontend's (nullptr: plain TCP).
    std::shared_ptr<const net::TlsClientContext> server_tls;
  };
  config::Frontend config;
  // tls: the certificates new connections are given (a reconfigure loads them again; open
  // connections keep the ones they started with).
  std::shared_ptr<const net::TlsServerContext> tls;
  std::shared_ptr<const net::TlsClientContext> server_tls; // server_tls: toward the servers
  // tls: the session-ticket keys of the moment (the process's; rotated on the main loop, which
  // then publishes a new view).
  std::shared_ptr<const net::TicketKeySet> ticket_keys;
  balance::PoolSnapshotPtr pool; // the frontend's own servers (the default route)
  std::vector<RouteView> routes;
  // The refusals' log lines, one per source per 10 s (the frontend's, across its views).
  std::shared_ptr<RefusalLog> refusal_log;
  // per_source: the table of sources every worker counts in (nullptr: no per-source limit).
  std::shared_ptr<SourceTable> sources;
  // The route for a TLS server name ("" when the ClientHello had none): an exact name first,
  // then a wildcard; -1 means the default route.
  int route_for(std::string_view server_name) const;
};
using FrontendViewPtr = std::shared_ptr<const FrontendView>;

// The frontend's configuration as a route's backend sees it: the route's servers in place of
// the frontend's own (checks, timeouts and balance are the frontend's).
config::Frontend backend_view(const config::Frontend& frontend, const config::Route& route);

// The TLS context of a frontend with tls (nullptr without). Throws config::ConfigError naming the
// frontend and the bad file.
std::shared_ptr<const net::TlsServerContext> build_tls(const config::Frontend& frontend);
// The same for server_tls.
std::shared_ptr<const net::TlsClientContext> build_server_tls(const config::Frontend& frontend);
// One per route: its own server_tls's context, nullptr for a route that has none.
std::vector<std::shared_ptr<const net::TlsClientContext>>
build_route_server_tls(const config::Frontend& frontend);
struct TlsContexts {
  std::shared_ptr<const net::TlsServerContext> clients;
  std::shared_ptr<const net::TlsClientContext> servers;
  std::shared_ptr<const net::TicketKeySet> ticket_keys; // the process's (Engine)
  // One per route of the configuration, in its order: a route's own server_tls (nullptr: the
  // frontend's, `servers`).
  std::vector<std::shared_ptr<const net::TlsClientContext>> routes;
};

// "0.0.0.0:80 (roundrobin): rng1:80, rng2:80", for logs ("*:80" for every address).
std::string describe(const config::Frontend& frontend);

class Frontend : public std::enable_shared_from_this<Frontend> {
public:
  // `on_change` runs on the main loop when the view changed (a server's state, the servers),
  // with how soon the workers must see it.
  Frontend(uv_loop_t* loop, const config::Frontend& config,
           balance::Backend::OnAvailable on_change);
  ~Frontend();
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;

  // How the workers share the frontend's address (engine/workers.md has the measurements).
  enum class Accept {
    reuseport, // one socket per worker (SO_REUSEPORT): the kernel spreads connections
    shared,    // one socket every worker watches: the first awake takes what waits
  };
  // Binds the listening socket(s) and returns `copies` descriptors, one per worker (throws
  // net::ListenError); then starts resolving and checking.
  std::vector<int> start(size_t copies, Accept accept = Accept::reuseport);
  // A new configuration with the same bind address.
  void update(const config::Frontend& config);
  // The TLS context built for the configuration (Engine::apply builds it first, so that a bad
  // certificate refuses the whole configuration); nullptr without tls.
  void set_tls(TlsContexts tls);
  // The process's ticket keys, rotated: in the next view.
  void set_ticket_keys(std::shared_ptr<const net::TicketKeySet> keys);
  bool has_tls() const { return tls_.clients != nullptr; }
  // Removed or shutting down: checks and resolution stop.
  void retire();

  // Stable for the frontend's life: how workers name it in messages.
  uint64_t id() const { return id_; }
  const config::Frontend& config() const { return config_; }
  const FrontendCounters& counters() const { return *counters_; }
  const std::shared_ptr<FrontendCounters>& shared_counters() const { return counters_; }
  // The backend of the frontend's own servers (the default route).
  const balance::Backend& backend() const { return backend_; }
  balance::Backend& backend() { return backend_; }
  const std::vector<std::shared_ptr<Route>>& routes() const { return routes_; }
  // per_source's table (nullptr when it is off), for stats.
  const std::shared_ptr<SourceTable>& sources() const { return sources_; }
  // The view for the workers, as things are now (the same object until something changes).
  FrontendViewPtr view();

private:
  void changed(balance::Urgency urgency = balance::Urgency::batched);
  // Route i's context toward its servers: its own, else the frontend's.
  std::shared_ptr<const net::TlsClientContext> route_server_tls(size_t i) const;
  // Makes, keeps or drops the per-source table for config_.per_source.
  void update_sources();

  uv_loop_t* loop_;
  uint64_t id_;
  config::Frontend config_;
  balance::Backend::OnAvailable on_change_;
  balance::Backend backend_;
  std::vector<std::shared_ptr<Route>> routes_;
  std::shared_ptr<FrontendCounters> counters_ = std::make_shared<FrontendCounters>();
  TlsContexts tls_;
  std::shared_ptr<RefusalLog> refusal_log_ = std::make_shared<RefusalLog>();
  std::shared_ptr<SourceTable> sources_;
  FrontendViewPtr view_;
};

} // namespace hamba::engine
