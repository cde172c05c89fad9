// A frontend's listener, queue and backend; see frontend.h.
#include "engine/frontend.h"

#include "base/descriptors.h"
#include "base/log.h"
#include "engine/engine.h"
#include "engine/session.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace hamba::engine {

namespace {

std::string describe_at(const config::Frontend& f, const std::string& where) {
  std::string servers;
  for (const config::Server& s : f.servers)
    servers += (servers.empty() ? "" : ", ") + config::format_endpoint(s.address);
  return fmt::format("{} ({}): {}", where,
                     f.balance == config::Balance::leastconn ? "leastconn" : "roundrobin", servers);
}

void update_routes(uv_loop_t* loop, const config::Frontend& f,
                   std::vector<std::shared_ptr<Route>>& routes, bool started,
                   const std::function<void()>& on_available) {
  std::vector<std::shared_ptr<Route>> next;
  for (const config::Route& r : f.routes) {
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const auto& old) { return old->config.name == r.name; });
    if (it != routes.end()) {
      (*it)->config = r;
      (*it)->backend.update(backend_view(f, r));
      next.push_back(std::move(*it));
      routes.erase(it);
      continue;
    }
    next.push_back(std::make_shared<Route>(loop, f, r, on_available));
    if (started)
      next.back()->backend.start();
  }
  for (auto& removed : routes) // sessions may still hold it; no new ones come
    removed->backend.stop();
  routes = std::move(next);
}

} // namespace

config::Frontend backend_view(const config::Frontend& frontend, const config::Route& route) {
  config::Frontend view = frontend;
  view.servers = route.servers;
  view.send_proxy = route.send_proxy;
  view.routes.clear();
  return view;
}

Route::Route(uv_loop_t* loop, const config::Frontend& frontend, const config::Route& route,
             std::function<void()> on_available)
    : config(route), backend(loop, backend_view(frontend, route), std::move(on_available)) {}

std::string describe(const config::Frontend& f) {
  // An empty host is every address; which socket that took ([::] or 0.0.0.0) is logged when
  // the frontend starts listening.
  return describe_at(f, f.bind.host.empty() ? fmt::format("*:{}", f.bind.port)
                                            : config::format_endpoint(f.bind));
}

Frontend::Frontend(Engine& engine, const config::Frontend& config)
    : engine_(engine), config_(config), backend_(engine.loop(), config, [this] { serve_queue(); }) {
  update_routes(engine.loop(), config_, routes_, false, [this] { serve_queue(); });
}

Frontend::~Frontend() = default;

void Frontend::start() {
  listener_ = std::make_unique<net::Listener>(
      engine_.loop(), config_.bind, [this] { accept_pending(); },
      [this](int rc) { note_accept_error(rc); });
  log::info("frontend {}: listening on {}", config_.name,
            describe_at(config_, config::format_endpoint(listener_->bound())));
  backend_.start();
  for (auto& r : routes_)
    r->backend.start();
}

void Frontend::update(const config::Frontend& config) {
  config_ = config;
  backend_.update(config);
  update_routes(engine_.loop(), config_, routes_, true, [this] { serve_queue(); });
}

std::shared_ptr<Route> Frontend::route_for(std::string_view server_name) const {
  if (server_name.empty())
    return nullptr;
  for (bool wildcards : {false, true})
    for (const auto& r : routes_)
      for (const std::string& pattern : r->config.sni)
        if ((pattern.starts_with("*.") == wildcards) && config::sni_matches(pattern, server_name))
          return r;
  return nullptr;
}

void Frontend::stop_listening(bool serve_waiting) {
  if (!listener_)
    return;
  if (serve_waiting) {
    listener_->start_draining();
    size_t served = 0;
    while (listener_->pending()) {
      net::Session::accept(shared_from_this(), *listener_);
      ++served;
    }
    if (served > 0)
      log::info("frontend {}: {} client(s) waiting to be accepted taken in before closing",
                config_.name, served);
  }
  listener_->close();
  listener_.reset();
}

