// What the transports and the relay tell a connection: reads while it reads ahead or waits to
// send its header, EOFs and resets before relaying (each state has its answer), and the relay's
// activity and end; see connection.h.
#include "base/check.h"
#include "engine/connection.h"

namespace hamba::engine {

void Connection::on_read(net::Transport& from, const char* data, size_t len) {
  if (&from != &server_io()) {
    if (state_ == ConnectionState::sending_header) {
      // The client spoke first: its bytes go in one write behind the header.
      host_->header_wait().client_spoke_after(now() - header_wait_->since);
      header_wait_.reset();
      send_header_and(std::exchange(header_due_, config::ProxyProtocol::none), data, len, false);
      return;
    }
    on_ahead(len); // read into ahead_ (read_into)
    return;
  }
  // The server spoke before the client (SMTP, SSH, a MySQL greeting): the header it is due
  // goes first, alone, then its greeting goes to the client.
  HAMBA_CHECK(state_ == ConnectionState::sending_header);
  host_->header_wait().server_spoke_first();
  header_wait_.reset();
  if (send_header_and(std::exchange(header_due_, config::ProxyProtocol::none), nullptr, 0, false))
    relay_.on_read(from, data, len);
}

void Connection::on_eof(net::Transport& from) {
  if (&from == &server_io() || &from == &server_conn_) {
    // sending_header: the server closed before anyone spoke. The relay reads its EOF again.
    header_wait_.reset();
    send_header_and(std::exchange(header_due_, config::ProxyProtocol::none), nullptr, 0, false);
    return;
  }
  switch (state_) {
  case ConnectionState::handshaking: // (the TLS transport reports this as a failure)
    handshake_failed(net::TlsFailure::closed, "the client closed during the handshake");
    return;
  case ConnectionState::prereading:
    if (ahead_->size == 0) {
      // Connected and closed without a byte: a TCP health check or a readiness probe, which
      // sends no header either (neither logged nor counted as a bad one).
      finish(End::closed);
      return;
    }
    preread_failed("the client closed first");
    return;
  case ConnectionState::queued:
    if (ahead_->payload() == 0) { // left without a request: nobody waits for an answer
      ++host_->counters().abandoned;
      finish(End::abandoned);
      return;
    }
    ahead_->eof = true; // a half-close after its request: it is served, then hears the end
    return;
  case ConnectionState::sending_header:
    // The client ends before a byte: its server still hears who it was, then the EOF.
    header_wait_.reset();
    send_header_and(std::exchange(header_due_, config::ProxyProtocol::none), nullptr, 0, true);
    return;
  default: // choosing, connecting: only read-ahead frontends read the client then
    HAMBA_CHECK(ahead_ != nullptr);
    ahead_->eof = true;
    return;
  }
}

void Connection::on_error(net::Transport& from, int) {
  if (&from == &server_io() || &from == &server_conn_) {
    if (state_ == ConnectionState::connecting) { // server_tls: the handshake failed
      server_handshake_failed();
      return;
    }
    finish(End::server_reset);
    return;
  }
  switch (state_) {
  case ConnectionState::prereading:
    preread_failed("the client reset");
    return;
  case ConnectionState::handshaking:
    handshake_failed(tls_->failure(), tls_->failure_text());
    return;
  case ConnectionState::queued:
  case ConnectionState::choosing:
  case ConnectionState::connecting:
    if (ahead_ && ahead_->payload() > 0) {
      ahead_->reset = true; // what it sent still goes to its server, then the reset
      return;
    }
    if (state_ == ConnectionState::queued) { // left before a server had room
      ++host_->counters().abandoned;
      finish(End::abandoned);
      return;
    }
    finish(End::client_reset);
    return;
  default:
    if (tls_ && tls_->record_refused())
      ++host_->counters().tls_record_errors;
    finish(End::client_reset);
    return;
  }
}

void Connection::on_relay_activity(net::Direction dir, size_t bytes) {
  last_activity_ = now();
  if (bytes == 0)
    return;
  if (header_wait_) { // the header went alone after its wait: who spoke first teaches the wait
    if (dir == net::Direction::to_client)
      host_->header_wait().server_spoke_first();
    else
      host_->header_wait().client_spoke_after(now() - header_wait_->since);
    header_wait_.reset();
  }
  if (dir == net::Direction::to_client && !server_spoke_) {
    server_spoke_ = true;
    if (server_failing_)
      report_success();
  }
  count_bytes(dir, bytes);
}

void Connection::on_relay_end(net::RelayEnd how) {
  switch (how) {
  case net::RelayEnd::closed:
    finish(End::closed);
    return;
  case net::RelayEnd::client_reset:
    if (tls_ && tls_->record_refused())
      ++host_->counters().tls_record_errors;
    finish(End::client_reset);
    return;
  case net::RelayEnd::server_reset:
    finish(End::server_reset);
    return;
  }
}

} // namespace hamba::engine
