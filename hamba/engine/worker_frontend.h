// One frontend on one worker loop: its listening socket (a copy of the one the main loop bound),
// the view of its configuration and pools it was last given, a picker per pool, and the queue
// of this worker's clients waiting for a server with room (per-server maxconn). It is the host
// its connections talk to (engine/connection_host.h).
//
// Owned by the Worker; connections hold it by shared_ptr, so a frontend removed by a
// reconfigure stops listening at once but stays valid for its connections until they end.
#pragma once

#include "balance/policy.h"
#include "base/intrusive_list.h"
#include "base/run_queue.h"
#include "engine/connection.h"
#include "engine/connection_host.h"
#include "engine/frontend.h"
#include "engine/header_wait.h"
#include "engine/tarpit.h"
#include "net/listener.h"

#include <memory>
#include <unordered_map>
#include <vector>

namespace hamba::engine {

class Worker;

class WorkerFrontend final : public ConnectionHost,
                             public std::enable_shared_from_this<WorkerFrontend> {
public:
  // Listens on `fd` (a copy of the frontend's socket; -1: not listening). Throws
  // net::ListenError.
  WorkerFrontend(Worker& worker, FrontendViewPtr view, std::shared_ptr<FrontendCounters> counters,
                 int fd);
  ~WorkerFrontend() override;
  WorkerFrontend(const WorkerFrontend&) = delete;
  WorkerFrontend& operator=(const WorkerFrontend&) = delete;

  // A new view (configuration, servers' states): new connections and queued clients follow it.
  void set_view(FrontendViewPtr view);
  const FrontendView& view() const { return *view_; }

  // Stops listening (shutdown, or the frontend was removed). Established connections go on.
  // With `serve_waiting`, the clients in the listener's accept queue are accepted first (beyond
  // the global maxconn: they are few, at most the backlog, and closing would reset them).
  void stop_listening(bool serve_waiting = true);
  // Removed by a reconfigure: also closes the clients still queued.
  void retire(bool serve_waiting = true);
  // Accepts the connections the listener holds while the worker may.
  void accept_pending();
  // Gives servers with room to queued clients, oldest first, at the loop's next turn; false
  // when none waits.
  bool serve_queue_soon();

  // --- ConnectionHost ---
  uv_loop_t* loop() override;
  const config::Frontend& config() const override { return view_->config; }
  const FrontendViewPtr& view_ptr() const override { return view_; }
  FrontendCounters& counters() override { return *counters_; }
  bool may_send_proxy() const override { return may_send_proxy_; }
  const sockaddr* local_address() const override {
    return has_local_ ? reinterpret_cast<const sockaddr*>(&local_) : nullptr;
  }
  HeaderWait& header_wait() override { return header_wait_; }
  std::shared_ptr<net::TlsSessionSlot> tls_session(const balance::ServerPtr& server) override;
  const std::function<void(const SessionEnd&)>* session_log() const override;
  bool shutting_down() const override;
  bool retired() const override { return retired_; }
  Choice choose(const FrontendView* routed, int route, const balance::Server* avoid,
                uint64_t client_hash) override;
  void enqueue(Connection& c, bool front) override;
  bool queue_first() override;
  void dequeue(Connection& c) override;
  void opened(Connection& c) override;
  void released() override;
  void closed(Connection& c) override;
  void set_deadline(Connection& c, uint64_t at_ms) override;
  void report(std::function<void(Engine&)> message) override;
  void note_local_error(int rc, const char* what) override;
  void note_tls_failure(net::TlsFailure why, const std::string& client, const char* text) override;
  void note_refusal(Refusal why, const sockaddr* source) override;
  bool hold_in_tarpit(int fd) override;
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
  // The pool for a connection routed by `routed` to `route`: the current view's pool of that
  // route when it still exists, else the one it was routed with.
  const balance::PoolSnapshot& pool(const FrontendView* routed, int route) const;
  void serve_queue();
  bool accept_one(bool beyond_limit);
  // The waiting connection is over a per-source limit: reset, or held (tarpit).
  void over_limit();
  // Gives `fd` to the tarpit (made at its first use): false, not taken, when it is full.
  bool hold_fd(int fd);

  Worker& worker_;
  FrontendViewPtr view_;
  std::shared_ptr<FrontendCounters> counters_;
  Pickers pickers_;
  std::unique_ptr<net::Listener> listener_;
  sockaddr_storage local_{};
  bool has_local_ = false;
  bool may_send_proxy_ = false;
  HeaderWait header_wait_;
  std::unique_ptr<Tarpit> tarpit_; // per_source action tarpit, made at its first use
  base::IntrusiveList<Connection, &Connection::queue_link> queue_;
  base::RunQueue::Task serve_task_{[](void* f) { static_cast<WorkerFrontend*>(f)->serve_queue(); },
                                   this};
  size_t queue_size_ = 0; // the list's length, kept: walking it would cost a cache miss a client
  bool retired_ = false;
  uint64_t local_errors_unlogged_ = 0; // local errors since the last line about them
  uint64_t local_error_logged_at_ = 0; // loop time (ms) of that line
  uint64_t other_accept_error_logged_at_ = 0;
  uint64_t tls_failures_unlogged_ = 0; // failed handshakes since the last line about them
  uint64_t tls_failure_logged_at_ = 0;
  // server_tls: each server's last session on this worker, for the next connect to resume. The
  // weak pointer tells a server gone (its entry is dropped) from a new one at its address.
  struct SessionEntry {
    std::weak_ptr<balance::Server> server;
    std::shared_ptr<net::TlsSessionSlot> slot;
  };
  std::unordered_map<const balance::Server*, SessionEntry> tls_sessions_;
};

} // namespace hamba::engine
