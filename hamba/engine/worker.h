// One worker: a thread running its own libuv loop, which owns every connection it accepts from
// the accept to the close (connections, their deadlines and buffers). The main loop
// (engine/engine.h) tells it what changed by message (its mailbox); it reports back the same way
// (a failed connect, a freed slot another worker may use, its shutdown done). Nothing it does
// per connection or per byte takes a lock.
//
// Its connections' deadlines are kept in a timing wheel (base/timer_wheel.h) of kTickMs ticks,
// whose one timer is set for the earliest tick anything waits for: the cost of timeouts follows
// what expires, not how many connections are open, and an idle worker sleeps. Work
// that a callback must not do inline (accept the next client, serve a queue) is posted to its
// run queue (base/run_queue.h) and runs at the loop's next turn.
#pragma once

#include "base/intrusive_list.h"
#include "base/mailbox.h"
#include "base/run_queue.h"
#include "base/timer_wheel.h"
#include "base/uv_handle.h"
#include "engine/connection.h"
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

namespace hamba::engine {

class Engine;
class Worker;
class WorkerFrontend;

// What the main loop and every worker share: counts exact across workers, and the way to reach
// each other. Set up before the threads start; the vectors are not changed after.
struct WorkerShared {
  std::atomic<int64_t> sessions{0};       // every worker's connections (the global maxconn)
  std::atomic<int64_t> accept_limit{256}; // the global maxconn, lowered to what fds hold
  std::vector<Worker*> workers;           // for pokes between workers
  uvx::Mailbox<Engine>* main = nullptr;   // reports to the main loop
};

using SessionLog = std::function<void(const SessionEnd&)>;

class Worker {
public:
  // Deadlines are kept to this grain: a timeout fires at most this late.
  static constexpr uint64_t kTickMs = 100;

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
  // any is destroyed: a worker that is still closing its connections hands freed slots to the
  // others, so they must outlive its thread.
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
  // Slots may be free (a connection ended on another worker, the limit was raised) or servers
  // may have room: accept what waits and serve the queues (at the next turn).
  void offer();
  // Graceful stop: stop accepting, give connections up to `grace`, close the rest, then report.
  void shutdown(config::Duration grace);
  void close_sessions();
  void set_session_log(std::shared_ptr<const SessionLog> log) { session_log_ = std::move(log); }

  // --- for frontends and connections (on the worker's thread) ---
  uv_loop_t* loop() { return &loop_; }
  size_t index() const { return index_; }
  bool shutting_down() const { return shutting_down_; }
  // Takes one of the global maxconn's slots, in one step (exact across workers); false at the
  // limit. give_back_slot() returns one taken for an accept that failed.
  bool take_slot();
  void give_back_slot() { shared_.sessions.fetch_sub(1, std::memory_order_relaxed); }
  // A slot beyond the limit: the few clients of a closing listener's accept queue.
  void take_slot_anyway() { shared_.sessions.fetch_add(1, std::memory_order_relaxed); }
  // A frontend had a client waiting and could not take it (the global limit): a connection that
  // ends anywhere wakes this worker.
  void paused() {
    paused_.store(true, std::memory_order_relaxed);
    wake_at(uv_now(&loop_) / kTickMs + 1);
  }
  const SessionLog* session_log() const { return session_log_ ? session_log_.get() : nullptr; }
  void opened(Connection& c);
  // The connection is closed: unlisted now, deleted after the current loop phase.
  void closed(Connection& c);
  void set_deadline(Connection& c, uint64_t at_ms);
  // Runs `task` at the loop's next turn (once, however often it is posted meanwhile).
  void post_local(base::RunQueue::Task& task) { runs_.post(task); }
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
  void tick();
  // The tick runs at `tick` (in kTickMs units of loop time) unless it is set sooner already.
  // It runs only while something waits for it (a deadline, a queue, a pause).
  void wake_at(uint64_t tick);
  void reap();
  void check_shutdown_done();
  void grace_over();

  WorkerShared& shared_;
  size_t index_;
  uv_loop_t loop_;
  std::thread thread_;
  uvx::Mailbox<Worker> inbox_;
  std::map<uint64_t, std::shared_ptr<WorkerFrontend>> frontends_;
  base::IntrusiveList<Connection, &Connection::worker_link> connections_;
  size_t connection_count_ = 0;
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
  base::TimerWheel wheel_;
  uvx::Timer tick_timer_;
  uint64_t armed_at_ = 0; // the tick the timer is set for; 0: not set
  bool in_tick_ = false;
  uvx::Timer grace_timer_;
  base::RunQueue runs_;
  base::RunQueue::Task offer_task_{[](void* w) { static_cast<Worker*>(w)->offer_slots(); }, this};
  // Deferred deletion: closed connections are deleted after the current loop phase, so no
  // callback of this round can see freed memory.
  std::vector<Connection*> graveyard_;
  base::RunQueue::Task reap_task_{[](void* w) { static_cast<Worker*>(w)->reap(); }, this};
  std::unique_ptr<net::PollSpin> poll_spin_; // fewer sleeps between rounds (net/poll_spin.h)
  bool shutting_down_ = false;
  bool shutdown_reported_ = false;
};

} // namespace hamba::engine
