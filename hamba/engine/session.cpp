// The proxied connection: connect with retries, then the pump; see session.h.
#include "engine/session.h"

#include "balance/backend.h"
#include "balance/source_hash.h"
#include "base/descriptors.h"
#include "base/log.h"
#include "engine/engine.h"
#include "engine/worker.h"
#include "engine/worker_frontend.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <utility>

namespace hamba::net {

// send_preread copies the header and every byte read ahead into the loop's read buffer for one
// write: the most a preread may hold (a PROXY header, then a ClientHello) must fit beside it.
static_assert(sizeof(ProxyHeaderBytes::data) + kProxyHeaderMaxInput + kClientHelloMaxBytes <=
              kBufferSize);

namespace {

Session* session_of(const void* handle) {
  return uvx::Handle<uv_tcp_t>::owner<Session>(handle);
}

// Makes the coming close send a RST instead of a FIN (what uv_tcp_close_reset does), so a
// reset on one side is passed on as a reset.
void arm_reset(const uvx::Handle<uv_tcp_t>& tcp) {
  uv_os_fd_t fd;
  if (tcp && uv_fileno(tcp.base(), &fd) == 0) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
}

// True when the socket holds an unreported reset. libuv reports UV_EOF without reading again
// after a partial read when the poll said POLLHUP (unix stream.c), so a reset that came with the
// last data arrives as an EOF; a FIN leaves no error, a reset leaves ECONNRESET (EPIPE after a
// FIN: the data was complete, that stays an EOF). That EOF is the one without a buffer
// (buf->base == nullptr); an EOF from a read that returned 0 is a FIN for sure and needs no
// look (one getsockopt less per direction and connection).
bool reset_pending(uv_stream_t* stream) {
  uv_os_fd_t fd;
  int error = 0;
  socklen_t len = sizeof error;
  return uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) == 0 &&
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == ECONNRESET;
}

// What the client has sent by now, read without waiting (outside libuv's reads: before they
// start, or while they are off): bytes read, 0 on its EOF, else a libuv error (UV_EAGAIN: none
// yet).
ssize_t read_now(const uvx::Handle<uv_tcp_t>& tcp, char* into, size_t size) {
  uv_os_fd_t fd = -1;
  uv_fileno(tcp.base(), &fd);
  ssize_t n;
  do
    n = ::recv(fd, into, size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n >= 0 ? n : uv_translate_sys_error(errno);
}

std::string peer_name(const uvx::Handle<uv_tcp_t>& tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (!tcp || uv_tcp_getpeername(tcp.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return "?";
  return format_sockaddr(reinterpret_cast<sockaddr*>(&addr));
}

} // namespace

void Session::accept(std::shared_ptr<engine::WorkerFrontend> frontend, Listener& listener) {
  engine::Worker& worker = frontend->worker();
  auto* s = new Session(std::move(frontend));
  sockaddr_storage peer;
  int rc = s->client_.init([&](uv_tcp_t* h) { return uv_tcp_init(worker.loop(), h); });
  if (rc == 0)
    rc = listener.accept(s->client_.get(), &peer);
  if (rc < 0) {
    s->frontend_->note_accept_error(rc);
    delete s;
    return;
  }
  s->client_.set_data(s);
  worker.add_session(s);
  s->start(peer);
}

Session::Session(std::shared_ptr<engine::WorkerFrontend> frontend)
    : frontend_(std::move(frontend)) {}

uv_loop_t* Session::loop() const {
  return frontend_->worker().loop();
}

Session::~Session() = default; // everything was released by finish()

void Session::start(const sockaddr_storage& peer) {
  auto& c = frontend_->counters();
  ++c.total;
  ++c.current;
  const auto* peer_address = reinterpret_cast<const sockaddr*>(&peer);
  const bool known = peer.ss_family == AF_INET || peer.ss_family == AF_INET6;
  if (frontend_->worker().session_log())
    log_.reset(new LogState{
        uv_now(loop()), {0, 0}, known ? format_sockaddr(peer_address) : peer_name(client_)});
  // TCP_NODELAY: inherited from the listening socket (net/listening_socket.cpp).
  const auto& cfg = frontend_->config();
  // With accept_proxy the client to hash is the one its header carries, if it carries one
  // (examine_preread).
  if (cfg.balance == config::Balance::source && known)
    client_hash_ = balance::hash_client(peer_address);
  // The header's source, without a getpeername at the connect.
  if (frontend_->may_send_proxy() && !cfg.accept_proxy && known) {
    carried_.reset(new Carried{peer, {}});
    carried_->destination.ss_family = AF_UNSPEC;
  }
  if (cfg.accept_proxy || !cfg.routes.empty()) {
    state_ = State::preread;
    last_activity_ = uv_now(loop()); // not moved by reads: a whole deadline
    preread_.reset(new Preread);
    preread_->capacity = (cfg.accept_proxy ? kProxyHeaderMaxInput : 0) +
                         (cfg.routes.empty() ? 0 : kClientHelloMaxBytes);
    preread_->data.reset(new char[preread_->capacity]);
    // A client speaks as soon as its connect completes (a TLS client sends its hello), so its
    // first bytes are often here by the accept: they are read at once, and the poller waits
    // only for what has not come yet (a loop round less before the server's connect).
    ssize_t n = read_now(client_, preread_->data.get(), preread_->capacity);
    if (n != UV_EAGAIN)
      on_preread(n == 0 ? static_cast<ssize_t>(UV_EOF) : n);
    if (finished_)
      return;
    if (int rc = uv_read_start(client_.stream(), on_preread_alloc, on_read_cb); rc < 0)
      finish(End::error);
    else
      read_ahead_on_ = true;
    return;
  }
  pick_and_connect(nullptr);
}

void Session::on_preread_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  Session* self = session_of(handle);
  Preread* p = self ? self->preread_.get() : nullptr;
  if (!p) {
    *buf = uv_buf_init(read_buffer(), kBufferSize);
    return;
  }
  *buf = uv_buf_init(p->data.get() + p->size, static_cast<unsigned>(p->capacity - p->size));
}

void Session::on_preread(ssize_t nread) {
  if (nread == UV_EOF && preread_->size == 0) {
    // Connected and closed without a byte: a TCP health check or a readiness probe, which
    // sends no header either (so neither logged nor counted as a bad one).
    finish(End::closed);
    return;
  }
  if (nread < 0) {
    preread_failed(nread == UV_EOF ? "the client closed first" : "the client reset");
    return;
  }
  if (nread == 0)
    return;
  preread_->size += static_cast<size_t>(nread);
  examine_preread();
}

void Session::on_read_ahead(ssize_t nread) {
  Preread& p = *preread_;
  if (nread > 0) {
    p.size += static_cast<size_t>(nread);
    if (p.size < p.capacity)
      return;
  } else if (nread != UV_EOF) {
    if (nread < 0)
      finish(End::client_reset);
    return;
  }
  // Full (the client waits until relaying takes the bytes), or the client's EOF: its reads see
  // the EOF again once relaying (a reset behind it, too).
  uv_read_stop(client_.stream());
  read_ahead_on_ = false;
}

void Session::examine_preread() {
  const auto& cfg = frontend_->config();
  Preread& p = *preread_;
  if (cfg.accept_proxy && !p.header_done) {
    ProxyHeaderResult r = parse_proxy_header(p.data.get(), p.size);
    if (r.status == ProxyHeaderStatus::need_more)
      return; // the parser answers done or error before the buffer can fill
    if (r.status == ProxyHeaderStatus::error) {
      preread_failed(r.reason);
      return;
    }
    p.header = r.consumed;
    p.header_done = true;
    if (!r.local) {
      carried_.reset(new Carried{r.source, r.destination});
      if (log_)
        log_->client = format_sockaddr(reinterpret_cast<const sockaddr*>(&carried_->source));
    }
    // LOCAL: the connection's own address, hashed at the start, stands.
    if (cfg.balance == config::Balance::source && carried_)
      client_hash_ = balance::hash_client(reinterpret_cast<const sockaddr*>(&carried_->source));
  }
  if (!cfg.routes.empty()) {
    ClientHelloResult r = peek_client_hello(p.data.get() + p.header, p.size - p.header);
    if (r.status == ClientHelloStatus::need_more)
      return; // the peeker answers malformed at its bound, which the buffer holds
    if (r.status != ClientHelloStatus::done) {
      preread_failed(r.reason);
      return;
    }
    routed_view_ = frontend_->view_ptr();
    route_ = routed_view_->route_for(r.server_name());
  }
  pick_and_connect(nullptr);
}

void Session::preread_failed(const char* reason) {
  const auto& cfg = frontend_->config();
  bool header = cfg.accept_proxy && !preread_->header_done;
  auto& c = frontend_->counters();
  ++(header ? c.proxy_header_errors : c.client_hello_errors);
  log::warn("frontend {}: closing client {}: {}: {}", cfg.name, client_label(),
            header ? "no valid PROXY header" : "no valid TLS ClientHello", reason);
  finish(header ? End::bad_proxy_header : End::bad_client_hello);
}

bool Session::send_preread() {
  const config::ProxyProtocol protocol =
      route_ >= 0 ? routed_view_->routes[static_cast<size_t>(route_)].config.send_proxy
                  : frontend_->config().send_proxy;
  if (protocol == config::ProxyProtocol::none) {
    if (preread_) {
      size_t n = preread_->size - preread_->header;
      if (n > 0) {
        count_bytes(Direction::to_server, n);
        forward(Direction::to_server, preread_->data.get() + preread_->header, n);
      }
      preread_.reset(); // forward() kept what the kernel did not take
    }
    return !finished_;
  }
  // The header and the client's first bytes go in one write: one segment for the server to
  // take and acknowledge, not two. Those bytes are the ones read ahead, or else what the
  // client has sent by now (usually its request: it sent it once its connect completed, while
  // hamba was connecting to the server).
  ProxyHeaderBytes h = proxy_header(protocol);
  char* out = read_buffer();
  std::memcpy(out, h.data, h.size);
  size_t first = 0;
  if (preread_) {
    first = preread_->size - preread_->header;
    std::memcpy(out + h.size, preread_->data.get() + preread_->header, first);
    preread_.reset();
  } else {
    ssize_t n = read_now(client_, out + h.size, kBufferSize - h.size);
    if (n > 0)
      first = static_cast<size_t>(n);
    else if (n < 0 && n != UV_EAGAIN) {
      finish(End::client_reset);
      return false;
    } else if (n < 0) {
      // Nothing yet: the header waits for the client's first read, or at most the frontend's
      // learnt wait for a server that speaks first (on_header_wait, engine/header_wait.h).
      header_due_ = protocol;
      header_wait_ = std::make_unique<HeaderTimer>();
      header_wait_->since = uv_now(loop());
      header_wait_->timer.init(loop(), this);
      header_wait_->timer.start<&Session::on_header_wait>(frontend_->header_wait().ms());
      return true;
    }
    // n == 0 is the client's EOF, which its reads see again once relaying.
  }
  if (first > 0)
    count_bytes(Direction::to_server, first);
  forward(Direction::to_server, out, h.size + first);
  return !finished_;
}

void Session::on_header_wait() {
  send_due_header(nullptr, 0);
}

void Session::client_spoke() {
  frontend_->header_wait().client_spoke_after(uv_now(loop()) - header_wait_->since);
  header_wait_.reset();
}

void Session::send_due_header(const char* data, size_t len) {
  ProxyHeaderBytes h = proxy_header(header_due_);
  header_due_ = config::ProxyProtocol::none;
  char* out = read_buffer();
  if (h.size + len > kBufferSize) { // a read that filled the buffer: two writes, in order
    forward(Direction::to_server, h.data, h.size);
    if (!finished_)
      forward(Direction::to_server, data, len);
    return;
  }
  if (len > 0) // the read is in that buffer: moved up, not copied
    std::memmove(out + h.size, data, len);
  std::memcpy(out, h.data, h.size);
  forward(Direction::to_server, out, h.size + len);
}

ProxyHeaderBytes Session::proxy_header(config::ProxyProtocol protocol) const {
  const ProxyVersion version =
      protocol == config::ProxyProtocol::v1 ? ProxyVersion::v1 : ProxyVersion::v2;
  if (carried_ && carried_->destination.ss_family != AF_UNSPEC)
    return build_proxy_header(version, reinterpret_cast<const sockaddr*>(&carried_->source),
                              reinterpret_cast<const sockaddr*>(&carried_->destination));
  sockaddr_storage peer{}, local{};
  int plen = sizeof peer, llen = sizeof local;
  const sockaddr* p = reinterpret_cast<sockaddr*>(&peer);
  if (carried_)
    p = reinterpret_cast<const sockaddr*>(&carried_->source); // kept from the accept
  else if (uv_tcp_getpeername(client_.get(), reinterpret_cast<sockaddr*>(&peer), &plen) != 0)
    return build_proxy_header(version, nullptr, nullptr);
  // The listener's own address when it is bound to one: no getsockname per connection.
  const sockaddr* destination = frontend_->local_address();
  if (!destination) {
    if (uv_tcp_getsockname(client_.get(), reinterpret_cast<sockaddr*>(&local), &llen) != 0)
      return build_proxy_header(version, nullptr, nullptr);
    destination = reinterpret_cast<const sockaddr*>(&local);
  }
  return build_proxy_header(version, p, destination);
}

std::string Session::client_label() const {
  if (carried_)
    return format_sockaddr(reinterpret_cast<const sockaddr*>(&carried_->source));
  return peer_name(client_);
}

void Session::pick_and_connect(const balance::Server* failed) {
  last_activity_ = uv_now(loop());
  const balance::PoolSnapshot& pool = frontend_->pool(routed_view_.get(), route_);
  const balance::PoolSnapshot::Entry* server =
      frontend_->pick(routed_view_.get(), route_, failed, client_hash_);
  if (!server) {
    // Every server is full (or none is known yet): wait, as HAProxy's queue does, until one
    // has room or the connect timeout passes.
    state_ = State::queued;
    frontend_->enqueue(this);
    return;
  }
  connect(*server, pool);
}

void Session::connect(const balance::PoolSnapshot::Entry& server,
                      const balance::PoolSnapshot& pool) {
  state_ = State::connecting;
  server_ = server.server;
  owner_ = pool.owner;
  server_failing_ = server.failing;
  ++attempts_;
  last_activity_ = uv_now(loop());
  int rc = server_conn_.init([&](uv_tcp_t* h) { return uv_tcp_init(loop(), h); });
  if (rc == 0) {
    server_conn_.set_data(this);
    uv_tcp_nodelay(server_conn_.get(), 1); // applied when libuv creates the socket
    rc = connect_.start<&Session::on_connected>(this, [&](uv_connect_t* req, auto done) {
      return uv_tcp_connect(req, server_conn_.get(), server_->sockaddr_ptr(), done);
    });
  }
  // Reading the server starts with the connect: its socket is then registered with the poller
  // once for both the connect and the reads (starting after the connect costs libuv two more
  // epoll_ctl calls per connection). libuv reports the connect before any read.
  if (rc == 0)
    rc = uv_read_start(server_conn_.stream(), on_alloc, on_read_cb);
  if (rc < 0 && is_local_error(rc))
    short_of_resources(rc);
  else if (rc < 0)
    connect_failed(rc);
}

void Session::on_connected(int status) {
  if (status < 0 && is_local_error(status)) {
    short_of_resources(status);
    return;
  }
  if (status < 0) {
    connect_failed(status);
    return;
  }
  ++server_->counters.total;
  if (send_preread())
    start_relaying();
}

void Session::connect_failed(int status) {
  connect_.detach(); // its callback (ECANCELED, after the close) only frees it
  server_conn_.close();
  balance::ServerPtr failed = server_;
  std::string why = status == UV_ETIMEDOUT ? "connect timeout" : uvx::error_text(status);
  // hamba's own shortage (no fd, no memory) says nothing about the server: not its error.
  if (!is_local_error(status)) {
    ++failed->counters.connect_errors;
    report_failure(why);
  }
  const auto& cfg = frontend_->config();
  bool retry = attempts_ <= cfg.retries && !frontend_->worker().shutting_down();
  log::warn("frontend {}: cannot connect to server {}: {}{}", cfg.name, failed->label(), why,
            retry ? "; trying the next server" : "");
  release_server();
  if (retry) {
    ++failed->counters.retries;
    pick_and_connect(failed.get());
    return;
  }
  ++frontend_->counters().failed;
  log::warn("frontend {}: closing client {}: no server reached after {} attempt(s)", cfg.name,
            client_label(), attempts_);
  finish(End::no_server);
}

void Session::short_of_resources(int rc) {
  // hamba's own shortage (no descriptor for the server's socket, no buffer): the server is not
  // to blame and another one would fail the same way. The client waits at the head of the
  // queue, for a session to end and free what it held (or for its queue timeout).
  connect_.detach(); // its callback (ECANCELED, after the close) only frees it
  server_conn_.close();
  --attempts_;
  frontend_->note_local_error(rc, "connect to a server");
  state_ = State::queued;
  frontend_->enqueue(this, true);
  release_server();
}

void Session::start_relaying() {
  state_ = State::relaying;
  last_activity_ = uv_now(loop());
  bool reading = std::exchange(read_ahead_on_, false);
  if (pump(Direction::to_server).pending > 0)
    return; // what was read ahead is still being written (forward() stopped the reads):
            // on_write_done starts them
  if (reading)
    return; // on since the preread; its alloc hands out the loop's buffer from now on
  if (int rc = uv_read_start(client_.stream(), on_alloc, on_read_cb); rc < 0)
    finish(End::error);
}

void Session::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(read_buffer(), kBufferSize);
}

void Session::on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (Session* self = session_of(stream))
    self->on_read(stream, nread, buf);
}

