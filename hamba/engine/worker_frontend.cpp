// A frontend's listener, queue and pickers on one worker; see worker_frontend.h.
#include "engine/worker_frontend.h"

#include "base/check.h"
#include "base/descriptors.h"
#include "base/log.h"
#include "engine/worker.h"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hamba::engine {

namespace {
// Connections one wakeup of the listener accepts at most (HAProxy's tune.maxaccept is 64).
constexpr int kAcceptsPerWakeup = 64;
} // namespace

WorkerFrontend::WorkerFrontend(Worker& worker, FrontendViewPtr view,
                               std::shared_ptr<FrontendCounters> counters, int fd)
    : worker_(worker), counters_(std::move(counters)) {
  set_view(std::move(view));
  if (fd >= 0)
    listener_ = std::make_unique<net::Listener>(
        worker_.loop(), fd, view_->config.bind, [this] { accept_pending(); },
        [this](int rc) { note_accept_error(rc); });
  if (listener_)
    listener_->defer_accept(config().accept_proxy || !config().routes.empty() || config().tls);
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
    listener_->defer_accept(config().accept_proxy || !config().routes.empty() || config().tls);
}

uv_loop_t* WorkerFrontend::loop() {
  return worker_.loop();
}

const std::function<void(const SessionEnd&)>* WorkerFrontend::session_log() const {
  return worker_.session_log();
}