void Frontend::retire(bool serve_waiting) {
  stop_listening(serve_waiting);
  backend_.stop();
  for (auto& r : routes_)
    r->backend.stop();
  while (!queue_.empty())
    queue_.front()->close(); // dequeues itself
}

void Frontend::accept_pending() {
  // shared_from_this: the session keeps its frontend alive.
  while (listener_ && listener_->pending() && engine_.can_accept())
    net::Session::accept(shared_from_this(), *listener_);
}

void Frontend::enqueue(net::Session* session, bool front) {
  if (front)
    queue_.push_front(session);
  else
    queue_.push_back(session);
  counters_.queued = queue_.size();
}

void Frontend::dequeue(net::Session* session) {
  auto it = std::find(queue_.begin(), queue_.end(), session);
  if (it != queue_.end())
    queue_.erase(it);
  counters_.queued = queue_.size();
}

void Frontend::serve_queue() {
  // A connect that fails at once releases its server and calls back here: the outer call goes
  // on instead, so a long queue cannot recurse deeply.
  if (serving_queue_)
    return;
  serving_queue_ = true;
  // Each queued session waits for its own route's backend; a backend with no room this round
  // is skipped for the sessions behind it (with one backend: the round ends).
  constexpr size_t kMaxFull = 16;
  const balance::Backend* full[kMaxFull];
  size_t full_count = 0;
  for (size_t i = 0; i < queue_.size();) {
    net::Session* s = queue_[i];
    if (s->client_gone()) { // left while it waited: no slot for it
      ++counters_.abandoned;
      s->abandon(); // dequeues itself
      continue;
    }
    balance::Backend& backend = s->backend();
    if (std::find(full, full + full_count, &backend) != full + full_count) {
      ++i;
      continue;
    }
    balance::ServerPtr server = backend.pick(nullptr, s->client_hash());
    if (!server) {
      if (routes_.empty() || full_count == kMaxFull)
        break;
      full[full_count++] = &backend;
      ++i;
      continue;
    }
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(i));
    counters_.queued = queue_.size();
    s->connect(std::move(server)); // may queue other sessions at the back, never before i
    if (s->queued())
      break; // back in the queue: hamba is short of descriptors, the next ones would be too
  }
  serving_queue_ = false;
}

size_t Frontend::drop_abandoned() {
  std::vector<net::Session*> gone;
  for (net::Session* s : queue_)
    if (s->client_gone())
      gone.push_back(s);
  for (net::Session* s : gone) {
    ++counters_.abandoned;
    s->abandon(); // dequeues itself
  }
  return gone.size();
}

void Frontend::note_local_error(int rc, const char* what) {
  ++local_errors_unlogged_;
  uint64_t now = uv_now(engine_.loop());
  if (local_error_logged_at_ != 0 && now - local_error_logged_at_ < 1000)
    return;
  log::warn("frontend {}: cannot {}: {}: hamba is short of descriptors or memory (not a server's "
            "fault); {} time(s) since the last such line; descriptors: {} open, limit {}",
            config_.name, what, uvx::error_text(rc), local_errors_unlogged_, descriptors_open(),
            descriptor_limit());
  local_errors_unlogged_ = 0;
  local_error_logged_at_ = now;
}

void Frontend::note_accept_error(int rc) {
  ++counters_.accept_errors[local_error_index(rc)];
  if (is_local_error(rc)) {
    note_local_error(rc, "accept a client");
    return;
  }
  uint64_t now = uv_now(engine_.loop());
  if (now - other_accept_error_logged_at_ >= 1000 || other_accept_error_logged_at_ == 0) {
    log::warn("frontend {}: accept failed: {}", config_.name, uvx::error_text(rc));
    other_accept_error_logged_at_ = now;
  }
}

} // namespace hamba::engine
