// A worker thread's loop, connections and deadlines; see worker.h.
#include "engine/worker.h"

#include "base/check.h"
#include "base/log.h"
#include "engine/engine.h"
#include "engine/worker_frontend.h"

#include <unistd.h>

namespace hamba::engine {

Worker::Worker(WorkerShared& shared, size_t index) : shared_(shared), index_(index) {
  uvx::check(uv_loop_init(&loop_), "uv_loop_init");
  inbox_.init(&loop_, this);
  wheel_.start_at(uv_now(&loop_) / kTickMs);
  tick_timer_.init(&loop_, this);
  runs_.init(&loop_);
  poll_spin_ = std::make_unique<net::PollSpin>(&loop_);
}

Worker::~Worker() {
  join();
  // Close callbacks of what was closed before the thread started or after it ended.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void Worker::join() {
  if (thread_.joinable())
    thread_.join();
}

void Worker::start_thread() {
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void Worker::stop() {
  post([](Worker& w) {
    w.shutting_down_ = true;
    for (auto& [id, f] : w.frontends_)
      f->retire(false);
    w.frontends_.clear();
    w.close_sessions();
    w.reap();
    w.tick_timer_.close();
    w.grace_timer_.close();
    w.runs_.close();
    w.poll_spin_.reset();
    w.inbox_.close(); // the last handle: the loop ends once the close callbacks ran
  });
}

void Worker::offer_view(uint64_t id, FrontendViewPtr view) {
  {
    std::lock_guard lock(offered_mutex_);
    offered_[id] = std::move(view);
  }
  offers_.fetch_add(1, std::memory_order_release);
}

void Worker::apply_offered_views() {
  uint64_t offers = offers_.load(std::memory_order_acquire);
  if (offers == offers_seen_)
    return;
  offers_seen_ = offers;
  std::map<uint64_t, FrontendViewPtr> taken;
  {
    std::lock_guard lock(offered_mutex_);
    taken.swap(offered_);
  }
  for (auto& [id, view] : taken) {
    auto it = frontends_.find(id);
    if (it != frontends_.end())
      it->second->set_view(view);
    newest_[id] = std::move(view); // a frontend whose own message is still queued takes it then
  }
}

void Worker::set_frontend(uint64_t id, FrontendViewPtr view,
                          std::shared_ptr<FrontendCounters> counters, int fd) {
  apply_offered_views();
  if (auto newer = newest_.find(id); newer != newest_.end())
    view = newer->second; // offered after this message was sent: the newest
  auto it = frontends_.find(id);
  if (it != frontends_.end()) {
    if (fd >= 0)
      ::close(fd);
    it->second->set_view(std::move(view));
    it->second->serve_queue_soon(); // servers may have room now
    return;
  }
  if (shutting_down_) {
    if (fd >= 0)
      ::close(fd);
    return;
  }
  try {
    frontends_[id] =
        std::make_shared<WorkerFrontend>(*this, std::move(view), std::move(counters), fd);
  } catch (const std::exception& e) {
    log::error("worker {}: {}", index_, e.what());
    return;
  }
  frontends_[id]->accept_pending();
}

void Worker::retire_frontend(uint64_t id, bool serve_waiting) {
  newest_.erase(id);
  auto it = frontends_.find(id);
  if (it == frontends_.end())
    return;
  std::shared_ptr<WorkerFrontend> f = std::move(it->second); // connections keep it alive
  frontends_.erase(it);
  f->retire(serve_waiting);
}

void Worker::offer() {
  for (auto& [id, f] : frontends_)
    f->serve_queue_soon();
  offer_slots();
}

void Worker::offer_slots() {
  // The frontends are offered free slots in turn: always starting with the first one would
  // give a busy first frontend every slot while the others' clients wait (global maxconn
  // reached = each listener holds one waiting).
  // Every frontend is looked at even when no slot is left: one holding a client marks the
  // worker paused again, so the next freed slot anywhere comes back here.
  paused_.store(false, std::memory_order_relaxed);
  if (frontends_.empty() || shutting_down_)
    return;
  size_t n = frontends_.size(), first = accept_turn_++ % n;
  auto it = frontends_.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(first));
  for (size_t k = 0; k < n; ++k) {
    it->second->accept_pending();
    if (++it == frontends_.end())
      it = frontends_.begin();
  }
}

void Worker::close_sessions() {
  // Closing unlists a connection: take them one by one from the front.
  while (Connection* c = connections_.front())
    c->close();
}

bool Worker::take_slot() {
  if (shutting_down_)
    return false;
  const int64_t limit = shared_.accept_limit.load(std::memory_order_relaxed);
  if (shared_.sessions.fetch_add(1, std::memory_order_relaxed) < limit)
    return true;
  shared_.sessions.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void Worker::opened(Connection& c) {
  connections_.push_back(c);
  ++connection_count_;
  // One writer: a plain load and store, no lock prefix.
  accepted_.store(accepted_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  current_.store(connection_count_, std::memory_order_relaxed);
}

void Worker::closed(Connection& c) {
  HAMBA_CHECK(c.worker_link.linked());
  c.worker_link.unlink();
  HAMBA_DCHECK(connection_count_ > 0);
  --connection_count_;
  shared_.sessions.fetch_sub(1, std::memory_order_relaxed);
  current_.store(connection_count_, std::memory_order_relaxed);
  graveyard_.push_back(&c);
  runs_.post(reap_task_);
  // A slot is free: clients waiting in an accept queue may come in. Each worker has its own
  // queue (its SO_REUSEPORT socket), so at the global limit the slot goes to the next worker
  // that stopped accepting, in ring order from this one: a worker whose connections end often
  // must not serve its own queue while another's clients wait for ever. This worker's own
  // accept runs at the next turn, never inside the callback that closed `c`.
  size_t n = shared_.workers.size();
  bool handed = false;
  for (size_t k = 1; k < n && !handed; ++k) {
    Worker* w = shared_.workers[(index_ + k) % n];
    // A load first: an exchange would take the other worker's cache line on every close.
    if (w->paused_.load(std::memory_order_relaxed) &&
        w->paused_.exchange(false, std::memory_order_relaxed)) {
      w->post([](Worker& other) { other.offer(); });
      handed = true;
    }
  }
  if (!handed && !shutting_down_)
    runs_.post(offer_task_);
  check_shutdown_done();
}

void Worker::set_deadline(Connection& c, uint64_t at_ms) {
  if (!armed_at_ && !in_tick_ && wheel_.empty()) // nothing waited: the clock catches up
    wheel_.start_at(uv_now(&loop_) / kTickMs);
  const uint64_t tick = (at_ms + kTickMs - 1) / kTickMs;
  wheel_.schedule(c, tick);
  wake_at(tick);
}

void Worker::wake_at(uint64_t tick) {
  // One timer for the whole wheel, set for the earliest tick anything waits for: an idle worker
  // sleeps, and one whose connections all wait 50 s wakes once, not every tick meanwhile.
  if (in_tick_ || !tick_timer_ || (armed_at_ && armed_at_ <= tick))
    return; // (the running tick sets the timer when it ends)
  armed_at_ = tick;
  const uint64_t now = uv_now(&loop_), at = tick * kTickMs;
  tick_timer_.start<&Worker::tick>(at > now ? at - now : 0);
}

void Worker::poke_others() {
  for (Worker* w : shared_.workers)
    if (w != this)
      w->post([](Worker& other) { other.offer(); });
}

void Worker::reap() {
  std::vector<Connection*> dead;
  dead.swap(graveyard_);
  for (Connection* c : dead)
    delete c;
}

void Worker::tick() {
  armed_at_ = 0;
  in_tick_ = true;
  const uint64_t now = uv_now(&loop_);
  // Only the connections whose deadline tick has come are looked at; each checks its own state's
  // deadline again before it acts (a connection queued then connected has a new one).
  wheel_.advance(now / kTickMs, [now](base::TimerWheel::Entry& e) {
    static_cast<Connection&>(e).on_deadline(now);
  });
  // Queues are served again each tick: a client put back for hamba's own shortage (no
  // descriptor, no local port) tries again even when no connection ends meanwhile.
  bool queues = false;
  for (auto& [id, f] : frontends_)
    queues |= f->serve_queue_soon();
  // A wakeup may have crossed the pause (a slot freed between the look and the pause): look
  // again.
  if (paused_.load(std::memory_order_relaxed) &&
      shared_.sessions.load(std::memory_order_relaxed) <
          shared_.accept_limit.load(std::memory_order_relaxed))
    offer();
  in_tick_ = false;
  // Queues and a pause are looked at every tick; otherwise the next deadline sets the time.
  if (queues || paused_.load(std::memory_order_relaxed))
    wake_at(now / kTickMs + 1);
  else if (uint64_t next = wheel_.next_busy_tick())
    wake_at(next);
}

void Worker::shutdown(config::Duration grace) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  for (auto& [id, f] : frontends_)
    f->retire(); // serves the clients in the accept queue; closes those waiting for a server
  frontends_.clear();
  report([](Engine& e) { e.worker_closed_listeners(); });
  if (connection_count_ > 0) {
    grace_timer_.init(&loop_, this);
    grace_timer_.start<&Worker::grace_over>(static_cast<uint64_t>(grace.count()));
  }
  check_shutdown_done();
}

void Worker::grace_over() {
  if (connection_count_ > 0)
    log::warn("grace period over: closing {} connection(s)", connection_count_);
  close_sessions();
  check_shutdown_done();
}

void Worker::check_shutdown_done() {
  if (!shutting_down_ || connection_count_ > 0 || shutdown_reported_)
    return;
  shutdown_reported_ = true;
  grace_timer_.close();
  size_t i = index_;
  report([i](Engine& e) { e.worker_stopped(i); });
}

} // namespace hamba::engine