bool WorkerFrontend::shutting_down() const {
  return worker_.shutting_down();
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

ConnectionHost::Choice WorkerFrontend::choose(const FrontendView* routed, int route,
                                              const balance::Server* avoid, uint64_t client_hash) {
  const balance::PoolSnapshot& p = pool(routed, route);
  return {picker(current_route(routed, route)).pick(p, avoid, client_hash), &p};
}

void WorkerFrontend::stop_listening(bool serve_waiting) {
  if (!listener_)
    return;
  if (serve_waiting) {
    listener_->start_draining();
    size_t served = 0;
    while (listener_->pending()) {
      accept_one(true);
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
  retired_ = true;
  if (tarpit_)
    tarpit_->release_all();
  stop_listening(serve_waiting);
  serve_task_.cancel();
  while (Connection* c = queue_.front())
    c->close(); // dequeues itself
}

bool WorkerFrontend::accept_one(bool beyond_limit) {
  // Judged before anything is spent on it (a slot, a handle, a read): a refused client costs an
  // accept and a close.
  const AcceptVerdict verdict = admit_at_accept(config(), listener_->waiting_peer());
  if (verdict.refusal) {
    note_refusal(*verdict.refusal, listener_->waiting_peer());
    listener_->refuse();
    return true;
  }
  if (beyond_limit)
    worker_.take_slot_anyway();
  else if (!worker_.take_slot())
    return false; // it waits in the listener, and is judged again when a slot frees
  // per_source: counted by the peer here (once it has a slot, so that a client left waiting is
  // not counted twice in the rate), or by the address its PROXY header carries, later.
  SourcePlace place;
  if (view_->sources && !verdict.read_header) {
    if (std::optional<Address128> source = address_of(listener_->waiting_peer())) {
      SourceTable::Admission a =
          view_->sources->admit(*source, uv_now(worker_.loop()), limits_of(config().per_source));
      if (a.refusal) {
        worker_.give_back_slot();
        note_refusal(*a.refusal, listener_->waiting_peer());
        over_limit();
        return true;
      }
      place = SourcePlace(view_->sources, a.slot);
    }
  }
  if (int rc =
          Connection::accept(shared_from_this(), *listener_, verdict.read_header, std::move(place));
      rc < 0) {
    worker_.give_back_slot();
    note_accept_error(rc);
  }
  return true;
}

void WorkerFrontend::accept_pending() {
  // A connection that ends inside its own accept posts the next accept to the loop's next turn
  // (Worker::closed): this loop, not recursion, takes the clients that wait.
  // Bounded per wakeup: the loop turns to its connections between bursts, and the listener,
  // still readable, is reported again at the next turn.
  for (int n = 0; n < kAcceptsPerWakeup && listener_ && listener_->pending(); ++n) {
    worker_.apply_offered_views(); // a reconfigure or a drain that has answered applies
    if (!accept_one(false)) {
      worker_.paused();
      return;
    }
  }
}

void WorkerFrontend::opened(Connection& c) {
  worker_.opened(c);
}

void WorkerFrontend::closed(Connection& c) {
  worker_.closed(c);
}

void WorkerFrontend::set_deadline(Connection& c, uint64_t at_ms) {
  worker_.set_deadline(c, at_ms);
}

void WorkerFrontend::report(std::function<void(Engine&)> message) {
  worker_.report(std::move(message));
}

void WorkerFrontend::enqueue(Connection& c, bool front) {
  if (front)
    queue_.push_front(c);
  else
    queue_.push_back(c);
  ++queue_size_;
  counters_->queued.fetch_add(1, std::memory_order_relaxed);
}

bool WorkerFrontend::queue_first() {
  if (queue_.empty() || !view_->routes.empty())
    return false;
  serve_queue_soon();
  return true;
}

void WorkerFrontend::dequeue(Connection& c) {
  if (!c.queue_link.linked())
    return;
  c.queue_link.unlink();
  --queue_size_;
  HAMBA_DCHECK(counters_->queued.load(std::memory_order_relaxed) > 0);
  counters_->queued.fetch_sub(1, std::memory_order_relaxed);
}

void WorkerFrontend::released() {
  if (!queue_.empty())
    serve_queue_soon();
  // Clients of this frontend queued on other workers may take the freed slot.
  else if (counters_->queued.load(std::memory_order_relaxed) > 0)
    worker_.poke_others();
}

bool WorkerFrontend::serve_queue_soon() {
  if (queue_.empty())
    return false;
  worker_.post_local(serve_task_);
  return true;
}

void WorkerFrontend::serve_queue() {
  // Each queued connection waits for its own route's pool; a pool with no room this round is
  // skipped for the connections behind it (with one pool: the round ends). Connections put
  // back at the tail meanwhile wait for the next round: the walk is bounded by what was there.
  // The first kMaxFull full pools are remembered; behind more, each connection asks its pool
  // again (a route with room is still reached, at one choice per connection).
  constexpr size_t kMaxFull = 16;
  const balance::PoolSnapshot* full[kMaxFull];
  size_t full_count = 0;
  size_t budget = queue_size_;
  Connection* c = queue_.front();
  while (c && budget-- > 0) {
    Connection* next = queue_.next(*c);
    const balance::PoolSnapshot* p = &pool(c->routed_view(), c->route());
    if (std::find(full, full + full_count, p) != full + full_count) {
      c = next;
      continue;
    }
    Choice choice = choose(c->routed_view(), c->route(), nullptr, c->client_hash());
    if (!choice.server) {
      if (view_->routes.empty())
        break;
      if (full_count < kMaxFull)
        full[full_count++] = p;
      c = next;
      continue;
    }
    dequeue(*c);
    c->connect(*choice.server, *choice.pool); // never touches another connection
    if (c->state() == ConnectionState::queued)
      break; // back at the head: hamba is short of descriptors, the next ones would be too
    c = next;
  }
}

void WorkerFrontend::note_local_error(int rc, const char* what) {
  ++local_errors_unlogged_;
  uint64_t now = uv_now(worker_.loop());
  if (local_error_logged_at_ != 0 && now - local_error_logged_at_ < 1000)
    return;
  log::warn("frontend {}: cannot {}: {}: hamba is short of descriptors, memory or local ports "
            "(not a server's fault); {} time(s) since the last such line; descriptors: {} open, "
            "limit {}",
            config().name, what, uvx::error_text(rc), local_errors_unlogged_, descriptors_open(),
            descriptor_limit());
  local_errors_unlogged_ = 0;
  local_error_logged_at_ = now;
}

void WorkerFrontend::note_tls_failure(net::TlsFailure why, const std::string& client,
                                      const char* text) {
  // One line a second at most: a scan or a flood of bad clients must not flood the log.
  ++tls_failures_unlogged_;
  uint64_t now = uv_now(worker_.loop());
  if (tls_failure_logged_at_ != 0 && now - tls_failure_logged_at_ < 1000)
    return;
  log::warn(
      "frontend {}: TLS handshake with client {} failed ({}): {}{}", config().name, client,
      net::tls_failure_name(why), text,
      tls_failures_unlogged_ > 1
          ? fmt::format("; {} failed handshake(s) since the last such line", tls_failures_unlogged_)
          : "");
  tls_failures_unlogged_ = 0;
  tls_failure_logged_at_ = now;
}

void WorkerFrontend::over_limit() {
  if (config().per_source.action == config::OverLimit::tarpit) {
    int fd = listener_->take();
    if (hold_fd(fd))
      return;
    const linger reset{1, 0}; // the tarpit is full: refused at once
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
    return;
  }
  listener_->refuse();
}

bool WorkerFrontend::hold_fd(int fd) {
  if (!tarpit_)
    tarpit_ = std::make_unique<Tarpit>(worker_.loop());
  return tarpit_->hold(fd, static_cast<uint64_t>(config().per_source.tarpit_delay.count()));
}

bool WorkerFrontend::hold_in_tarpit(int fd) {
  // A duplicate: the connection's handle closes its own descriptor (libuv drops it from epoll
  // first), and the socket stays open, unread, through this one until the tarpit closes it.
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    return false;
  if (hold_fd(copy))
    return true;
  ::close(copy);
  return false;
}

void WorkerFrontend::note_refusal(Refusal why, const sockaddr* source) {
  ++counters_->refused[static_cast<size_t>(why)];
  const std::optional<Address128> address = address_of(source);
  if (address && view_->refusal_log && !view_->refusal_log->due(*address, uv_now(worker_.loop())))
    return;
  log::warn("frontend {}: refused client {}: {} (at most one line per client per {} s)",
            config().name, address ? format_address(*address) : std::string("?"),
            refusal_phrase(why), kRefusalLogMs / 1000);
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

std::shared_ptr<net::TlsSessionSlot> WorkerFrontend::tls_session(const balance::ServerPtr& server) {
  SessionEntry& e = tls_sessions_[server.get()];
  if (!e.slot || e.server.lock() != server) {
    e = {server, std::make_shared<net::TlsSessionSlot>()};
    // Servers removed by reconfigures leave entries: those are dropped every 64 new ones.
    if (tls_sessions_.size() > 64 && tls_sessions_.size() % 64 == 0)
      std::erase_if(tls_sessions_, [](const auto& kv) { return kv.second.server.expired(); });
  }
  return e.slot;
}

} // namespace hamba::engine