void Session::count_bytes(Direction dir, uint64_t n) {
  if (log_)
    log_->bytes[static_cast<int>(dir)] += n;
  if (dir == Direction::to_server) {
    server_->counters.bytes_in.fetch_add(n, std::memory_order_relaxed);
    frontend_->counters().bytes_in.fetch_add(n, std::memory_order_relaxed);
  } else {
    server_->counters.bytes_out.fetch_add(n, std::memory_order_relaxed);
    frontend_->counters().bytes_out.fetch_add(n, std::memory_order_relaxed);
  }
}

void Session::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Direction dir = stream == client_.stream() ? Direction::to_server : Direction::to_client;
  if (dir == Direction::to_server && preread_) {
    if (state_ == State::preread)
      on_preread(nread);
    else
      on_read_ahead(nread);
    return;
  }
  if (nread > 0) {
    last_activity_ = uv_now(loop());
    if (dir == Direction::to_client && !server_spoke_) {
      server_spoke_ = true;
      if (server_failing_)
        report_success();
      if (header_wait_) { // before the client: a protocol where the server speaks first
        frontend_->header_wait().server_spoke_first();
        header_wait_.reset();
        if (header_due_ != config::ProxyProtocol::none) // it spoke without the header: send it
          send_due_header(nullptr, 0);
        if (finished_)
          return;
      }
    }
    count_bytes(dir, static_cast<uint64_t>(nread));
    if (dir == Direction::to_server && header_wait_) {
      client_spoke();
      if (header_due_ != config::ProxyProtocol::none)
        send_due_header(buf->base, static_cast<size_t>(nread));
      else
        forward(dir, buf->base, static_cast<size_t>(nread));
    } else {
      forward(dir, buf->base, static_cast<size_t>(nread));
    }
  } else if (nread < 0 && header_due_ != config::ProxyProtocol::none &&
             dir == Direction::to_server) {
    // The client ends before a byte: its server still hears who it was (then the EOF).
    header_wait_.reset();
    send_due_header(nullptr, 0);
    if (!finished_)
      on_read(stream, nread, buf);
  } else if (nread == UV_EOF && (buf->base != nullptr || !reset_pending(stream))) {
    on_eof(dir);
  } else if (nread < 0) {
    // Reset (or another error) on the source: pass it on as a reset to the other side.
    finish(reset_by(source(dir)));
  }
}

