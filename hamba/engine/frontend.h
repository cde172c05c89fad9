// One frontend: a listening socket, the backend (pool of servers) its connections are balanced
// over, the queue of clients waiting for a server with room (per-server maxconn), and its counters.
//
// Owned by the Engine; sessions hold it by shared_ptr, so a frontend removed by a reconfigure
// stops listening at once but stays valid for its sessions until they end.
#pragma once

#include "balance/backend.h"
#include "config/config.h"
#include "net/listener.h"

#include <deque>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace hamba::net {
class Session;
}

namespace hamba::engine {

class Engine;

struct FrontendCounters {
  uint64_t current = 0;   // sessions now (queued, connecting or relaying)
  uint64_t total = 0;     // sessions accepted
  uint64_t bytes_in = 0;  // client -> server
  uint64_t bytes_out = 0; // server -> client
  uint64_t queued = 0;    // clients waiting for a server with room, now
  uint64_t failed = 0;    // clients closed because no server could be reached
  uint64_t timeouts = 0;  // sessions closed by the idle or queue timeout
  uint64_t abandoned = 0; // queued clients that left before a server had room
  // Accepts that failed, by reason: hamba out of descriptors (emfile, enfile), of memory
  // (enobufs, enomem), or another error (other): indexed by local_error_index().
  uint64_t accept_errors[5] = {0, 0, 0, 0, 0};
  // accept_proxy: clients closed for a missing, malformed, oversized or late PROXY header.
  uint64_t proxy_header_errors = 0;
  // routes: clients closed for a first byte that is not TLS, a malformed or late ClientHello.
  uint64_t client_hello_errors = 0;
};

// One route of a frontend: TLS connections whose server name matches go to its own backend.
// Sessions hold it by shared_ptr, so a route removed by a reconfigure stays valid for them.
struct Route {
  Route(uv_loop_t* loop, const config::Frontend& frontend, const config::Route& route,
        std::function<void()> on_available);
  config::Route config;
  balance::Backend backend;
};

// The frontend's configuration as a route's backend sees it: the route's servers in place of
// the frontend's own (checks, timeouts and balance are the frontend's).
config::Frontend backend_view(const config::Frontend& frontend, const config::Route& route);

// "0.0.0.0:80 (roundrobin): rng1:80, rng2:80", for logs ("*:80" for every address).
std::string describe(const config::Frontend& frontend);

class Frontend : public std::enable_shared_from_this<Frontend> {
public:
  Frontend(Engine& engine, const config::Frontend& config);
  ~Frontend();
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;

  // Binds the listening socket (throws net::ListenError) and starts resolving and checking.
  void start();
  // A new configuration with the same bind address.
  void update(const config::Frontend& config);
  // Stops listening (shutdown, or the frontend was removed). Established sessions go on.
  // With `serve_waiting`, the clients in the listener's accept queue are accepted first (beyond
  // the global maxconn: they are few, at most the backlog, and closing would reset them).
  void stop_listening(bool serve_waiting = true);
  // Removed by a reconfigure: also stops checks and closes the clients still queued.
  void retire(bool serve_waiting = true);

  const config::Frontend& config() const { return config_; }
  const FrontendCounters& counters() const { return counters_; }
  // The backend of the frontend's own servers (the default route).
  const balance::Backend& backend() const { return backend_; }
  balance::Backend& backend() { return backend_; }
  const std::vector<std::shared_ptr<Route>>& routes() const { return routes_; }
  // The route for a TLS server name ("" when the ClientHello had none): an exact name first,
  // then a wildcard; nullptr means the default route.
  std::shared_ptr<Route> route_for(std::string_view server_name) const;

  // --- for the engine and its sessions ---
  Engine& engine() { return engine_; }
  FrontendCounters& mutable_counters() { return counters_; }
  // Accepts the connection the listener holds, if any and the engine is below maxconn.
  void accept_pending();
  // Queues a session for a server with room: at the back, or at the head for one that had its
  // turn already and lost it to hamba's own shortage of descriptors.
  void enqueue(net::Session* session, bool front = false);
  void dequeue(net::Session* session);
  // Gives servers with room to queued clients, oldest first (each from its own route's
  // backend).
  void serve_queue();
  // Closes the queued clients that have gone away (EOF or reset while they waited), so none
  // takes a server's slot; returns how many. Called by the engine's sweep.
  size_t drop_abandoned();
  // hamba ran short of descriptors or memory (`rc`, a libuv error) while doing `what`: logged
  // at most once a second, with the count since the last line; never blamed on a server.
  void note_local_error(int rc, const char* what);
  // An accept failed with `rc`: counted by reason, and logged as note_local_error does.
  void note_accept_error(int rc);

private:
  Engine& engine_;
  config::Frontend config_;
  balance::Backend backend_;
  std::vector<std::shared_ptr<Route>> routes_;
  std::unique_ptr<net::Listener> listener_;
  std::deque<net::Session*> queue_;
  bool serving_queue_ = false;
  FrontendCounters counters_;
  uint64_t local_errors_unlogged_ = 0; // local errors since the last line about them
  uint64_t local_error_logged_at_ = 0; // loop time (ms) of that line
  uint64_t other_accept_error_logged_at_ = 0;
};

} // namespace hamba::engine
