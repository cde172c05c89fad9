// The engine: every frontend and every session of one hamba process, on one libuv loop.
//
//     engine::Engine engine(loop);
//     engine.apply(config);     // initial configuration, and every live reconfigure
//     uv_run(loop, UV_RUN_DEFAULT);
//
// apply() keeps the listeners whose bind address is unchanged, opens new ones first (so a
// bind error leaves the running configuration untouched) and closes removed ones; sessions
// keep their server, new connections follow the new configuration. Counters are read through
// frontends() (stats, /metrics); set_server_state() serves enable/disable/drain.
//
// Everything runs on the loop's thread; nothing here is thread-safe.
#pragma once

#include "base/uv_handle.h"
#include "config/config.h"
#include "engine/frontend.h"
#include "net/poll_spin.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hamba::net {
class Session;
}

namespace hamba::engine {

// One client connection as it ends, for the optional per-connection log.
struct SessionEnd {
  std::string frontend;
  std::string client;     // "127.0.0.1:40112"
  std::string server;     // the server as configured, "" when none was reached
  std::string address;    // the resolved address connected to, "" when none
  uint64_t bytes_in = 0;  // client -> server
  uint64_t bytes_out = 0; // server -> client
  uint64_t duration_ms = 0;
  const char* end = ""; // "closed", "client reset", "server reset", "idle timeout", ...
};

class Engine {
public:
  explicit Engine(uv_loop_t* loop);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and applies `config`. Throws config::ConfigError (invalid) or net::ListenError
  // (a new bind address cannot be used); either way the running configuration stays.
  void apply(const config::Config& config);
  // The configuration in use, with admin states changed by set_server_state().
  const config::Config& config() const { return config_; }
  const std::vector<std::shared_ptr<Frontend>>& frontends() const { return frontends_; }

  // enable / disable / drain: every server whose name or resolved address is `address`
  // ("HOST:PORT"), in every frontend. Returns how many matched (0: unknown address).
  int set_server_state(const std::string& address, config::ServerState state);
  // `hamba weight`: the same matching; the configuration in use (showconfig) follows.
  int set_server_weight(const std::string& address, int weight);

  // Graceful stop: stop accepting, give established sessions up to `grace` to end, close the
  // rest, then call `done` (once, from the loop). Health checks and DNS stop at once.
  void shutdown(config::Duration grace, std::function<void()> done);
  bool shutting_down() const { return shutting_down_; }

  size_t session_count() const { return session_count_; }
  uv_loop_t* loop() const { return loop_; }

  // Called as each session ends, when set (the per-connection log); unset costs nothing.
  std::function<void(const SessionEnd&)> on_session_end;

  // Descriptors kept back from sessions besides one per server (its health check in flight):
  // libuv's accept in hand and its next one, DNS, admin and control clients. The default global
  // maxconn (app/limits.h) and the live accept gate (count_descriptors()) use the same figure.
  static constexpr int64_t kDescriptorReserve = 16;

  // --- for frontends and sessions ---
  // Below maxconn (as lowered to what the descriptors hold), and with descriptors to spare for
  // one more session (see count_descriptors()).
  bool can_accept() const {
    return !shutting_down_ && session_count_ < static_cast<size_t>(maxconn_) &&
           descriptors_other_ + 2 * static_cast<int64_t>(session_count_ + 1) +
                   descriptor_reserve_ <=
               descriptor_limit_;
  }
  // The global maxconn in force: the configuration's, or the default derived from the
  // file-descriptor limit (set_default_maxconn, by the caller that knows the limit; 256 until
  // then), lowered to what the descriptor limit can hold if that is less.
  int maxconn() const { return maxconn_; }
  void set_default_maxconn(int n) {
    default_maxconn_ = n;
    count_descriptors();
  }
  void add_session(net::Session* session);
  // The session is finished and deletes itself after this returns.
  void remove_session(net::Session* session);

private:
  void sweep();
  // Re-reads the descriptor limit and the descriptors open that sessions do not hold, and
  // lowers maxconn_ to what the limit can hold (warning once per new value).
  void count_descriptors(bool warn = false);
  void offer_free_slots(); // clients waiting in the accept queues may come in
  void reap();
  void check_shutdown_done();
  void grace_over(); // closes the sessions still open
  void close_sessions();

  uv_loop_t* loop_;
  config::Config config_;
  std::vector<std::shared_ptr<Frontend>> frontends_;
  std::vector<std::shared_ptr<Frontend>> retired_; // removed; kept until their sessions end
  net::Session* sessions_ = nullptr;               // intrusive list of every live session
  size_t session_count_ = 0;
  int default_maxconn_ = 256;
  size_t accept_turn_ = 0; // the frontend offered the next free slot first (global maxconn)
  // Descriptors. libuv accepts a connection before hamba is asked, and when that accept fails
  // for want of a descriptor it accepts and closes every waiting client (its "EMFILE trick").
  // So hamba stops accepting (the maxconn path: the listener is not read, clients wait in the
  // kernel's queue) while one more session (2 descriptors) would leave less than the reserve:
  // libuv's accept in hand, its next accept, health checks, DNS, admin and control clients.
  int maxconn_ = 256;
  int64_t descriptor_limit_ = INT64_MAX;
  int64_t descriptors_other_ = 0; // open, not held by sessions (listeners, stdio, admin...)
  int64_t descriptor_reserve_ = kDescriptorReserve;
  int warned_maxconn_ = 0; // the lowered value last warned about
  uint64_t descriptors_counted_at_ = 0;
  uvx::Timer sweep_timer_; // timeouts: connect, queue, idle
  uvx::Timer grace_timer_;
  // Deferred deletion: finished sessions are deleted after the current loop phase, so no
  // callback of this round can see freed memory.
  std::vector<net::Session*> graveyard_;
  uvx::Handle<uv_check_t> reaper_;
  net::PollSpin poll_spin_{loop_}; // fewer sleeps between rounds (net/poll_spin.h)
  bool shutting_down_ = false;
  std::function<void()> on_shutdown_done_;
};

} // namespace hamba::engine
