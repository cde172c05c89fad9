// A worker thread's loop, sessions and timeouts; see worker.h.
#include "engine/worker.h"

#include "base/log.h"
#include "engine/engine.h"
#include "engine/session.h"
#include "engine/worker_frontend.h"

#include <unistd.h>

namespace hamba::engine {

namespace {
// How often session timeouts are checked: timeouts are at most this late, and no session needs
// a timer of its own.
constexpr uint64_t kSweepMs = 250;
} // namespace

Worker::Worker(WorkerShared& shared, size_t index) : shared_(shared), index_(index) {
  uvx::check(uv_loop_init(&loop_), "uv_loop_init");
  inbox_.init(&loop_, this);
  sweep_timer_.init(&loop_, this);
  sweep_timer_.start<&Worker::sweep>(kSweepMs, kSweepMs);
  uvx::check(reaper_.init([&](uv_check_t* c) { return uv_check_init(&loop_, c); }),
             "uv_check_init");
  reaper_.set_data(this);
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
    w.sweep_timer_.close();
    w.grace_timer_.close();
    w.reaper_.close();
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
    it->second->serve_queue(); // servers may have room now
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
  std::shared_ptr<WorkerFrontend> f = std::move(it->second); // sessions keep it alive
  frontends_.erase(it);
  f->retire(serve_waiting);
}

void Worker::offer() {
  for (auto& [id, f] : frontends_)
    f->serve_queue();
  offer_slots();
}

void Worker::offer_slots() {
  // The frontends are offered free slots in turn: always starting with the first one would
  // give a busy first frontend every slot while the others' clients wait (global maxconn
  // reached = each listener holds one waiting).
  // Every frontend is looked at even when no slot is left: one holding a client marks the
  // worker paused again, so the next freed slot anywhere comes back here.
  paused_.store(false, std::memory_order_relaxed);
  if (frontends_.empty())
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
  std::vector<net::Session*> open; // closing unlinks a session from the list
  for (net::Session* s = sessions_; s; s = s->next)
    open.push_back(s);
  for (net::Session* s : open)
    s->close();
}

void Worker::add_session(net::Session* session) {
  session->prev = nullptr;
  session->next = sessions_;
  if (sessions_)
    sessions_->prev = session;
  sessions_ = session;
  ++session_count_;
  shared_.sessions.fetch_add(1, std::memory_order_relaxed);
  // One writer: a plain load and store, no lock prefix.
  accepted_.store(accepted_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  current_.store(session_count_, std::memory_order_relaxed);
}

void Worker::remove_session(net::Session* session) {
  if (session->prev)
    session->prev->next = session->next;
  else
    sessions_ = session->next;
  if (session->next)
    session->next->prev = session->prev;
  // `next` is kept: the sweep may still be walking through this session.
  --session_count_;
  shared_.sessions.fetch_sub(1, std::memory_order_relaxed);
  current_.store(session_count_, std::memory_order_relaxed);
  graveyard_.push_back(session);
  if (graveyard_.size() == 1)
    uv_check_start(reaper_.get(), [](uv_check_t* c) {
      if (auto* self = uvx::Handle<uv_check_t>::owner<Worker>(c))
        self->reap();
    });
  // A slot is free: clients waiting in an accept queue may come in. Each worker has its own
  // queue (its SO_REUSEPORT socket), so at the global limit the slot goes to the next worker
  // that stopped accepting, in ring order from this one: a worker whose sessions end often
  // must not serve its own queue while another's clients wait for ever.
  size_t n = shared_.workers.size();
  bool handed = false;
  for (size_t k = 1; k < n && !handed; ++k) {
    Worker* w = shared_.workers[(index_ + k) % n];
    if (w->paused_.exchange(false, std::memory_order_relaxed)) {
      w->post([](Worker& other) { other.offer(); });
      handed = true;
    }
  }
  if (!handed && !shutting_down_)
    offer_slots();
  check_shutdown_done();
}

void Worker::poke_others() {
  for (Worker* w : shared_.workers)
    if (w != this)
      w->post([](Worker& other) { other.offer(); });
}

void Worker::reap() {
  std::vector<net::Session*> dead;
  dead.swap(graveyard_);
  for (net::Session* s : dead)
    delete s;
  if (graveyard_.empty() && reaper_)
    uv_check_stop(reaper_.get());
}

void Worker::sweep() {
  uint64_t now = uv_now(&loop_);
  std::vector<net::Session*> expired;
  for (net::Session* s = sessions_; s; s = s->next)
    if (s->expired(now))
      expired.push_back(s);
  // Sessions finished meanwhile stay allocated until reap(), after this callback.
  for (net::Session* s : expired)
    s->on_timeout();
  for (auto& [id, f] : frontends_)
    f->drop_abandoned();
  // A wakeup may have crossed the pause (a slot freed between the look and the pause): the
  // sweep looks again.
  if (paused_.load(std::memory_order_relaxed) && can_accept())
    offer();
}

void Worker::shutdown(config::Duration grace) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  for (auto& [id, f] : frontends_)
    f->retire(); // serves the clients in the accept queue; closes those waiting for a server
  frontends_.clear();
  report([](Engine& e) { e.worker_closed_listeners(); });
  if (session_count_ > 0) {
    grace_timer_.init(&loop_, this);
    grace_timer_.start<&Worker::grace_over>(static_cast<uint64_t>(grace.count()));
  }
  check_shutdown_done();
}

void Worker::grace_over() {
  if (session_count_ > 0)
    log::warn("grace period over: closing {} connection(s)", session_count_);
  close_sessions();
  check_shutdown_done();
}

void Worker::check_shutdown_done() {
  if (!shutting_down_ || session_count_ > 0 || shutdown_reported_)
    return;
  shutdown_reported_ = true;
  grace_timer_.close();
  size_t i = index_;
  report([i](Engine& e) { e.worker_stopped(i); });
}

} // namespace hamba::engine