void Session::forward(Direction dir, const char* data, size_t len) {
  Pump& d = pump(dir);
  uv_stream_t* dst = stream(destination(dir));
  size_t written = 0;
  if (d.pending == 0) {
    // Straight to the kernel: nothing of ours is queued on this stream (pending == 0), so
    // bypassing libuv's write queue keeps the order. send() rather than uv_try_write's write():
    // a little less work in the kernel per call, and MSG_NOSIGNAL besides.
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(dst), &fd);
    ssize_t n;
    do
      n = ::send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
      written = static_cast<size_t>(n);
    else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      // The destination is gone (reset, EPIPE): reset the source too.
      finish(reset_by(destination(dir)));
      return;
    }
    if (written == len)
      return;
  }
  // The remainder goes into the write request's own buffer (libuv writes it when the socket
  // can take more); it lives until the write's callback, even if the session is gone by then.
  const auto left = static_cast<uint32_t>(len - written);
  int rc = d.write.start<&Session::on_write_done>(
      this,
      [&](uv_write_t* req, Remainder& r, auto done) {
        uv_buf_t b = uv_buf_init(r.data, r.size);
        return uv_write(req, dst, &b, 1, done);
      },
      [&](Remainder& r) {
        r.direction = dir;
        r.size = left;
        std::memcpy(r.data, data + written, left);
      });
  if (rc < 0) {
    finish(reset_by(destination(dir)));
    return;
  }
  d.pending += left;
  // Backpressure: read no more from this source until the remainder is written.
  uv_read_stop(stream(source(dir)));
}

