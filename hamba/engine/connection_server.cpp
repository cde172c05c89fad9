// A connection toward its server: the choice, the queue, the connect, and a failed connect's
// retry or end; see connection.h.
#include "balance/backend.h"
#include "base/descriptors.h"
#include "base/log.h"
#include "engine/connection.h"

namespace hamba::engine {

namespace {
// What a queued client may send before hamba stops reading it (it then waits in the kernel): a
// first buffer, grown once to the limit when the client fills it.
constexpr size_t kQueueReadAheadFirst = 1024;
constexpr size_t kQueueReadAhead = 16 * 1024;
} // namespace

void Connection::choose(const balance::Server* failed) {
  wait_since_ = now();
  // Clients already waiting go first, as in HAProxy's queue: a slot freed in this loop turn is
  // theirs, so a newcomer waits behind them (a retry, which had its turn, does not).
  if (!failed && host_->queue_first()) {
    enqueue(false);
    return;
  }
  ConnectionHost::Choice pick = host_->choose(routed_view(), route(), failed, client_hash_);
  if (!pick.server) {
    // Every server is full (or none is known yet): wait, as HAProxy's queue does, until one
    // has room or the connect timeout passes.
    enqueue(false);
    return;
  }
  connect(*pick.server, *pick.pool);
}

void Connection::enqueue(bool front) {
  if (host_->retired()) { // its frontend was removed: no connection ends there to serve it
    ++host_->counters().failed;
    log::warn("frontend {}: closing client {}: no server has room and the frontend is gone",
              host_->config().name, client_label());
    finish(End::no_server);
    return;
  }
  to(ConnectionState::queued);
  host_->enqueue(*this, front);
  host_->set_deadline(*this, deadline());
  // Read while queued: the poller sees the client leave (EOF, reset) with no peek per client,
  // and what it sends is kept for its server, within a bound.
  if (!ahead_) { // small at first: most queued clients send a short request, or nothing
    ahead_.reset(new ReadAhead);
    ahead_->capacity = kQueueReadAheadFirst;
    ahead_->limit = kQueueReadAhead;
    ahead_->data.reset(new char[ahead_->capacity]);
  }
  read_ahead();
}

void Connection::connect(const balance::PoolSnapshot::Entry& server,
                         const balance::PoolSnapshot& pool) {
  to(ConnectionState::connecting);
  server_ = server.server;
  owner_ = pool.owner;
  server_failing_ = server.failing;
  ++attempts_;
  host_->set_deadline(*this, deadline());
  server_conn_.set_handler(this); // its connect comes here, even after a TLS attempt
  // Toward a route's servers, the route's server_tls (its own, or the frontend's).
  const FrontendView* routed = routed_view();
  std::shared_ptr<const net::TlsClientContext> tls =
      routed && route() >= 0 ? routed->routes[static_cast<size_t>(route())].server_tls : nullptr;
  if (tls && !server_tls_) {
    server_tls_ = std::make_unique<net::TlsTransport>(server_conn_, tls, host_->loop());
    server_tls_->set_handler(this); // the relay takes it over once connected
  } else if (tls) {
    server_tls_->renew(std::move(tls));
  } else if (server_tls_ && routed && route() >= 0) {
    server_tls_.reset(); // a route in plain TCP, on a frontend whose other routes use TLS
  } else if (server_tls_) {
    server_tls_->renew();
  }
  if (server_tls_) // a full handshake only the first time
    server_tls_->resume_from(host_->tls_session(server_));
  relay_.set_server(server_io());
  int rc = server_conn_.connect(host_->loop(), server_->sockaddr_ptr());
  const bool connected_now = rc == 1; // no on_connected comes: called below
  if (connected_now)
    rc = 0;
  if (rc == 0) // the socket was made in the connect: the SYN may be on its way, no matter
    set_tcp_options(server_conn_.fd(), host_->config().server_tcp, host_->config().idle_timeout);
  // Reading the server starts with the connect: its socket is registered with the poller once
  // for both (after the connect it would cost two more epoll_ctl calls). The transport reports
  // the connect before any read.
  if (rc == 0)
    rc = server_conn_.start_reading();
  if (rc < 0 && is_local_error(rc))
    short_of_resources(rc);
  else if (rc < 0)
    connect_failed(rc);
  else if (connected_now)
    on_connected(server_conn_, 0);
}

void Connection::server_handshake_failed() {
  // As a refused connect: the server is blamed, and the next one tried.
  connect_failed(UV_EPROTO);
}

void Connection::connect_failed(int status) {
  std::string why = status == UV_ETIMEDOUT ? "connect timeout" : uvx::error_text(status);
  if (status == UV_EPROTO && server_tls_)
    why = fmt::format("TLS handshake failed: {}", server_tls_->failure_text());
  server_io().close();
  server_conn_.close();
  balance::ServerPtr failed = server_;
  ++failed->counters.connect_errors;
  report_failure(why);
  const auto& cfg = host_->config();
  bool retry = attempts_ <= cfg.retries && !host_->shutting_down();
  log::warn("frontend {}: cannot connect to server {}: {}{}", cfg.name, failed->label(), why,
            retry ? "; trying the next server" : "");
  release_server();
  if (retry) {
    ++failed->counters.retries;
    to(ConnectionState::choosing);
    choose(failed.get());
    return;
  }
  ++host_->counters().failed;
  log::warn("frontend {}: closing client {}: no server reached after {} attempt(s)", cfg.name,
            client_label(), attempts_);
  finish(End::no_server);
}

void Connection::short_of_resources(int rc) {
  // hamba's own shortage (no descriptor or local port for the server's socket, no memory): the
  // server is not to blame and another one would fail the same way. The client waits at the
  // head of the queue for a connection to end and free what it held, or for the worker's next
  // tick to try again (or for its timeout).
  server_io().close();
  server_conn_.close();
  --attempts_;
  host_->note_local_error(rc, "connect to a server");
  release_server(false);
  enqueue(true);
}

} // namespace hamba::engine
