// The first bytes toward a connected server: the send_proxy header and the client's bytes read
// ahead (or its first read) in one write, then the relay; see connection.h.
//
// When the client has sent nothing by the connect, the header waits for its first read, so
// that both still go in one segment; a server that speaks first (SMTP, MySQL) gets the header
// alone after the frontend's learnt wait (engine/header_wait.h), before its greeting goes to
// the client. The header is built in its own buffer, never in the loop's read buffer, which may
// hold the bytes just read from either side.
#include "base/check.h"
#include "base/descriptors.h"
#include "engine/connection.h"
#include "net/read_buffer.h"
#include "net/socket.h"

namespace hamba::engine {

void Connection::on_connected(net::Transport& t, int status) {
  if (&t == tls_.get()) {
    handshake_done(); // the client's TLS handshake
    return;
  }
  if (status < 0 && is_local_error(status)) {
    short_of_resources(status);
    return;
  }
  if (status < 0) {
    connect_failed(status);
    return;
  }
  if (server_tls_ && &t == &server_conn_) {
    // Connected: a PROXY header due goes first, in clear (as HAProxy's `ssl send-proxy` does),
    // then the TLS handshake; the first bytes wait for it.
    if (const config::ProxyProtocol p = send_proxy(); p != config::ProxyProtocol::none) {
      std::string header = header_bytes(p);
      uv_buf_t buf = uv_buf_init(header.data(), static_cast<unsigned>(header.size()));
      if (server_conn_.write(&buf, 1) < 0) {
        connect_failed(UV_EPIPE);
        return;
      }
    }
    if (int rc = server_tls_->start_handshake(); rc < 0)
      connect_failed(rc);
    return;
  }
  ++server_->counters.total;
  send_first_bytes();
}

config::ProxyProtocol Connection::send_proxy() const {
  if (server_tls_ && server_tls_->established())
    return config::ProxyProtocol::none; // sent before the handshake
  return route() >= 0 ? routed_->view->routes[static_cast<size_t>(route())].config.send_proxy
                      : host_->config().send_proxy;
}

void Connection::send_first_bytes() {
  const config::ProxyProtocol protocol = send_proxy();
  if (ahead_) { // read ahead (a preread, the queue): those bytes, and the EOF if it came
    client_io().stop_reading();
    const ReadAhead& a = *ahead_;
    if (a.reset) {
      // It sent them, then reset: they go on, and so does the reset. The reset drops what the
      // kernel has not sent yet, so this is best effort: all of a request within the first
      // window (all of it on loopback), as when the reset comes while relaying.
      if (write_first(protocol, a.data.get() + a.consumed, a.payload()))
        finish(End::client_reset);
      return;
    }
    send_header_and(protocol, a.data.get() + a.consumed, a.payload(), a.eof);
    return;
  }
  if (protocol == config::ProxyProtocol::none) {
    start_relaying(false);
    return;
  }
  // What the client has sent by now (usually its request: it sent it once its own connect
  // completed, while hamba connected to the server).
  char* first = net::read_buffer();
  ssize_t n = client_io().read_now(first, net::kBufferSize);
  if (n > 0)
    send_header_and(protocol, first, static_cast<size_t>(n), false);
  else if (n == 0)
    send_header_and(protocol, nullptr, 0, true);
  else if (n == UV_EAGAIN)
    wait_for_first_bytes(protocol);
  else
    finish(End::client_reset);
}

void Connection::wait_for_first_bytes(config::ProxyProtocol protocol) {
  to(ConnectionState::sending_header);
  last_activity_ = now(); // its deadline: the idle timeout from now
  host_->set_deadline(*this, deadline());
  header_due_ = protocol;
  header_wait_ = std::make_unique<HeaderTimer>();
  header_wait_->since = now();
  header_wait_->timer.init(host_->loop(), this);
  header_wait_->timer.start<&Connection::on_header_wait>(host_->header_wait().ms());
  // Whichever side speaks first comes to on_read; the server is read since its connect.
  if (client_io().start_reading() < 0)
    finish(End::error);
}

void Connection::on_header_wait() {
  // Nobody spoke within the wait: the header goes alone (kept until one side speaks, so the
  // wait learns, with the timer stopped).
  header_wait_->timer.stop();
  send_header_and(std::exchange(header_due_, config::ProxyProtocol::none), nullptr, 0, false);
}

bool Connection::send_header_and(config::ProxyProtocol protocol, const char* data, size_t len,
                                 bool eof) {
  if (!write_first(protocol, data, len))
    return false;
  ahead_.reset(); // written, or queued in the transport's own blocks
  start_relaying(eof);
  return state_ == ConnectionState::relaying;
}

bool Connection::write_first(config::ProxyProtocol protocol, const char* data, size_t len) {
  net::ProxyHeaderBytes header;
  std::string with_tls; // the header with its TLS facts
  uv_buf_t bufs[2];
  unsigned count = 0;
  if (protocol != config::ProxyProtocol::none && tls_) {
    with_tls = header_bytes(protocol);
    bufs[count++] = uv_buf_init(with_tls.data(), static_cast<unsigned>(with_tls.size()));
  } else if (protocol != config::ProxyProtocol::none) {
    header = proxy_header(protocol);
    bufs[count++] = uv_buf_init(header.data, static_cast<unsigned>(header.size));
  }
  if (len > 0) {
    count_bytes(net::Direction::to_server, len);
    bufs[count++] = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  }
  if (count > 0 && server_io().write(bufs, count) < 0) {
    finish(End::server_reset);
    return false;
  }
  return true;
}

void Connection::start_relaying(bool client_eof) {
  if (state_ != ConnectionState::relaying)
    to(ConnectionState::relaying);
  last_activity_ = now();
  host_->set_deadline(*this, deadline());
  relay_.start(client_eof);
}

std::string Connection::header_bytes(config::ProxyProtocol protocol) const {
  net::ProxyHeaderBytes header = proxy_header(protocol);
  if (protocol != config::ProxyProtocol::v2 || !tls_ || !tls_->established())
    return std::string(header.data, header.size);
  std::string cn = tls_->peer_common_name();
  return net::with_tls_tlvs(header, {tls_->server_name(), tls_->version(), tls_->cipher(), cn});
}

net::ProxyHeaderBytes Connection::proxy_header(config::ProxyProtocol protocol) const {
  const net::ProxyVersion version =
      protocol == config::ProxyProtocol::v1 ? net::ProxyVersion::v1 : net::ProxyVersion::v2;
  if (carried_ && carried_->destination.ss_family != AF_UNSPEC)
    return net::build_proxy_header(version, reinterpret_cast<const sockaddr*>(&carried_->source),
                                   reinterpret_cast<const sockaddr*>(&carried_->destination));
  sockaddr_storage peer{}, local{};
  const sockaddr* p = reinterpret_cast<sockaddr*>(&peer);
  if (carried_)
    p = reinterpret_cast<const sockaddr*>(&carried_->source); // kept from the accept
  else if (net::sock::peer_address(client_.fd(), peer) != 0)
    return net::build_proxy_header(version, nullptr, nullptr);
  // The listener's own address when it is bound to one: no getsockname per connection.
  const sockaddr* destination = host_->local_address();
  if (!destination) {
    if (net::sock::local_address(client_.fd(), local) != 0)
      return net::build_proxy_header(version, nullptr, nullptr);
    destination = reinterpret_cast<const sockaddr*>(&local);
  }
  return net::build_proxy_header(version, p, destination);
}

} // namespace hamba::engine
