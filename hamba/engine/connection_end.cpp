// How a connection ends: the record of who ended it, the counters, the log line, the server's
// slot given back and both sides closed; see connection.h.
#include "balance/backend.h"
#include "base/check.h"
#include "base/endpoint.h"
#include "base/log.h"
#include "engine/connection.h"
#include "engine/engine.h"
#include "net/socket.h"

namespace hamba::engine {

Connection::Culprit Connection::culprit_of(End end) {
  switch (end) {
  case End::client_reset:
  case End::bad_proxy_header:
  case End::bad_client_hello:
  case End::bad_handshake:
  case End::abandoned:
  case End::refused:
  case End::tarpitted:
    return Culprit::client;
  case End::server_reset:
  case End::no_server:
    return Culprit::server;
  case End::error:
  case End::cut:
    return Culprit::hamba;
  case End::closed:
  case End::timeout:
    return Culprit::none;
  }
  return Culprit::none;
}

void Connection::finish(End how) {
  const ConnectionState was = state_;
  to(ConnectionState::closing); // checks it is the first end: a connection finishes once
  if (log_)
    report_end(how, was);
  if (server_ && how == End::client_reset)
    ++server_->counters.resets_by_client;
  if (server_ && how == End::server_reset) {
    ++server_->counters.resets_by_server;
    // Reset before its first byte: as telling as a refused connect (HAProxy's observe layer4).
    if (was == ConnectionState::relaying && !server_spoke_)
      report_failure("reset before its first byte");
  }
  if (was == ConnectionState::queued)
    host_->dequeue(*this);
  header_wait_.reset();
  cancel(); // its deadline
  // The failed side's connection is gone already; the other one learns of it by a reset.
  const Culprit culprit = culprit_of(how);
  const bool hamba_ends = culprit == Culprit::hamba;
  if (how == End::server_reset || how == End::refused || hamba_ends)
    client_io().reset();
  if (how == End::client_reset || hamba_ends)
    server_io().reset();
  client_io().close();
  client_.close();
  server_io().close();
  server_conn_.close();
  auto& c = host_->counters();
  HAMBA_DCHECK(c.current.load(std::memory_order_relaxed) > 0);
  --c.current;
  release_server();
  source_place_.release();
  to(ConnectionState::closed);
  host_->closed(*this); // the host deletes this after the current loop phase
}

void Connection::count_bytes(net::Direction dir, uint64_t n) {
  if (log_)
    log_->bytes[static_cast<int>(dir)] += n;
  if (dir == net::Direction::to_server) {
    server_->counters.bytes_in.fetch_add(n, std::memory_order_relaxed);
    host_->counters().bytes_in.fetch_add(n, std::memory_order_relaxed);
  } else {
    server_->counters.bytes_out.fetch_add(n, std::memory_order_relaxed);
    host_->counters().bytes_out.fetch_add(n, std::memory_order_relaxed);
  }
}

void Connection::release_server(bool serve_queue) {
  if (!server_)
    return;
  HAMBA_DCHECK(server_->counters.current.load(std::memory_order_relaxed) > 0);
  server_->release();
  balance::ServerPtr s = std::move(server_);
  if (s->vanished()) // its last connection may be this one: the main loop lets it go
    host_->report([owner = owner_, s](Engine&) {
      if (auto backend = owner.lock())
        backend->released(*s);
    });
  if (serve_queue)
    host_->released();
}

void Connection::report_failure(const std::string& why) {
  host_->report([owner = owner_, server = server_, why](Engine&) {
    if (auto backend = owner.lock())
      backend->traffic_failure(*server, why);
  });
}

void Connection::report_success() {
  host_->report([owner = owner_, server = server_](Engine&) {
    if (auto backend = owner.lock())
      backend->traffic_success(*server);
  });
}

std::string Connection::client_label() const {
  if (carried_)
    return format_sockaddr(reinterpret_cast<const sockaddr*>(&carried_->source));
  sockaddr_storage addr{};
  if (!client_.open() || net::sock::peer_address(client_.fd(), addr) != 0)
    return "?";
  return format_sockaddr(reinterpret_cast<sockaddr*>(&addr));
}

void Connection::report_end(End how, ConnectionState was) {
  const auto* log = host_->session_log();
  if (!log)
    return;
  SessionEnd e;
  e.frontend = host_->config().name;
  e.client = log_->client;
  if (server_) {
    e.server = config::format_endpoint(server_->name());
    e.address = server_->address();
  }
  e.tls_subject = log_->tls_subject;
  e.bytes_in = log_->bytes[0];
  e.bytes_out = log_->bytes[1];
  e.duration_ms = now() - log_->started;
  // Indexed by End; a queued client that left is logged as the orderly end it was.
  constexpr const char* kEnds[] = {"closed",
                                   "client reset",
                                   "server reset",
                                   "error",
                                   "hamba reset",
                                   "idle timeout",
                                   "no server",
                                   "closed",
                                   "bad proxy header",
                                   "bad client hello",
                                   "refused",
                                   "bad tls handshake",
                                   "tarpit"};
  e.end = how == End::timeout && was == ConnectionState::queued ? "queue timeout"
                                                                : kEnds[static_cast<int>(how)];
  (*log)(e);
}

} // namespace hamba::engine
