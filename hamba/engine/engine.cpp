// Frontends, sessions, timeouts and graceful shutdown; see engine.h.
#include "engine/engine.h"

#include "base/descriptors.h"
#include "base/log.h"
#include "engine/session.h"

#include <algorithm>
#include <string_view>

namespace hamba::engine {

namespace {
// How often session timeouts are checked: timeouts are at most this late, and no session needs
// a timer of its own.
constexpr uint64_t kSweepMs = 250;

// The same listening socket: an empty host listens on every address (net/listener.cpp), which
// covers every IPv4 one, so ":80" (what `hamba 80 ...` and showconfig say) and "0.0.0.0:80"
// (what a YAML file may say) keep the frontend rather than open a second socket on a port that
// is already bound (EADDRINUSE: the reconfigure was refused).
bool same_bind(const config::Endpoint& a, const config::Endpoint& b) {
  auto host = [](const config::Endpoint& e) {
    return e.host.empty() ? std::string_view("0.0.0.0") : std::string_view(e.host);
  };
  return a.port == b.port && host(a) == host(b);
}

} // namespace

Engine::Engine(uv_loop_t* loop) : loop_(loop) {
  sweep_timer_.init(loop_, this);
  sweep_timer_.start<&Engine::sweep>(kSweepMs, kSweepMs);
  uvx::check(reaper_.init([&](uv_check_t* c) { return uv_check_init(loop_, c); }), "uv_check_init");
  reaper_.set_data(this);
}

Engine::~Engine() {
  shutting_down_ = true; // nothing is accepted or served from a queue any more
  on_shutdown_done_ = nullptr;
  for (auto& f : frontends_)
    f->retire(false);
  for (auto& f : retired_)
    f->retire(false);
  close_sessions();
  reap();
}

void Engine::close_sessions() {
  std::vector<net::Session*> open; // closing unlinks a session from the list
  for (net::Session* s = sessions_; s; s = s->next)
    open.push_back(s);
  for (net::Session* s : open)
    s->close();
}

void Engine::apply(const config::Config& config) {
  config::validate(config);
  std::vector<std::shared_ptr<Frontend>> next;
  std::vector<std::shared_ptr<Frontend>> opened;
  // Open the new listeners first: if one fails, nothing has changed yet.
  try {
    for (const config::Frontend& f : config.frontends) {
      auto it = std::find_if(frontends_.begin(), frontends_.end(), [&](const auto& old) {
        return same_bind(old->config().bind, f.bind);
      });
      if (it != frontends_.end()) {
        next.push_back(*it);
        continue;
      }
      auto fe = std::make_shared<Frontend>(*this, f);
      fe->start();
      opened.push_back(fe);
      next.push_back(fe);
    }
  } catch (...) {
    for (auto& fe : opened)
      fe->retire(false);
    throw;
  }
  for (auto& old : frontends_) {
    if (std::find(next.begin(), next.end(), old) != next.end())
      continue;
    log::info("frontend {}: removed, no longer listening on {}", old->config().name,
              config::format_endpoint(old->config().bind));
    old->retire();
    if (old->counters().current > 0)
      retired_.push_back(old);
  }
  for (size_t i = 0; i < next.size(); ++i) {
    const config::Frontend& f = config.frontends[i];
    bool is_new = std::find(opened.begin(), opened.end(), next[i]) != opened.end();
    // Compared with the running config, which includes enable/disable/drain: a reload of an
    // unchanged file must still undo a `hamba disable` (the frontend's own copy does not know).
    auto running =
        std::find_if(config_.frontends.begin(), config_.frontends.end(),
                     [&](const config::Frontend& r) { return same_bind(r.bind, f.bind); });
    if (!is_new && running != config_.frontends.end() && *running == f)
      continue;
    if (is_new)
      continue; // Frontend::start logged it
    next[i]->update(f);
    log::info("frontend {}: reconfigured: {}", f.name, describe(f));
  }
  frontends_ = std::move(next);
  config_ = config;
  count_descriptors(true);
  for (auto& f : frontends_)
    f->accept_pending();
}

void Engine::count_descriptors(bool warn) {
  descriptors_counted_at_ = uv_now(loop_);
  descriptor_limit_ = descriptor_limit();
  int open = descriptors_open();
  if (open < 0) { // no /proc: trust the limit and maxconn alone
    descriptors_other_ = 0;
    maxconn_ = config_.maxconn.value_or(default_maxconn_);
    return;
  }
  // Sessions hold two descriptors each, one while queued (the server's is not open yet).
  int64_t queued = 0;
  for (auto& f : frontends_)
    queued += static_cast<int64_t>(f->counters().queued);
  for (auto& f : retired_)
    queued += static_cast<int64_t>(f->counters().queued);
  int64_t by_sessions = 2 * static_cast<int64_t>(session_count_) - queued;
  descriptors_other_ = std::max<int64_t>(0, open - by_sessions);
  size_t servers = 0;
  for (const config::Frontend& f : config_.frontends)
    servers += f.servers.size();
  descriptor_reserve_ = kDescriptorReserve + static_cast<int64_t>(servers);
  int64_t holds = (descriptor_limit_ - descriptors_other_ - descriptor_reserve_) / 2;
  int wanted = config_.maxconn.value_or(default_maxconn_);
  maxconn_ = static_cast<int>(std::clamp<int64_t>(holds, 1, wanted));
  // Warned of at start and on a reconfigure; the sweep's recounts follow admin and control
  // clients silently.
  // Only a configured maxconn is warned about: the default is "what the descriptors hold".
  if (warn && config_.maxconn && maxconn_ < wanted && maxconn_ != warned_maxconn_) {
    log::warn("maxconn {} needs about {} descriptors, but the limit is {} ({} in use): maxconn "
              "lowered to {} (raise `ulimit -n` to have more)",
              wanted, 2 * static_cast<int64_t>(wanted) + descriptors_other_ + descriptor_reserve_,
              descriptor_limit_, open, maxconn_);
    warned_maxconn_ = maxconn_;
  }
}

void Engine::offer_free_slots() {
  // The frontends are offered free slots in turn: always starting with the first one would
  // give a busy first frontend every slot while the others' clients wait (global maxconn
  // reached = each listener holds one waiting).
  if (can_accept() && !frontends_.empty()) {
    size_t n = frontends_.size(), first = accept_turn_++ % n;
    for (size_t k = 0; k < n && can_accept(); ++k)
      frontends_[(first + k) % n]->accept_pending();
  }
}

int Engine::set_server_state(const std::string& address, config::ServerState state) {
  int matched = 0;
  for (auto& f : frontends_) {
    matched += f->backend().set_state(address, state);
    for (auto& r : f->routes())
      matched += r->backend.set_state(address, state);
  }
  auto note = [&](std::vector<config::Server>& servers) {
    for (config::Server& s : servers)
      if (config::format_endpoint(s.address) == address)
        s.state = state;
  };
  for (config::Frontend& f : config_.frontends) {
    note(f.servers);
    for (config::Route& r : f.routes)
      note(r.servers);
  }
  return matched;
}

int Engine::set_server_weight(const std::string& address, int weight) {
  int matched = 0;
  for (auto& f : frontends_)
    matched += f->backend().set_weight(address, weight);
  for (config::Frontend& f : config_.frontends)
    for (config::Server& s : f.servers)
      if (config::format_endpoint(s.address) == address)
        s.weight = weight;
  return matched;
}

void Engine::add_session(net::Session* session) {
  session->prev = nullptr;
  session->next = sessions_;
  if (sessions_)
    sessions_->prev = session;
  sessions_ = session;
  ++session_count_;
}

void Engine::remove_session(net::Session* session) {
  if (session->prev)
    session->prev->next = session->next;
  else
    sessions_ = session->next;
  if (session->next)
    session->next->prev = session->prev;
  // `next` is kept: the sweep may still be walking through this session.
  --session_count_;
  graveyard_.push_back(session);
  if (graveyard_.size() == 1)
    uv_check_start(reaper_.get(), [](uv_check_t* c) {
      if (auto* self = uvx::Handle<uv_check_t>::owner<Engine>(c))
        self->reap();
    });
  // A slot is free: clients waiting in the accept queue may come in.
  offer_free_slots();
  std::erase_if(retired_, [](const auto& f) { return f->counters().current == 0; });
  check_shutdown_done();
}

void Engine::reap() {
  std::vector<net::Session*> dead;
  dead.swap(graveyard_);
  for (net::Session* s : dead)
    delete s;
  if (graveyard_.empty() && reaper_)
    uv_check_stop(reaper_.get());
}

void Engine::sweep() {
  uint64_t now = uv_now(loop_);
  std::vector<net::Session*> expired;
  for (net::Session* s = sessions_; s; s = s->next)
    if (s->expired(now))
      expired.push_back(s);
  // Sessions finished meanwhile stay allocated until reap(), after this callback.
  for (net::Session* s : expired)
    s->on_timeout();
  for (auto& f : frontends_)
    f->drop_abandoned();
  for (auto& f : retired_)
    f->drop_abandoned();
  // Descriptors other than the sessions' (admin and control clients, checks) come and go: they
  // are counted again every few seconds, and every sweep while the limit is near (a directory
  // read of the open descriptors; hamba stops accepting before the limit, see engine.h).
  int64_t estimate =
      descriptors_other_ + 2 * static_cast<int64_t>(session_count_) + descriptor_reserve_;
  if (now - descriptors_counted_at_ >= 5000 || estimate + 32 >= descriptor_limit_) {
    count_descriptors();
    offer_free_slots();
  }
}

void Engine::shutdown(config::Duration grace, std::function<void()> done) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  on_shutdown_done_ = std::move(done);
  for (auto& f : frontends_) {
    f->retire(); // serves the clients in the accept queue; closes those waiting for a server
  }
  log::info("shutting down: {} connection(s) get up to {} to finish", session_count_,
            config::format_duration(grace));
  if (session_count_ > 0) {
    grace_timer_.init(loop_, this);
    grace_timer_.start<&Engine::grace_over>(static_cast<uint64_t>(grace.count()));
  }
  check_shutdown_done();
}

void Engine::grace_over() {
  log::warn("grace period over: closing {} connection(s)", session_count_);
  close_sessions();
  check_shutdown_done();
}

void Engine::check_shutdown_done() {
  if (!shutting_down_ || session_count_ > 0 || !on_shutdown_done_)
    return;
  grace_timer_.close();
  sweep_timer_.close();
  auto done = std::move(on_shutdown_done_);
  on_shutdown_done_ = nullptr;
  log::info("all connections closed");
  done();
}

} // namespace hamba::engine
