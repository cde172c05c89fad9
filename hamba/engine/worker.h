// One worker: a thread running its own libuv loop, which owns every connection it accepts from
// the accept to the close (sessions, their timers and buffers). The main loop (engine/engine.h)
// tells it what changed by message (its mailbox); it reports back the same way (a failed
// connect, a freed slot another worker may use, its shutdown done). Nothing it does per
// connection or per byte takes a lock.
#pragma once

#include "base/mailbox.h"
#include "base/uv_handle.h"
#include "engine/frontend.h"
#include "engine/session_end.h"
#include "net/poll_spin.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace hamba::net {
class Session;
}

namespace hamba::engine {

class Engine;
class Worker;
class WorkerFrontend;

// What the main loop and every worker share: counts exact across workers, and the way to reach
// each other. Set up before the threads start; the vectors are not changed after.
struct WorkerShared {
  std::atomic<int64_t> sessions{0};       // every worker's
  std::atomic<int64_t> accept_limit{256}; // the global maxconn, lowered to what fds hold
  std::vector<Worker*> workers;           // for pokes between workers
  uvx::Mailbox<Engine>* main = nullptr;   // reports to the main loop
};

using SessionLog = std::function<void(const SessionEnd&)>;

class Worker {
public:
  Worker(WorkerShared& shared, size_t index);
  ~Worker(); // joins the thread (stop() first)
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start_thread();
  // From the main loop. Messages run on the worker's loop, in order.
  void post(uvx::Mailbox<Worker>::Message message) { inbox_.post(std::move(message)); }
  // From the main loop: closes everything and ends the thread's loop; then join().
  void stop();
  // From the main loop: waits until the thread's loop has ended. Every worker is joined before
  // any is destroyed: a worker that is still closing its sessions hands freed slots to the
  // others (remove_session), so they must outlive its thread.
  void join();

  // --- messages (on the worker's thread) ---
  // From the main loop: the newest view of a frontend this worker runs. Every connection the
  // worker accepts after this returns follows it, even if its message is still in the queue:
  // a `hamba drain` that has answered must not see one more connection go to that server.
  void offer_view(uint64_t id, FrontendViewPtr view);
  // On the worker: takes the views offered since the last look (one atomic load when none).
  void apply_offered_views();
  // A frontend's new view; `fd` (a copy of its listening socket) when it is new to this worker.
  void set_frontend(uint64_t id, FrontendViewPtr view, std::shared_ptr<FrontendCounters> counters,
                    int fd);
  void retire_frontend(uint64_t id, bool serve_waiting);
  // Slots may be free (a session ended on another worker, the limit was raised) or servers may
  // have room: accept what waits and serve the queues.
  void offer();
  // Graceful stop: stop accepting, give sessions up to `grace`, close the rest, then report.
  void shutdown(config::Duration grace);
  void close_sessions();
  void set_session_log(std::shared_ptr<const SessionLog> log) { session_log_ = std::move(log); }

  // --- for frontends and sessions (on the worker's thread) ---
  uv_loop_t* loop() { return &loop_; }
  size_t index() const { return index_; }
  bool shutting_down() const { return shutting_down_; }
  bool can_accept() const {
    return !shutting_down_ && shared_.sessions.load(std::memory_order_relaxed) <
                                  shared_.accept_limit.load(std::memory_order_relaxed);
  }
  // A frontend had a client waiting and could not take it (the global limit): a session that
  // ends anywhere wakes this worker.
  void paused() { paused_.store(true, std::memory_order_relaxed); }
  const SessionLog* session_log() const { return session_log_ ? session_log_.get() : nullptr; }
  void add_session(net::Session* session);
  // The session is finished and deletes itself after this returns.
  void remove_session(net::Session* session);
  // A server slot was freed and other workers have clients queued for this frontend.
  void poke_others();
  // Connections this worker accepted, and holds now: written by the worker alone, read by stats.
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t current() const { return current_.load(std::memory_order_relaxed); }
  // Runs `message` on the main loop.
  void report(std::function<void(Engine&)> message) { shared_.main->post(std::move(message)); }

private:
  void run();
  void offer_slots(); // clients waiting in the accept queues may come in
  void sweep();
  void reap();
  void check_shutdown_done();
  void grace_over();

  WorkerShared& shared_;
  size_t index_;
  uv_loop_t loop_;
  std::thread thread_;
  uvx::Mailbox<Worker> inbox_;
  std::map<uint64_t, std::shared_ptr<WorkerFrontend>> frontends_;
  net::Session* sessions_ = nullptr; // intrusive list of this worker's sessions
  size_t session_count_ = 0;
  std::atomic<bool> paused_{false};
  std::mutex offered_mutex_; // taken once per offer and per look that finds one
  std::map<uint64_t, FrontendViewPtr> offered_;
  std::atomic<uint64_t> offers_{0};
  uint64_t offers_seen_ = 0;
  std::map<uint64_t, FrontendViewPtr> newest_; // by frontend id: the newest view offered
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> current_{0};
  size_t accept_turn_ = 0; // the frontend offered the next free slot first (global maxconn)
  std::shared_ptr<const SessionLog> session_log_;
  uvx::Timer sweep_timer_; // timeouts: connect, queue, idle
  uvx::Timer grace_timer_;
  // Deferred deletion: finished sessions are deleted after the current loop phase, so no
  // callback of this round can see freed memory.
  std::vector<net::Session*> graveyard_;
  uvx::Handle<uv_check_t> reaper_;
  std::unique_ptr<net::PollSpin> poll_spin_; // fewer sleeps between rounds (net/poll_spin.h)
  bool shutting_down_ = false;
  bool shutdown_reported_ = false;
};

} // namespace hamba::engine
