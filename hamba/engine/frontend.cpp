// A frontend's listener, queue and backend; see frontend.h.
#include "engine/frontend.h"

#include "base/log.h"
#include "engine/engine.h"
#include "engine/session.h"

#include <algorithm>

namespace hamba::engine {

namespace {

std::string describe_at(const config::Frontend& f, const std::string& where) {
  std::string servers;
  for (const config::Server& s : f.servers)
    servers += (servers.empty() ? "" : ", ") + config::format_endpoint(s.address);
  return fmt::format("{} ({}): {}", where,
                     f.balance == config::Balance::leastconn ? "leastconn" : "roundrobin", servers);
}

} // namespace

std::string describe(const config::Frontend& f) {
  // An empty host is every address; which socket that took ([::] or 0.0.0.0) is logged when
  // the frontend starts listening.
  return describe_at(f, f.bind.host.empty() ? fmt::format("*:{}", f.bind.port)
                                            : config::format_endpoint(f.bind));
}

Frontend::Frontend(Engine& engine, const config::Frontend& config)
    : engine_(engine), config_(config), backend_(engine.loop(), config, [this] { serve_queue(); }) {
}

Frontend::~Frontend() = default;

void Frontend::start() {
  listener_ =
      std::make_unique<net::Listener>(engine_.loop(), config_.bind, [this] { accept_pending(); });
  log::info("frontend {}: listening on {}", config_.name,
            describe_at(config_, config::format_endpoint(listener_->bound())));
  backend_.start();
}

void Frontend::update(const config::Frontend& config) {
  config_ = config;
  backend_.update(config);
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
  while (!queue_.empty())
    queue_.front()->close(); // dequeues itself
}

void Frontend::accept_pending() {
  // shared_from_this: the session keeps its frontend alive.
  while (listener_ && listener_->pending() && engine_.can_accept())
    net::Session::accept(shared_from_this(), *listener_);
}

void Frontend::enqueue(net::Session* session) {
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
  while (!queue_.empty()) {
    balance::ServerPtr server = backend_.pick();
    if (!server)
      break;
    net::Session* s = queue_.front();
    queue_.pop_front();
    counters_.queued = queue_.size();
    s->connect(std::move(server));
  }
  serving_queue_ = false;
}

} // namespace hamba::engine
