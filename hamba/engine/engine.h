// The engine: every frontend of one hamba process, on the main loop, and the worker loops that
// carry its connections (engine/worker.h).
//
//     engine::Engine engine(loop);
//     engine.set_threads(n);    // before the first apply
//     engine.apply(config);     // initial configuration, and every live reconfigure
//     uv_run(loop, UV_RUN_DEFAULT);
//
// The main loop owns the configuration, DNS, health checks and admin state; every change is
// published to the workers as an immutable view (engine/frontend.h) by message. apply() keeps
// the listeners whose bind address is unchanged, binds new ones first (so a bind error leaves
// the running configuration untouched) and retires removed ones; sessions keep their server,
// new connections follow the new configuration. Counters are read through frontends() (stats,
// /metrics); set_server_state() serves enable/disable/drain.
//
// The Engine itself runs on the main loop's thread only.
#pragma once

#include "base/mailbox.h"
#include "base/uv_handle.h"
#include "config/config.h"
#include "engine/frontend.h"
#include "engine/session_end.h"
#include "engine/worker.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hamba::engine {

class Engine {
public:
  explicit Engine(uv_loop_t* loop);
  ~Engine(); // stops and joins the workers
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Worker loops to run (at least 1). Takes effect at the first apply(); later calls are
  // ignored (a running hamba keeps its workers).
  void set_threads(int n);
  int threads() const { return static_cast<int>(workers_.empty() ? threads_ : workers_.size()); }

  // Validates and applies `config`. Throws config::ConfigError (invalid) or net::ListenError
  // (a new bind address cannot be used); either way the running configuration stays.
  void apply(const config::Config& config);
  // The configuration in use, with admin states changed by set_server_state().
  const config::Config& config() const { return config_; }
  const std::vector<std::shared_ptr<Frontend>>& frontends() const { return frontends_; }

  // enable / disable / drain: every server whose name or resolved address is `address`
  // ("HOST:PORT"), in every frontend. Returns how many matched (0: unknown address).
  int set_server_state(const std::string& address, config::ServerState state);
  // `hamba weight`: the same matching, routes' servers included; the configuration in use
  // (showconfig) follows.
  int set_server_weight(const std::string& address, int weight);

  // Graceful stop: stop accepting, give established sessions up to `grace` to end, close the
  // rest, then call `done` (once, from the loop). Health checks and DNS stop at once.
  void shutdown(config::Duration grace, std::function<void()> done);
  bool shutting_down() const { return shutting_down_; }
  // Closes every session now (a second SIGTERM during the grace).
  void close_sessions();

  size_t session_count() const {
    return static_cast<size_t>(shared_.sessions.load(std::memory_order_relaxed));
  }
  uv_loop_t* loop() const { return loop_; }
  // Each worker's connections (accepted since start, open now), for stats: how evenly the
  // kernel and the workers share the load.
  struct WorkerLoad {
    uint64_t accepted = 0;
    uint64_t current = 0;
  };
  std::vector<WorkerLoad> worker_loads() const;

  // Called by the worker as each session ends, when set (the per-connection log); unset costs
  // nothing. Runs on worker threads: it must be safe to call from several at once.
  void set_session_log(SessionLog log);

  // Descriptors kept back from sessions besides one per server (its health check in flight):
  // the connection each listener holds and its next one, DNS, admin and control clients. The
  // default global maxconn (app/limits.h) and the live accept gate (count_descriptors()) use the
  // same figure.
  static constexpr int64_t kDescriptorReserve = 16;

  // The global maxconn in force: the configuration's, or the default derived from the
  // file-descriptor limit (set_default_maxconn, by the caller that knows the limit; 256 until
  // then), lowered to what the descriptor limit can hold if that is less.
  int maxconn() const { return maxconn_; }
  void set_default_maxconn(int n) {
    default_maxconn_ = n;
    count_descriptors();
  }

  // --- reports from the workers (on the main loop) ---
  void worker_closed_listeners(); // shutting down: this worker accepts no more
  void worker_stopped(size_t index);

private:
  void start_workers();
  // Sends every worker the view of `frontend` (with a copy of its socket when it is new).
  void publish(Frontend& frontend, std::vector<int> fds = {});
  // A frontend's view changed (a check, DNS, a state): published on the next loop turn, so a
  // burst of changes costs one message per worker.
  void publish_due();
  void publish_changed();
  void sweep();
  // Re-reads the descriptor limit and the descriptors open that sessions do not hold, and
  // lowers maxconn_ to what the limit can hold (warning once per new value); the workers'
  // accept gate follows.
  void count_descriptors(bool warn = false);
  void post_all(const uvx::Mailbox<Worker>::Message& message);
  // Every backend of every frontend: its own servers' and each route's.
  void for_each_backend(const std::function<void(balance::Backend&)>& visit);
  // The one walk behind set_server_state() and set_server_weight(): `change` on every backend
  // (returns how many of its servers matched `address`), `note` on every configured server
  // named `address` in the running configuration; then the workers are told. Returns the
  // matches.
  int change_servers(const std::string& address,
                     const std::function<int(balance::Backend&)>& change,
                     const std::function<void(config::Server&)>& note);

  uv_loop_t* loop_;
  int threads_ = 1;
  Frontend::Accept accept_ = Frontend::Accept::reuseport;
  config::Config config_;
  std::vector<std::shared_ptr<Frontend>> frontends_;
  WorkerShared shared_;
  uvx::Mailbox<Engine> inbox_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<const SessionLog> session_log_;
  int default_maxconn_ = 256;
  int maxconn_ = 256;
  int64_t descriptor_limit_ = INT64_MAX;
  int64_t descriptors_other_ = 0; // open, not held by sessions (listeners, stdio, admin...)
  int64_t descriptor_reserve_ = kDescriptorReserve;
  int warned_maxconn_ = 0; // the lowered value last warned about
  uint64_t descriptors_counted_at_ = 0;
  std::map<uint64_t, FrontendViewPtr> published_; // by frontend id: the last view sent
  uvx::Timer publish_timer_;
  // The session-ticket keys every TLS frontend's views carry: made at start, kept across
  // reconfigures, rotated every net::kTicketKeyLifetime (a new view for each TLS frontend).
  std::shared_ptr<const net::TicketKeySet> ticket_keys_ = net::TicketKeySet::make();
  uvx::Timer ticket_timer_;
  void rotate_ticket_keys();
  bool publish_armed_ = false;
  uvx::Timer sweep_timer_; // descriptors: recounted every few seconds, more often near the limit
  bool shutting_down_ = false;
  size_t workers_stopped_ = 0;
  size_t workers_closed_ = 0;
  config::Duration grace_{0};
  std::function<void()> on_shutdown_done_;
};

} // namespace hamba::engine