void Session::on_write_done(Remainder& written, int status) {
  Direction dir = written.direction;
  Pump& d = pump(dir);
  d.pending -= written.size;
  if (status < 0) {
    finish(reset_by(destination(dir)));
    return;
  }
  last_activity_ = uv_now(loop());
  if (d.pending == 0 && !d.eof && state_ == State::relaying) {
    int rc = uv_read_start(stream(source(dir)), on_alloc, on_read_cb);
    if (rc < 0)
      finish(End::error);
  }
}

void Session::on_eof(Direction dir) {
  Pump& d = pump(dir);
  const Pump& other =
      pump(dir == Direction::to_server ? Direction::to_client : Direction::to_server);
  d.eof = true;
  uv_read_stop(stream(source(dir)));
  // Both sides have now sent EOF and everything read is written: closing sends the FINs itself
  // (both receive queues are empty), so shutdowns first would only cost syscalls and loop
  // rounds per connection. (A shutdown of the other direction still in libuv's hands is
  // cancelled by the close; the close sends that FIN.)
  if (d.pending == 0 && (other.shut || (other.eof && other.pending == 0))) {
    finish(End::closed);
    return;
  }
  if (d.pending == 0) {
    // Half-close with nothing of this direction queued: shut the write half now rather than
    // through uv_shutdown, which waits a loop round for the socket to be writable (two
    // epoll_ctl calls and a wakeup per connection). No more bytes go this way after it.
    uv_os_fd_t fd = -1;
    uv_fileno(tcp(destination(dir)).base(), &fd);
    // An error (the destination was reset) is handled as uv_shutdown's would be.
    on_shutdown_done(dir, ::shutdown(fd, SHUT_WR) == 0 ? 0 : -errno);
    return;
  }
  // Half-close: shut the other side's write half; libuv does it after the pending writes.
  int rc = d.shutdown.start<&Session::on_shutdown_cb>(
      this,
      [&](uv_shutdown_t* req, auto done) {
        return uv_shutdown(req, stream(destination(dir)), done);
      },
      [&](Direction& of) { of = dir; });
  if (rc < 0)
    finish(End::error);
}

