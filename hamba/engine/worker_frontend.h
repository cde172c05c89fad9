// One frontend on one worker loop: its listening socket (a copy of the one the main loop bound),
// the view of its configuration and pools it was last given, a picker per pool, and the queue
// of this worker's clients waiting for a server with room (per-server maxconn).
//
// Owned by the Worker; sessions hold it by shared_ptr, so a frontend removed by a reconfigure
// stops listening at once but stays valid for its sessions until they end.
#pragma once

#include "balance/policy.h"
#include "engine/frontend.h"
#include "engine/header_wait.h"
#include "net/listener.h"

#include <deque>
#include <memory>
#include <vector>

namespace hamba::net {
class Session;
}

namespace hamba::engine {

class Worker;

class WorkerFrontend : public std::enable_shared_from_this<WorkerFrontend> {
public:
  // Listens on `fd` (a copy of the frontend's socket; -1: not listening). Throws
  // net::ListenError.
  WorkerFrontend(Worker& worker, FrontendViewPtr view, std::shared_ptr<FrontendCounters> counters,
                 int fd);
  ~WorkerFrontend();
  WorkerFrontend(const WorkerFrontend&) = delete;
  WorkerFrontend& operator=(const WorkerFrontend&) = delete;

  // A new view (configuration, servers' states): new connections and queued clients follow it.
  void set_view(FrontendViewPtr view);
  const FrontendView& view() const { return *view_; }
  const FrontendViewPtr& view_ptr() const { return view_; }
  const config::Frontend& config() const { return view_->config; }
  FrontendCounters& counters() { return *counters_; }
  Worker& worker() { return worker_; }
  // Every accepted client's local address when the listener is bound to one address, else
  // nullptr (net::Listener::local_address); kept after the listener closes, for its sessions.
  const sockaddr* local_address() const {
    return has_local_ ? reinterpret_cast<const sockaddr*>(&local_) : nullptr;
  }
  // The frontend's servers or one of its routes' are sent a PROXY header (send_proxy).
  bool may_send_proxy() const { return may_send_proxy_; }
  // How long a send_proxy header waits for the client's first bytes (engine/header_wait.h).
  HeaderWait& header_wait() { return header_wait_; }
  // Every client's first bytes are read before a server is chosen: a PROXY header
  // (accept_proxy) or a TLS ClientHello (routes).
  bool client_speaks_first() const { return config().accept_proxy || !config().routes.empty(); }

  // Stops listening (shutdown, or the frontend was removed). Established sessions go on.
  // With `serve_waiting`, the clients in the listener's accept queue are accepted first (beyond
  // the global maxconn: they are few, at most the backlog, and closing would reset them).
  void stop_listening(bool serve_waiting = true);
  // Removed by a reconfigure: also closes the clients still queued.
  void retire(bool serve_waiting = true);

  // The pool for a session routed by `routed` (the view its ClientHello was matched in) to
  // route `route` (-1: the default): the current view's pool of that route when it still
  // exists, else the one it was routed with.
  const balance::PoolSnapshot& pool(const FrontendView* routed, int route) const;
  // The next server for a new session with its slot taken, or nullptr (queue it).
  const balance::PoolSnapshot::Entry* pick(const FrontendView* routed, int route,
                                           const balance::Server* avoid, uint64_t client_hash);

  // Accepts the connections the listener holds while the worker may.
  void accept_pending();
  // Queues a session for a server with room: at the back, or at the head for one that had its
  // turn already and lost it to hamba's own shortage of descriptors.
  void enqueue(net::Session* session, bool front = false);
  void dequeue(net::Session* session);
  bool has_queue() const { return !queue_.empty(); }
  // Gives servers with room to queued clients, oldest first (each from its own route's pool).
  void serve_queue();
  // Closes the queued clients that have gone away (EOF or reset while they waited), so none
  // takes a server's slot; returns how many. Called by the worker's sweep.
  size_t drop_abandoned();
  // hamba ran short of descriptors or memory (`rc`, a libuv error) while doing `what`: logged
  // at most once a second per worker, with the count since the last line; never blamed on a
  // server.
  void note_local_error(int rc, const char* what);
  // An accept failed with `rc`: counted by reason, and logged as note_local_error does.
  void note_accept_error(int rc);

private:
  struct Pickers {
    balance::Picker own;
    std::vector<balance::Picker> routes;
  };
  balance::Picker& picker(int route);
  // The index in the current view of route `route` of `routed` (matched by name), or -1: the
  // default route, or a route the current view no longer has.
  int current_route(const FrontendView* routed, int route) const;

  Worker& worker_;
  FrontendViewPtr view_;
  std::shared_ptr<FrontendCounters> counters_;
  Pickers pickers_;
  std::unique_ptr<net::Listener> listener_;
  sockaddr_storage local_{};
  bool has_local_ = false;
  bool may_send_proxy_ = false;
  HeaderWait header_wait_;
  std::deque<net::Session*> queue_;
  bool serving_queue_ = false;
  uint64_t local_errors_unlogged_ = 0; // local errors since the last line about them
  uint64_t local_error_logged_at_ = 0; // loop time (ms) of that line
  uint64_t other_accept_error_logged_at_ = 0;
};

} // namespace hamba::engine
