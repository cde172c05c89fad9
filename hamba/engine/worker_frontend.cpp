// A frontend's listener, queue and pickers on one worker; see worker_frontend.h.
#include "engine/worker_frontend.h"

#include "base/descriptors.h"
#include "base/log.h"
#include "engine/session.h"
#include "engine/worker.h"

#include <algorithm>
#include <cstring>

namespace hamba::engine {

WorkerFrontend::WorkerFrontend(Worker& worker, FrontendViewPtr view,
                               std::shared_ptr<FrontendCounters> counters, int fd)
    : worker_(worker), counters_(std::move(counters)) {
  set_view(std::move(view));
  if (fd >= 0)
    listener_ = std::make_unique<net::Listener>(
        worker_.loop(), fd, view_->config.bind, [this] { accept_pending(); },
        [this](int rc) { note_accept_error(rc); });
  if (listener_)
    listener_->defer_accept(client_speaks_first());
  if (const sockaddr* local = listener_ ? listener_->local_address() : nullptr) {
    std::memcpy(&local_, local, sockaddr_size(local));
    has_local_ = true;
  }
}

WorkerFrontend::~WorkerFrontend() = default;

void WorkerFrontend::set_view(FrontendViewPtr view) {
  // Leastconn's turn among equals is per picker; a new view keeps the pickers of the routes it
  // still has at their place.
  view_ = std::move(view);
  pickers_.routes.resize(view_->routes.size());
  may_send_proxy_ = view_->config.send_proxy != config::ProxyProtocol::none;
  for (const auto& r : view_->routes)
    may_send_proxy_ |= r.config.send_proxy != config::ProxyProtocol::none;
  if (listener_) // a reconfigure may add routes or accept_proxy, or take them away
    listener_->defer_accept(client_speaks_first());
}

balance::Picker& WorkerFrontend::picker(int route) {
  if (route < 0 || static_cast<size_t>(route) >= pickers_.routes.size())
    return pickers_.own;
  return pickers_.routes[static_cast<size_t>(route)];
}

int WorkerFrontend::current_route(const FrontendView* routed, int route) const {
  if (route < 0 || !routed)
    return -1;
  if (routed == view_.get())
    return route;
  const std::string& name = routed->routes[static_cast<size_t>(route)].config.name;
  for (size_t i = 0; i < view_->routes.size(); ++i)
    if (view_->routes[i].config.name == name)
      return static_cast<int>(i);
  return -1;
}

const balance::PoolSnapshot& WorkerFrontend::pool(const FrontendView* routed, int route) const {
  if (int now = current_route(routed, route); now >= 0)
    return *view_->routes[static_cast<size_t>(now)].pool;
  if (route >= 0 && routed) // the route was removed: its last servers finish what they had
    return *routed->routes[static_cast<size_t>(route)].pool;
  return *view_->pool;
}

const balance::PoolSnapshot::Entry* WorkerFrontend::pick(const FrontendView* routed, int route,
                                                         const balance::Server* avoid,
                                                         uint64_t client_hash) {
  return picker(current_route(routed, route)).pick(pool(routed, route), avoid, client_hash);
}

void WorkerFrontend::stop_listening(bool serve_waiting) {
  if (!listener_)
    return;
  if (serve_waiting) {
    listener_->start_draining();
    size_t served = 0;
    while (listener_->pending()) {
      net::Session::accept(shared_from_this(), *listener_);
      ++served;
    }
    // Closed at once after the last accept (the log line waits): a handshake that completes in
    // between is reset with the socket.
    listener_->close();
    listener_.reset();
    if (served > 0)
      log::info("frontend {}: {} client(s) waiting to be accepted taken in before closing",
                config().name, served);
    return;
  }
  listener_->close();
  listener_.reset();
}

void WorkerFrontend::retire(bool serve_waiting) {
  stop_listening(serve_waiting);
  while (!queue_.empty())
    queue_.front()->close(); // dequeues itself
}

void WorkerFrontend::accept_pending() {
  // shared_from_this: the session keeps its frontend alive.
  while (listener_ && listener_->pending()) {
    worker_.apply_offered_views(); // a reconfigure or a drain that has answered applies
    if (!worker_.can_accept()) {
      worker_.paused();
      return;
    }
    net::Session::accept(shared_from_this(), *listener_);
  }
}

void WorkerFrontend::enqueue(net::Session* session, bool front) {
  if (front)
    queue_.push_front(session);
  else
    queue_.push_back(session);
  counters_->queued.fetch_add(1, std::memory_order_relaxed);
}

void WorkerFrontend::dequeue(net::Session* session) {
  auto it = std::find(queue_.begin(), queue_.end(), session);
  if (it == queue_.end())
    return;
  queue_.erase(it);
  counters_->queued.fetch_sub(1, std::memory_order_relaxed);
}

void WorkerFrontend::serve_queue() {
  // A connect that fails at once releases its server and calls back here: the outer call goes
  // on instead, so a long queue cannot recurse deeply.
  if (serving_queue_)
    return;
  serving_queue_ = true;
  // Each queued session waits for its own route's pool; a pool with no room this round is
  // skipped for the sessions behind it (with one pool: the round ends).
  constexpr size_t kMaxFull = 16;
  const balance::PoolSnapshot* full[kMaxFull];
  size_t full_count = 0;
  for (size_t i = 0; i < queue_.size();) {
    net::Session* s = queue_[i];
    if (s->client_gone()) { // left while it waited: no slot for it
      ++counters_->abandoned;
      s->abandon(); // dequeues itself
      continue;
    }
    const balance::PoolSnapshot* p = &pool(s->routed_view(), s->route());
    if (std::find(full, full + full_count, p) != full + full_count) {
      ++i;
      continue;
    }
    const balance::PoolSnapshot::Entry* entry =
        pick(s->routed_view(), s->route(), nullptr, s->client_hash());
    if (!entry) {
      if (view_->routes.empty() || full_count == kMaxFull)
        break;
      full[full_count++] = p;
      ++i;
      continue;
    }
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
    counters_->queued.fetch_sub(1, std::memory_order_relaxed);
    s->connect(*entry, *p); // may queue other sessions at the back, never before i
    if (s->queued())
      break; // back in the queue: hamba is short of descriptors, the next ones would be too
  }
  serving_queue_ = false;
}

size_t WorkerFrontend::drop_abandoned() {
  std::vector<net::Session*> gone;
  for (net::Session* s : queue_)
    if (s->client_gone())
      gone.push_back(s);
  for (net::Session* s : gone) {
    ++counters_->abandoned;
    s->abandon(); // dequeues itself
  }
  return gone.size();
}

void WorkerFrontend::note_local_error(int rc, const char* what) {
  ++local_errors_unlogged_;
  uint64_t now = uv_now(worker_.loop());
  if (local_error_logged_at_ != 0 && now - local_error_logged_at_ < 1000)
    return;
  log::warn("frontend {}: cannot {}: {}: hamba is short of descriptors or memory (not a server's "
            "fault); {} time(s) since the last such line; descriptors: {} open, limit {}",
            config().name, what, uvx::error_text(rc), local_errors_unlogged_, descriptors_open(),
            descriptor_limit());
  local_errors_unlogged_ = 0;
  local_error_logged_at_ = now;
}

void WorkerFrontend::note_accept_error(int rc) {
  ++counters_->accept_errors[local_error_index(rc)];
  if (is_local_error(rc)) {
    note_local_error(rc, "accept a client");
    return;
  }
  uint64_t now = uv_now(worker_.loop());
  if (now - other_accept_error_logged_at_ >= 1000 || other_accept_error_logged_at_ == 0) {
    log::warn("frontend {}: accept failed: {}", config().name, uvx::error_text(rc));
    other_accept_error_logged_at_ = now;
  }
}

} // namespace hamba::engine
