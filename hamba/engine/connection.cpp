// A connection's life before its server is chosen: accept, read-ahead, the TLS handshake, and
// its deadlines; see connection.h. The choice, the queue and the connect are
// connection_server.cpp's, the transports' events connection_events.cpp's, the first bytes
// toward the server connection_first_bytes.cpp's, the end connection_end.cpp's.
#include "engine/connection.h"

#include "balance/backend.h"
#include "balance/source_hash.h"
#include "base/check.h"
#include "base/descriptors.h"
#include "base/endpoint.h"
#include "base/log.h"
#include "net/preread.h"
#include "net/socket.h"

#include <cstring>

namespace hamba::engine {

namespace {
std::string peer_name(const net::TcpTransport& t) {
  sockaddr_storage addr{};
  if (!t.open() || net::sock::peer_address(t.fd(), addr) != 0)
    return "?";
  return format_sockaddr(reinterpret_cast<sockaddr*>(&addr));
}

net::PrereadSteps steps_of(const config::Frontend& cfg, bool proxy_header) {
  // With tls the routes match the terminated handshake's server name: no hello is read ahead.
  return {proxy_header, !cfg.routes.empty() && !cfg.tls};
}

} // namespace

// One side's keepalive and user timeout on a new socket, which has the kernel's defaults (an
// accepted one inherits the listening socket's, which hamba leaves at those too): nothing is
// set that is off. Keepalive is left off where it would never probe: hamba's own idle timeout
// ends a connection silent that long first, and traffic either way reaches both sockets (data
// or its ACKs). So the default toward servers costs short connections no system call, and
// probes the connections allowed to idle longer (an ambassador's). The figures were checked at
// load; a socket that still refuses one goes on without it, which is no reason to end a
// connection.
void Connection::set_tcp_options(int fd, const config::TcpOptions& o,
                                 config::Duration idle_timeout) {
  if (fd < 0)
    return;
  const config::TcpKeepalive& k = o.keepalive;
  if (k.enabled && k.idle < idle_timeout)
    net::sock::set_keepalive(fd, true, static_cast<int>(k.idle.count() / 1000),
                             static_cast<int>(k.interval.count() / 1000), k.count);
  if (o.user_timeout.count() > 0)
    net::sock::set_user_timeout(fd, static_cast<unsigned>(o.user_timeout.count()));
}

int Connection::accept(std::shared_ptr<ConnectionHost> host, net::Listener& listener,
                       bool proxy_header, SourcePlace place) {
  auto* c = new Connection(std::move(host));
  c->expects_header_ = proxy_header;
  c->source_place_ = std::move(place);
  sockaddr_storage peer;
  int rc = listener.accept(&peer);
  if (rc >= 0)
    rc = c->client_.adopt(c->host_->loop(), rc);
  if (rc < 0) {
    c->state_ = ConnectionState::closed; // never opened
    delete c;
    return rc;
  }
  set_tcp_options(c->client_.fd(), c->host_->config().client_tcp, c->host_->config().idle_timeout);
  c->host_->opened(*c);
  c->start(peer);
  return 0;
}

Connection::Connection(std::shared_ptr<ConnectionHost> host) : host_(std::move(host)) {
  client_.set_handler(this);
  server_conn_.set_handler(this);
}

std::unique_ptr<net::TlsTransport> Connection::make_tls() {
  const auto& view = host_->view_ptr();
  if (!view->tls)
    return nullptr;
  return std::make_unique<net::TlsTransport>(client_, view->tls, host_->loop(), view->ticket_keys);
}

std::unique_ptr<net::TlsTransport> Connection::make_server_tls() {
  const auto& view = host_->view_ptr();
  if (!view->server_tls)
    return nullptr;
  auto t = std::make_unique<net::TlsTransport>(server_conn_, view->server_tls, host_->loop());
  t->set_handler(this); // the relay takes it over once connected
  return t;
}

Connection::~Connection() {
  HAMBA_DCHECK(state_ == ConnectionState::closed);
}

void Connection::to(ConnectionState next) {
  HAMBA_CHECK(transition_allowed(state_, next));
  state_ = next;
  since_ = now();
}

void Connection::start(const sockaddr_storage& peer) {
  auto& c = host_->counters();
  ++c.total;
  ++c.current;
  last_activity_ = since_ = now();
  const auto* peer_address = reinterpret_cast<const sockaddr*>(&peer);
  const bool known = peer.ss_family == AF_INET || peer.ss_family == AF_INET6;
  if (host_->session_log())
    log_.reset(
        new LogState{now(), {0, 0}, known ? format_sockaddr(peer_address) : peer_name(client_)});
  const auto& cfg = host_->config();
  // With accept_proxy the client to hash is the one its header carries, if any (examine).
  if (cfg.balance == config::Balance::source && known)
    client_hash_ = balance::hash_client(peer_address);
  // The header's source, without a getpeername at the connect.
  if (host_->may_send_proxy() && !expects_header_ && known) {
    carried_.reset(new Carried{peer, {}});
    carried_->destination.ss_family = AF_UNSPEC;
  }
  const net::PrereadSteps steps = steps_of(cfg, expects_header_);
  if (!steps.proxy_header && !steps.client_hello && tls_) {
    begin_handshake();
    return;
  }
  if (!steps.proxy_header && !steps.client_hello) {
    to(ConnectionState::choosing);
    choose(nullptr);
    return;
  }
  to(ConnectionState::prereading);
  host_->set_deadline(*this, deadline());
  ahead_.reset(new ReadAhead);
  ahead_->capacity = ahead_->limit = net::preread_capacity(steps);
  ahead_->data.reset(new char[ahead_->capacity]);
  // A client speaks as soon as its connect completes (a TLS client sends its hello), so its
  // first bytes are often here by the accept: they are read at once, and the poller waits only
  // for what has not come yet.
  ssize_t n = client_.read_now(ahead_->data.get(), ahead_->capacity);
  if (n > 0)
    on_ahead(static_cast<size_t>(n));
  else if (n == 0)
    on_eof(client_);
  else if (n != UV_EAGAIN)
    on_error(client_, static_cast<int>(n));
  else
    read_ahead();
}

bool Connection::read_ahead() {
  // Reading goes on while the buffer has room, from the preread through the queue and the
  // connect; a full buffer stops it (the client waits in the kernel until relaying). After
  // the client's EOF or reset there is nothing more to read (libuv refuses a read after a
  // reset).
  ReadAhead& a = *ahead_;
  if (a.eof || a.reset)
    return true;
  if (a.size == a.capacity && a.capacity < a.limit) { // a queued client's buffer grows once
    auto bigger = std::make_unique<char[]>(a.limit);
    std::memcpy(bigger.get(), a.data.get(), a.size);
    a.data = std::move(bigger);
    a.capacity = a.limit;
  }
  if (a.size == a.capacity)
    return true;
  net::Transport& from = state_ == ConnectionState::prereading ? client_ : client_io();
  if (from.read_into(a.data.get() + a.size, a.capacity - a.size) < 0) {
    finish(End::error);
    return false;
  }
  return true;
}

void Connection::on_ahead(size_t n) {
  ahead_->size += n;
  if (state_ == ConnectionState::prereading)
    examine();
  else
    static_cast<void>(read_ahead());
}

void Connection::examine() {
  const auto& cfg = host_->config();
  ReadAhead& a = *ahead_;
  net::PrereadResult r =
      net::examine_preread(a.data.get(), a.size, a.capacity, steps_of(cfg, expects_header_));
  a.consumed = r.consumed; // the header, once whole, even while the hello is not
  switch (r.verdict) {
  case net::PrereadVerdict::need_more:
    read_ahead();
    return;
  case net::PrereadVerdict::bad_proxy_header:
  case net::PrereadVerdict::bad_client_hello:
    preread_failed(r.reason);
    return;
  case net::PrereadVerdict::done:
    break;
  }
  if (expects_header_ && !admit_carried(r))
    return;
  if (r.carried) {
    carried_.reset(new Carried{r.source, r.destination});
    if (log_)
      log_->client = format_sockaddr(reinterpret_cast<const sockaddr*>(&carried_->source));
    if (cfg.balance == config::Balance::source)
      client_hash_ = balance::hash_client(reinterpret_cast<const sockaddr*>(&r.source));
  } else if (expects_header_) {
    carried_.reset(); // LOCAL or UNKNOWN: the connection's own address stands
  }
  if (tls_) { // what followed the header is the start of the handshake
    tls_->feed(a.data.get() + a.consumed, a.payload());
    ahead_.reset();
    begin_handshake();
    return;
  }
  if (!cfg.routes.empty()) {
    routed_.reset(new Routed{host_->view_ptr(), -1});
    routed_->route = routed_->view->route_for(r.server_name());
  }
  to(ConnectionState::choosing);
  if (read_ahead()) // what the client sends meanwhile joins the bytes read ahead
    choose(nullptr);
}

bool Connection::admit_carried(const net::PrereadResult& r) {
  // The lists judge the client the header names; a header that names none (LOCAL, UNKNOWN:
  // the sender speaking for itself) leaves the sender's own address, which `from` trusted.
  sockaddr_storage own{};
  const sockaddr* source = reinterpret_cast<const sockaddr*>(&r.source);
  if (!r.carried) {
    source = net::sock::peer_address(client_.fd(), own) == 0
                 ? reinterpret_cast<const sockaddr*>(&own)
                 : nullptr;
  }
  const auto& cfg = host_->config();
  const std::optional<Address128> address = address_of(source);
  bool refused = false;
  Refusal why = Refusal::not_allowed;
  if (cfg.allow.given() || cfg.deny.given()) {
    const std::optional<Refusal> listed = address ? check_lists(cfg, *address) : std::nullopt;
    refused = listed.has_value() || (!address && cfg.allow.given());
    why = listed.value_or(Refusal::not_allowed);
  }
  // The per-source limits count the client the header names. Over a limit with action tarpit,
  // the socket is held as at accept (the bytes read so far are dropped; what follows stays
  // unread in the kernel).
  const std::shared_ptr<SourceTable>& table = host_->view_ptr()->sources;
  if (!refused && address && table) {
    SourceTable::Admission a = table->admit(*address, now(), limits_of(cfg.per_source));
    refused = a.refusal.has_value();
    why = a.refusal.value_or(why);
    source_place_ = SourcePlace(table, a.slot);
  }
  if (!refused)
    return true;
  host_->note_refusal(why, source);
  const bool over_limit = why == Refusal::source_maxconn || why == Refusal::source_rate;
  finish(over_limit && cfg.per_source.action == config::OverLimit::tarpit &&
                 host_->hold_in_tarpit(client_.fd())
             ? End::tarpitted
             : End::refused);
  return false;
}

void Connection::preread_failed(const char* reason) {
  const auto& cfg = host_->config();
  const bool header = expects_header_ && ahead_->consumed == 0;
  auto& c = host_->counters();
  ++(header ? c.proxy_header_errors : c.client_hello_errors);
  log::warn("frontend {}: closing client {}: {}: {}", cfg.name, client_label(),
            header ? "no valid PROXY header" : "no valid TLS ClientHello", reason);
  finish(header ? End::bad_proxy_header : End::bad_client_hello);
}

void Connection::begin_handshake() {
  to(ConnectionState::handshaking);
  host_->set_deadline(*this, deadline());
  tls_->set_handler(this);
  if (int rc = tls_->start_handshake(); rc < 0)
    finish(End::error);
}

void Connection::handshake_done() {
  const auto& cfg = host_->config();
  if (log_ && cfg.tls && !cfg.tls->client_ca.empty())
    log_->tls_subject = tls_->peer_subject();
  if (!cfg.routes.empty()) {
    routed_.reset(new Routed{host_->view_ptr(), -1});
    routed_->route = routed_->view->route_for(tls_->server_name());
  }
  to(ConnectionState::choosing);
  choose(nullptr);
}

void Connection::handshake_failed(net::TlsFailure why, const char* text) {
  if (why == net::TlsFailure::closed && !tls_->heard()) {
    // Connected and closed without a byte: a TCP health check or a readiness probe.
    finish(End::closed);
    return;
  }
  if (why == net::TlsFailure::none)
    why = net::TlsFailure::protocol;
  ++host_->counters().tls_handshake_errors[static_cast<int>(why) - 1];
  host_->note_tls_failure(why, client_label(), text);
  finish(End::bad_handshake);
}

uint64_t Connection::deadline() const {
  const auto& cfg = host_->config();
  switch (state_) {
  case ConnectionState::prereading:
    return since_ + static_cast<uint64_t>(cfg.preread_timeout.count());
  case ConnectionState::handshaking:
    return since_ + static_cast<uint64_t>(cfg.tls_handshake_timeout.count());
  case ConnectionState::queued: // since it began to look for this server, however often put back
    return wait_since_ + static_cast<uint64_t>(cfg.connect_timeout.count());
  case ConnectionState::connecting:
    return since_ + static_cast<uint64_t>(cfg.connect_timeout.count());
  default:
    return last_activity_ + static_cast<uint64_t>(cfg.idle_timeout.count());
  }
}

void Connection::on_deadline(uint64_t now_ms) {
  if (state_ == ConnectionState::closing || state_ == ConnectionState::closed)
    return;
  // Looked at again now: a state entered since the deadline was set has its own.
  if (uint64_t due = deadline(); now_ms < due) {
    host_->set_deadline(*this, due);
    return;
  }
  const auto& cfg = host_->config();
  switch (state_) {
  case ConnectionState::prereading:
    preread_failed("nothing complete within preread_timeout");
    return;
  case ConnectionState::handshaking:
    handshake_failed(net::TlsFailure::timeout, "not done within tls_handshake_timeout");
    return;
  case ConnectionState::connecting:
    connect_failed(UV_ETIMEDOUT);
    return;
  case ConnectionState::queued:
    ++host_->counters().timeouts;
    ++host_->counters().failed;
    log::warn("frontend {}: closing client {}: no server had room within {}", cfg.name,
              client_label(), config::format_duration(cfg.connect_timeout));
    finish(End::timeout);
    return;
  default:
    ++host_->counters().timeouts;
    finish(End::timeout);
    return;
  }
}

void Connection::close() {
  if (state_ != ConnectionState::closing && state_ != ConnectionState::closed)
    finish(End::cut);
}

} // namespace hamba::engine