void Session::on_shutdown_cb(Direction& dir, int status) {
  on_shutdown_done(dir, status);
}

void Session::on_shutdown_done(Direction dir, int status) {
  Pump& d = pump(dir);
  d.shut = true;
  if (status < 0) // the destination was reset before its write half could be shut
    finish(reset_by(destination(dir)));
  else if (pumps_[0].shut && pumps_[1].shut)
    finish(End::closed);
}

bool Session::expired(uint64_t now) const {
  if (finished_)
    return false;
  const auto& cfg = frontend_->config();
  config::Duration timeout = state_ == State::relaying  ? cfg.idle_timeout
                             : state_ == State::preread ? cfg.preread_timeout
                                                        : cfg.connect_timeout;
  uint64_t limit = static_cast<uint64_t>(timeout.count());
  return now - last_activity_ >= limit;
}

void Session::on_timeout() {
  if (finished_)
    return;
  const auto& cfg = frontend_->config();
  switch (state_) {
  case State::preread:
    preread_failed("nothing complete within preread_timeout");
    return;
  case State::connecting:
    connect_failed(UV_ETIMEDOUT);
    return;
  case State::queued:
    ++frontend_->counters().timeouts;
    ++frontend_->counters().failed;
    log::warn("frontend {}: closing client {}: no server had room within {}", cfg.name,
              client_label(), config::format_duration(cfg.connect_timeout));
    finish(End::timeout);
    return;
  case State::relaying:
    ++frontend_->counters().timeouts;
    finish(End::timeout);
    return;
  }
}

