// Frontends, workers, descriptors and graceful shutdown on the main loop; see engine.h.
#include "engine/engine.h"

#include "base/descriptors.h"
#include "base/log.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <unistd.h>

namespace hamba::engine {

namespace {
// How often the descriptors are looked at (a recount every few seconds, and every sweep while
// the limit is near).
constexpr uint64_t kSweepMs = 250;

// The same listening socket: an empty host listens on every address
// (net/listening_socket.cpp), which covers every IPv4 one, so ":80" (what `hamba 80 ...` and
// showconfig say) and "0.0.0.0:80" (what a YAML file may say) keep the frontend rather than open a
// second socket on a port that is already bound (EADDRINUSE: the reconfigure was refused).
bool same_bind(const config::Endpoint& a, const config::Endpoint& b) {
  auto host = [](const config::Endpoint& e) {
    return e.host.empty() ? std::string_view("0.0.0.0") : std::string_view(e.host);
  };
  return a.port == b.port && host(a) == host(b);
}

} // namespace

Engine::Engine(uv_loop_t* loop) : loop_(loop) {
  // The bench's switch between the two ways of sharing a listening address (workers.md).
  if (const char* mode = std::getenv("HAMBA_ACCEPT"); mode && std::string_view(mode) == "shared")
    accept_ = Frontend::Accept::shared;
  inbox_.init(loop_, this);
  inbox_.unref(); // reports do not keep hamba running; the frontends and signals do
  sweep_timer_.init(loop_, this);
  sweep_timer_.start<&Engine::sweep>(kSweepMs, kSweepMs);
  publish_timer_.init(loop_, this);
  ticket_timer_.init(loop_, this);
  const uint64_t lifetime_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(net::kTicketKeyLifetime).count();
  ticket_timer_.start<&Engine::rotate_ticket_keys>(lifetime_ms, lifetime_ms);
}

void Engine::rotate_ticket_keys() {
  ticket_keys_ = ticket_keys_->rotated();
  for (auto& f : frontends_)
    if (f->has_tls()) {
      f->set_ticket_keys(ticket_keys_);
      publish(*f);
    }
}

Engine::~Engine() {
  shutting_down_ = true;
  on_shutdown_done_ = nullptr;
  for (auto& f : frontends_)
    f->retire();
  for (auto& w : workers_)
    w->stop();
  // Every thread ends before any worker is freed: one still closing its sessions reaches the
  // others (a freed slot is handed to the next paused worker).
  for (auto& w : workers_)
    w->join();
  workers_.clear();
  inbox_.close();
}

void Engine::set_threads(int n) {
  if (workers_.empty())
    threads_ = std::max(1, n);
}

void Engine::set_session_log(SessionLog log) {
  session_log_ = log ? std::make_shared<const SessionLog>(std::move(log)) : nullptr;
  auto shared = session_log_;
  post_all([shared](Worker& w) { w.set_session_log(shared); });
}

void Engine::start_workers() {
  shared_.main = &inbox_;
  for (int i = 0; i < threads_; ++i)
    workers_.push_back(std::make_unique<Worker>(shared_, static_cast<size_t>(i)));
  for (auto& w : workers_)
    shared_.workers.push_back(w.get());
  for (auto& w : workers_)
    w->start_thread();
}

std::vector<Engine::WorkerLoad> Engine::worker_loads() const {
  std::vector<WorkerLoad> loads;
  for (const auto& w : workers_)
    loads.push_back({w->accepted(), w->current()});
  return loads;
}

void Engine::post_all(const uvx::Mailbox<Worker>::Message& message) {
  for (auto& w : workers_)
    w->post(message);
}

void Engine::publish(Frontend& frontend, std::vector<int> fds) {
  FrontendViewPtr view = frontend.view();
  published_[frontend.id()] = view;
  for (size_t i = 0; i < workers_.size(); ++i) {
    int fd = i < fds.size() ? fds[i] : -1;
    if (fd < 0)
      workers_[i]->offer_view(frontend.id(), view);
    workers_[i]->post([id = frontend.id(), view, counters = frontend.shared_counters(),
                       fd](Worker& w) { w.set_frontend(id, view, counters, fd); });
  }
}

void Engine::publish_due() {
  if (!publish_armed_ && !shutting_down_) {
    publish_armed_ = true;
    publish_timer_.start<&Engine::publish_changed>(0);
  }
}

void Engine::publish_changed() {
  publish_armed_ = false;
  for (auto& f : frontends_) {
    auto it = published_.find(f->id());
    if (it == published_.end())
      continue; // not started yet: apply() publishes it with its sockets
    if (f->view() != it->second)
      publish(*f);
  }
}

void Engine::apply(const config::Config& config) {
  config::validate(config);
  if (workers_.empty())
    start_workers();
  else if (config.threads && static_cast<size_t>(*config.threads) != workers_.size() &&
           config.threads != config_.threads)
    log::warn("threads: {} asked for, but a running hamba keeps its {} worker(s): restart it to "
              "change that",
              *config.threads, workers_.size());
  std::vector<std::shared_ptr<Frontend>> next;
  struct Opened {
    std::shared_ptr<Frontend> frontend;
    std::vector<int> fds;
  };
  std::vector<Opened> opened;
  // Certificates first, then the new listeners: if one fails, nothing has changed yet.
  std::vector<TlsContexts> tls;
  for (const config::Frontend& f : config.frontends)
    tls.push_back({build_tls(f), build_server_tls(f), ticket_keys_, build_route_server_tls(f)});
  try {
    for (const config::Frontend& f : config.frontends) {
      auto it = std::find_if(frontends_.begin(), frontends_.end(), [&](const auto& old) {
        return same_bind(old->config().bind, f.bind);
      });
      if (it != frontends_.end()) {
        next.push_back(*it);
        continue;
      }
      auto fe = std::make_shared<Frontend>(loop_, f, [this](balance::Urgency u) {
        if (u == balance::Urgency::now && !shutting_down_)
          publish_changed(); // a server just went DOWN: the next accept must not pick it
        else
          publish_due();
      });
      fe->set_tls(tls[static_cast<size_t>(&f - config.frontends.data())]);
      std::vector<int> fds = fe->start(workers_.size(), accept_);
      opened.push_back({fe, std::move(fds)});
      next.push_back(fe);
    }
  } catch (...) {
    for (auto& o : opened) {
      o.frontend->retire();
      for (int fd : o.fds)
        ::close(fd);
    }
    throw;
  }
  for (auto& old : frontends_) {
    if (std::find(next.begin(), next.end(), old) != next.end())
      continue;
    log::info("frontend {}: removed, no longer listening on {}", old->config().name,
              config::format_endpoint(old->config().bind));
    old->retire();
    published_.erase(old->id());
    post_all([id = old->id()](Worker& w) { w.retire_frontend(id, true); });
  }
  for (size_t i = 0; i < next.size(); ++i) {
    const config::Frontend& f = config.frontends[i];
    auto is_new = std::find_if(opened.begin(), opened.end(),
                               [&](const Opened& o) { return o.frontend == next[i]; });
    if (is_new != opened.end()) {
      publish(*next[i], std::move(is_new->fds)); // Frontend::start logged it
      continue;
    }
    // Compared with the running config, which includes enable/disable/drain: a reload of an
    // unchanged file must still undo a `hamba disable` (the frontend's own copy does not know).
    auto running =
        std::find_if(config_.frontends.begin(), config_.frontends.end(),
                     [&](const config::Frontend& r) { return same_bind(r.bind, f.bind); });
    const bool has_tls = tls[i].clients || tls[i].servers ||
                         std::any_of(tls[i].routes.begin(), tls[i].routes.end(),
                                     [](const auto& r) { return r != nullptr; });
    if (has_tls || next[i]->view()->tls || next[i]->view()->server_tls)
      next[i]->set_tls(tls[i]); // the files are read again: new connections get what they hold
    if (running != config_.frontends.end() && *running == f) {
      if (has_tls) {
        publish(*next[i]);
        log::info("frontend {}: certificates loaded again", f.name);
      }
      continue;
    }
    next[i]->update(f);
    publish(*next[i]);
    log::info("frontend {}: reconfigured: {}", f.name, describe(f));
  }
  frontends_ = std::move(next);
  config_ = config;
  count_descriptors(true);
}

void Engine::count_descriptors(bool warn) {
  descriptors_counted_at_ = uv_now(loop_);
  descriptor_limit_ = descriptor_limit();
  int64_t before = shared_.accept_limit.load(std::memory_order_relaxed);
  int open = descriptors_open();
  if (open < 0) { // no /proc: trust the limit and maxconn alone
    descriptors_other_ = 0;
    maxconn_ = config_.maxconn.value_or(default_maxconn_);
  } else {
    // Sessions hold two descriptors each, one while queued (the server's is not open yet).
    int64_t queued = 0;
    for (auto& f : frontends_)
      queued += static_cast<int64_t>(f->counters().queued.load(std::memory_order_relaxed));
    int64_t by_sessions = 2 * static_cast<int64_t>(session_count()) - queued;
    descriptors_other_ = std::max<int64_t>(0, open - by_sessions);
    size_t servers = 0;
    for (const config::Frontend& f : config_.frontends)
      servers += f.servers.size();
    descriptor_reserve_ = kDescriptorReserve + static_cast<int64_t>(servers);
    int64_t holds = (descriptor_limit_ - descriptors_other_ - descriptor_reserve_) / 2;
    int wanted = config_.maxconn.value_or(default_maxconn_);
    maxconn_ = static_cast<int>(std::clamp<int64_t>(holds, 1, wanted));
    // Warned of at start and on a reconfigure; the sweep's recounts follow admin and control
    // clients silently. Only a configured maxconn is warned about: the default is "what the
    // descriptors hold".
    if (warn && config_.maxconn && maxconn_ < wanted && maxconn_ != warned_maxconn_) {
      log::warn("maxconn {} needs about {} descriptors, but the limit is {} ({} in use): maxconn "
                "lowered to {} (raise `ulimit -n` to have more)",
                wanted, 2 * static_cast<int64_t>(wanted) + descriptors_other_ + descriptor_reserve_,
                descriptor_limit_, open, maxconn_);
      warned_maxconn_ = maxconn_;
    }
  }
  shared_.accept_limit.store(maxconn_, std::memory_order_relaxed);
  if (maxconn_ > before)
    post_all([](Worker& w) { w.offer(); }); // clients waiting in the accept queues may come in
}

void Engine::for_each_backend(const std::function<void(balance::Backend&)>& visit) {
  for (auto& f : frontends_) {
    visit(f->backend());
    for (auto& r : f->routes())
      visit(r->backend);
  }
}

int Engine::change_servers(const std::string& address,
                           const std::function<int(balance::Backend&)>& change,
                           const std::function<void(config::Server&)>& note) {
  int matched = 0;
  for_each_backend([&](balance::Backend& backend) { matched += change(backend); });
  // The running configuration follows, routes included, so that showconfig (and a reload that
  // compares with it) sees what the servers do.
  auto note_all = [&](std::vector<config::Server>& servers) {
    for (config::Server& s : servers)
      if (config::format_endpoint(s.address) == address)
        note(s);
  };
  for (config::Frontend& f : config_.frontends) {
    note_all(f.servers);
    for (config::Route& r : f.routes)
      note_all(r.servers);
  }
  publish_changed(); // at once: the command's answer means new connections follow it
  return matched;
}

int Engine::set_server_state(const std::string& address, config::ServerState state) {
  return change_servers(
      address, [&](balance::Backend& b) { return b.set_state(address, state); },
      [&](config::Server& s) { s.state = state; });
}

int Engine::set_server_weight(const std::string& address, int weight) {
  return change_servers(
      address, [&](balance::Backend& b) { return b.set_weight(address, weight); },
      [&](config::Server& s) { s.weight = weight; });
}

void Engine::sweep() {
  // Descriptors other than the sessions' (admin and control clients, checks) come and go: they
  // are counted again every few seconds, and every sweep while the limit is near (a directory
  // read of the open descriptors; hamba stops accepting before the limit, see engine.h).
  uint64_t now = uv_now(loop_);
  int64_t estimate =
      descriptors_other_ + 2 * static_cast<int64_t>(session_count()) + descriptor_reserve_;
  if (now - descriptors_counted_at_ >= 5000 || estimate + 32 >= descriptor_limit_)
    count_descriptors();
}

void Engine::shutdown(config::Duration grace, std::function<void()> done) {
  if (shutting_down_)
    return;
  shutting_down_ = true;
  on_shutdown_done_ = std::move(done);
  grace_ = grace;
  for (auto& f : frontends_)
    f->retire();
  post_all([grace](Worker& w) { w.shutdown(grace); });
  if (workers_.empty()) {
    worker_closed_listeners();
    worker_stopped(0);
  }
}

void Engine::worker_closed_listeners() {
  // Logged once no worker listens any more: from this line on, new connections are refused.
  if (++workers_closed_ == std::max<size_t>(1, workers_.size()))
    log::info("shutting down: {} connection(s) get up to {} to finish", session_count(),
              config::format_duration(grace_));
}

void Engine::close_sessions() {
  post_all([](Worker& w) { w.close_sessions(); });
}

void Engine::worker_stopped(size_t) {
  if (++workers_stopped_ < workers_.size() || !on_shutdown_done_)
    return;
  sweep_timer_.close();
  publish_timer_.close();
  ticket_timer_.close();
  auto done = std::move(on_shutdown_done_);
  on_shutdown_done_ = nullptr;
  log::info("all connections closed");
  done();
}

} // namespace hamba::engine