bool Session::client_gone() const {
  // Not read while queued: a peek sees its EOF or reset without taking any byte it sent.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(client_.get()), &fd) != 0)
    return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void Session::abandon() {
  finish(End::closed);
}

void Session::close() {
  finish(End::cut);
}

void Session::report_failure(const std::string& why) {
  frontend_->worker().report([owner = owner_, server = server_, why](engine::Engine&) {
    if (auto backend = owner.lock())
      backend->traffic_failure(*server, why);
  });
}

void Session::report_success() {
  frontend_->worker().report([owner = owner_, server = server_](engine::Engine&) {
    if (auto backend = owner.lock())
      backend->traffic_success(*server);
  });
}

void Session::release_server() {
  if (!server_)
    return;
  server_->release();
  balance::ServerPtr s = std::move(server_);
  if (s->vanished()) // its last session may be this one: the main loop lets it go
    frontend_->worker().report([owner = owner_, s](engine::Engine&) {
      if (auto backend = owner.lock())
        backend->released(*s);
    });
  frontend_->serve_queue();
  // Clients of this frontend queued on other workers may take the freed slot.
  if (frontend_->counters().queued.load(std::memory_order_relaxed) > 0 && !frontend_->has_queue())
    frontend_->worker().poke_others();
}

void Session::report_end(End how) {
  engine::SessionEnd e;
  e.frontend = frontend_->config().name;
  e.client = log_->client;
  if (server_) {
    e.server = config::format_endpoint(server_->name());
    e.address = server_->address();
  }
  e.bytes_in = log_->bytes[0];
  e.bytes_out = log_->bytes[1];
  e.duration_ms = uv_now(loop()) - log_->started;
  switch (how) {
  case End::closed:
    e.end = "closed";
    break;
  case End::client_reset:
    e.end = "client reset";
    break;
  case End::server_reset:
    e.end = "server reset";
    break;
  case End::error:
    e.end = "error";
    break;
  case End::cut:
    e.end = "hamba reset";
    break;
  case End::timeout:
    e.end = state_ == State::queued ? "queue timeout" : "idle timeout";
    break;
  case End::no_server:
    e.end = "no server";
    break;
  case End::bad_proxy_header:
    e.end = "bad proxy header";
    break;
  case End::bad_client_hello:
    e.end = "bad client hello";
    break;
  }
  if (const engine::SessionLog* log = frontend_->worker().session_log())
    (*log)(e);
}

void Session::finish(End how) {
  if (finished_)
    return;
  finished_ = true;
  if (log_ && frontend_->worker().session_log())
    report_end(how);
  if (server_ && how == End::client_reset)
    ++server_->counters.resets_by_client;
  if (server_ && how == End::server_reset) {
    ++server_->counters.resets_by_server;
    // Reset before its first byte: as telling as a refused connect (HAProxy's observe layer4).
    if (state_ == State::relaying && !server_spoke_)
      report_failure("reset before its first byte");
  }
  if (state_ == State::queued)
    frontend_->dequeue(this);
  header_wait_.reset();
  // libuv cancels the requests in flight when the sockets close; their callbacks only free them.
  connect_.detach();
  for (Pump& d : pumps_) {
    d.write.detach();
    d.shutdown.detach();
    d.pending = 0;
  }
  // The failed side's connection is gone already; the other one learns of it by a reset.
  bool hamba_ends = how == End::error || how == End::cut;
  if (how == End::server_reset || hamba_ends)
    arm_reset(client_);
  if (how == End::client_reset || hamba_ends)
    arm_reset(server_conn_);
  client_.close();
  server_conn_.close();
  --frontend_->counters().current;
  release_server();
  frontend_->worker().remove_session(this);
}

} // namespace hamba::net
