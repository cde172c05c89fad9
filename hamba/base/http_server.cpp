// HttpServer and its connections: accept, parse with RequestParser, hand complete requests to the
// handler, write answers, keep the connection alive or close it (see http_server.h).
#include "base/http_server.h"

#include "base/endpoint.h"
#include "base/uv_request.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

namespace http {

namespace {
constexpr std::size_t kReadBufferSize = 16 * 1024;
// A listen backlog is 511 here; a kernel may queue a few more.
constexpr std::size_t kMaxDrainAccepts = 4096;

// The bytes of one write in flight, kept until libuv is done with them: an answer's serialized
// head and its body, moved in from the Response (written with one writev, never joined).
struct Outgoing {
  std::string head;
  std::string body;
  bool last = false; // the answer that finishes a request (not a "100 Continue")
};
} // namespace

// One accepted connection. Owned by HttpServer::connections_; callbacks hold a shared_ptr for the
// duration of a call so the object survives its own close; Reply holds a weak_ptr.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
public:
  HttpConnection(HttpServer* server, std::uint64_t serial)
      : server_(server),
        parser_(RequestLimits{.max_body = server->options().max_body,
                              .max_target = server->options().max_target,
                              .max_empty_lines = server->options().max_empty_lines}),
        serial_(serial) {
    last_activity_ = uv_now(server->loop());
  }

  uvx::Handle<uv_tcp_t>& tcp() { return tcp_; }

  void start() {
    sockaddr_storage addr{};
    int len = sizeof addr;
    if (uv_tcp_getpeername(tcp_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      peer_ = hamba::format_sockaddr(reinterpret_cast<sockaddr*>(&addr));
    uv_tcp_nodelay(tcp_.get(), 1);
    head_timer_.init(server_->loop(), this);
    write_timer_.init(server_->loop(), this);
    arm_head_deadline(); // the first request's head is due from the accept on
    read_start();
  }

  // Closes the socket and drops this object from the server (it dies when the last shared_ptr
  // held by a running callback goes).
  void close() {
    if (closed_)
      return;
    closed_ = true;
    head_timer_.close();
    write_timer_.close();
    writes_.detach(); // cancelled by the close: their callbacks only free them
    tcp_.close();
    server_->forget(this);
  }

  // Closes with a reset: for a connection whose answer is abandoned half-written, a FIN would
  // wait behind the rest of it in a socket its client does not drain, holding the kernel's copy.
  void reset() {
    uv_os_fd_t fd;
    if (!closed_ && tcp_ && uv_fileno(tcp_.base(), &fd) == 0) {
      linger at_once{1, 0}; // on, with no time: close(2) sends a RST
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &at_once, sizeof at_once);
    }
    close();
  }

  // HttpServer::drain: close now when waiting for a next request, else after this answer.
  void drain() {
    draining_ = true;
    keep_alive_ = false;
    if (!awaiting_reply_ && requests_done_ > 0 && !parser_.started() && pending_.empty())
      close();
  }

  // Makes room for a new connection (HttpServer::accept_one).
  void evict() {
    if (writing_answer_)
      reset();
    else
      close();
  }

  bool idle_since(std::uint64_t deadline) const {
    return !awaiting_reply_ && last_activity_ < deadline;
  }
  // Eviction order (HttpServer::eviction_candidate): one whose answer is stalled goes first,
  // the longest-stalled first; then one that never completed a request, oldest accept first;
  // then one waiting for its next request, longest-waiting first. One whose request is with the
  // handler, or whose answer is not stalled yet, is never evicted.
  bool evictable() const { return !awaiting_reply_ && !closed_; }
  // Its answer is still being written write_stall_ms after it was handed to the socket.
  bool stalled_writing(std::uint64_t now) const {
    return writing_answer_ && !closed_ &&
           now - answer_started_ >= server_->options().write_stall_ms;
  }
  std::uint64_t answer_started() const { return answer_started_; }
  bool completed_a_request() const { return requests_done_ > 0; }
  std::uint64_t serial() const { return serial_; }
  std::uint64_t last_activity() const { return last_activity_; }

private:
  void read_start() {
    tcp_.set_data(this);
    int rc = uv_read_start(
        tcp_.stream(),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* c = uvx::Handle<uv_tcp_t>::owner<HttpConnection>(h);
          *buf = uv_buf_init(c->read_buffer_, sizeof c->read_buffer_);
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          auto* c = uvx::Handle<uv_tcp_t>::owner<HttpConnection>(s);
          if (c)
            c->on_read(nread, buf->base);
        });
    if (rc < 0)
      close();
  }

  void on_read(ssize_t nread, const char* data) {
    auto keep = shared_from_this();
    if (nread < 0) { // EOF or error: nothing more to answer
      close();
      return;
    }
    last_activity_ = uv_now(server_->loop());
    if (nread > 0)
      arm_head_deadline(); // the first byte of a later request starts its deadline
    feed(data, static_cast<size_t>(nread));
  }

  // The head of the current request is due head_timeout_ms from now, unless a deadline runs
  // already: later bytes never move it.
  void arm_head_deadline() {
    if (head_deadline_armed_ || parser_.head_complete())
      return;
    head_deadline_armed_ = true;
    head_timer_.start<&HttpConnection::on_head_timeout>(server_->options().head_timeout_ms);
  }
  void disarm_head_deadline() {
    head_deadline_armed_ = false;
    head_timer_.stop();
  }

  // 408 for a client that started a request (nothing for one that never sent a byte, like a
  // browser's speculative connection), written only if the socket takes it at once: a client
  // that trickles its head may not read either, and must not keep the connection.
  void on_head_timeout() {
    auto keep = shared_from_this();
    head_deadline_armed_ = false;
    if (parser_.started()) {
      Response timeout = with_server_name(Response::error(408, "the request head took too long"));
      std::string out = serialize_head(timeout, false) + timeout.body;
      uv_buf_t buf = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
      uv_try_write(tcp_.stream(), &buf, 1);
    }
    close();
  }

  // Parses bytes; on a complete request stops reading, keeps the rest and dispatches.
  void feed(const char* data, size_t len) {
    if (len == 0)
      return;
    const size_t used = parser_.feed(data, len);
    switch (parser_.state()) {
    case RequestParser::State::complete:
      disarm_head_deadline();
      pending_.append(data + used, len - used);
      uv_read_stop(tcp_.stream());
      dispatch();
      return;
    case RequestParser::State::failed:
      disarm_head_deadline();
      fail(parser_.error_status(), parser_.error_detail());
      return;
    case RequestParser::State::incomplete:
      if (parser_.head_complete())
        disarm_head_deadline(); // the body is bounded by the idle timeout and max_body
      if (parser_.take_continue())
        write("HTTP/1.1 100 Continue\r\n\r\n", {}, false);
      return;
    }
  }

  // Answers a request that could not be parsed, then closes the connection.
  void fail(int status, std::string_view detail) {
    uv_read_stop(tcp_.stream());
    awaiting_reply_ = true;
    keep_alive_ = false;
    head_only_ = false;
    send(Response::error(status, detail));
  }

  void dispatch() {
    awaiting_reply_ = true;
    keep_alive_ = parser_.keep_alive() && !draining_;
    Request request = parser_.take_request();
    head_only_ = request.method == "HEAD";
    request.peer = peer_;
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    std::uint64_t seq = ++request_seq_;
    Reply reply = [weak, seq](Response response) {
      if (auto c = weak.lock(); c && !c->closed_ && c->awaiting_reply_ && c->request_seq_ == seq)
        c->send(std::move(response));
    };
    server_->dispatch(std::move(request), std::move(reply));
  }

  Response with_server_name(Response response) const {
    if (!server_->options().server_name.empty() && !response.header("Server"))
      response.headers.push_back({"Server", server_->options().server_name});
    return response;
  }

  // Hands the answer to the socket; it must be written in full by the write deadline.
  void send(Response response) {
    response = with_server_name(std::move(response));
    std::string head = serialize_head(response, keep_alive_);
    std::string body = head_only_ ? std::string() : std::move(response.body);
    writing_answer_ = true;
    answer_started_ = uv_now(server_->loop());
    write_timer_.start<&HttpConnection::on_write_timeout>(server_->options().write_timeout_ms);
    write(std::move(head), std::move(body), true);
  }

  void write(std::string head, std::string body, bool last) {
    int rc = writes_.start<&HttpConnection::on_written>(
        this,
        [&](uv_write_t* req, Outgoing& out, auto done) {
          uv_buf_t bufs[] = {
              uv_buf_init(out.head.data(), static_cast<unsigned>(out.head.size())),
              uv_buf_init(out.body.data(), static_cast<unsigned>(out.body.size())),
          };
          return uv_write(req, tcp_.stream(), bufs, out.body.empty() ? 1 : 2, done);
        },
        [&](Outgoing& out) {
          out.head = std::move(head);
          out.body = std::move(body);
          out.last = last;
        });
    if (rc < 0)
      close();
  }

  // The client has not taken the whole answer in write_timeout_ms: it is not reading.
  void on_write_timeout() {
    auto keep = shared_from_this();
    reset();
  }

  void on_written(Outgoing& written, int status) {
    auto keep = shared_from_this();
    const bool last = written.last;
    if (status < 0) {
      close();
      return;
    }
    if (!last)
      return;
    writing_answer_ = false;
    write_timer_.stop();
    last_activity_ = uv_now(server_->loop());
    awaiting_reply_ = false;
    ++requests_done_;
    if (!keep_alive_) {
      close();
      return;
    }
    std::string rest = std::move(pending_);
    pending_.clear();
    if (!rest.empty()) {
      arm_head_deadline(); // a pipelined request's head is due from now
      feed(rest.data(), rest.size());
      if (awaiting_reply_ || closed_)
        return;
    }
    read_start();
  }

  HttpServer* server_;
  uvx::Handle<uv_tcp_t> tcp_;
  uvx::Timer head_timer_;
  uvx::Timer write_timer_;                     // the write deadline of the answer being written
  uvx::Requests<uv_write_t, Outgoing> writes_; // an answer may follow a "100 Continue" at once
  RequestParser parser_;
  bool head_deadline_armed_ = false;
  bool awaiting_reply_ = false;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool writing_answer_ = false; // handed to the socket, not fully written yet
  bool closed_ = false;
  bool draining_ = false;
  std::uint64_t serial_; // accept order, for eviction
  std::uint64_t requests_done_ = 0;
  std::uint64_t request_seq_ = 0;
  std::uint64_t last_activity_ = 0;
  std::uint64_t answer_started_ = 0; // when the answer being written was handed to the socket
  std::string pending_;              // bytes after a complete request, parsed once it is answered
  std::string peer_;
  char read_buffer_[kReadBufferSize];
};

HttpServer::HttpServer(uv_loop_t* loop, Handler handler, ServerOptions options)
    : loop_(loop), handler_(std::move(handler)), options_(std::move(options)) {}

HttpServer::~HttpServer() {
  close();
}

void HttpServer::listen(const std::string& host, uint16_t port) {
  const std::string numeric = host.empty() ? "0.0.0.0" : host;
  const std::string where = hamba::format_endpoint({numeric, port});
  sockaddr_storage addr{};
  if (!hamba::ip_literal_sockaddr(numeric, port, addr))
    throw uvx::Error("listen on " + where + ": not a numeric address", UV_EINVAL);
  uvx::check(listener_.init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); }), "uv_tcp_init");
  listener_.set_data(this);
  int rc = uv_tcp_bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0)
    rc = uv_listen(listener_.stream(), 511, [](uv_stream_t* s, int status) {
      if (auto* server = uvx::Handle<uv_tcp_t>::owner<HttpServer>(s))
        server->on_connection(status);
    });
  if (rc < 0) {
    listener_.close();
    throw uvx::Error("listen on " + where, rc);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  const std::uint64_t every = std::max<std::uint64_t>(options_.idle_timeout_ms / 4, 100);
  sweep_timer_.init(loop_, this);
  sweep_timer_.start<&HttpServer::on_sweep>(every, every);
  sweep_timer_.unref(); // the listener, not the sweeper, keeps the loop alive
  accept_turn_timer_.init(loop_, this);
  evictions_left_ = evictions_per_turn();
}

void HttpServer::on_connection(int status) {
  if (status < 0)
    return; // e.g. EMFILE: the client will retry; nothing to clean up here
  if (connections_.size() >= options_.max_connections && evictions_left_ == 0) {
    // libuv keeps this connection, and accepts no other, until uv_accept: on the next turn of
    // the loop, once the reads of the connections already in have run.
    accept_deferred_ = true;
    accept_turn_timer_.start<&HttpServer::on_accept_turn>(0);
    return;
  }
  accept_one();
}

// A burst of connects (libuv accepts all that are queued in one go) must not evict a newcomer
// whose request is already on its way: at most a quarter of the connections are evicted per turn
// of the loop, so one needs 4 turns to be evicted, and its request is read on the first.
std::size_t HttpServer::evictions_per_turn() const {
  return std::max<std::size_t>(options_.max_connections / 4, 1);
}

void HttpServer::on_accept_turn() {
  accept_deferred_ = false;
  evictions_left_ = evictions_per_turn();
  accept_one();
}

void HttpServer::accept_one() {
  auto connection = std::make_shared<HttpConnection>(this, ++accepted_);
  if (connection->tcp().init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); }) < 0)
    return;
  if (uv_accept(listener_.stream(), connection->tcp().stream()) < 0)
    return;
  if (connections_.size() >= options_.max_connections) {
    std::shared_ptr<HttpConnection> victim = eviction_candidate();
    if (!victim)
      return; // every connection is busy with an answer: dropping `connection` closes it
    victim->evict();
    if (evictions_left_ > 0)
      --evictions_left_;
  }
  connections_.emplace(connection.get(), connection);
  connection->start();
}

void HttpServer::on_sweep() {
  const std::uint64_t now = uv_now(loop_);
  if (now < options_.idle_timeout_ms)
    return;
  const std::uint64_t deadline = now - options_.idle_timeout_ms;
  std::vector<std::shared_ptr<HttpConnection>> idle;
  for (auto& [raw, connection] : connections_)
    if (connection->idle_since(deadline))
      idle.push_back(connection);
  for (auto& connection : idle)
    connection->close();
}

std::shared_ptr<HttpConnection> HttpServer::eviction_candidate() const {
  const std::uint64_t now = uv_now(loop_);
  const std::shared_ptr<HttpConnection>* stalled = nullptr;         // the oldest answer
  const std::shared_ptr<HttpConnection>* never_completed = nullptr; // the oldest accept
  const std::shared_ptr<HttpConnection>* waiting = nullptr; // the longest wait for a request
  for (const auto& entry : connections_) {
    const std::shared_ptr<HttpConnection>& connection = entry.second;
    if (connection->stalled_writing(now)) {
      if (!stalled || connection->answer_started() < (*stalled)->answer_started())
        stalled = &connection;
      continue;
    }
    if (!connection->evictable())
      continue;
    if (!connection->completed_a_request()) {
      if (!never_completed || connection->serial() < (*never_completed)->serial())
        never_completed = &connection;
    } else if (!waiting || connection->last_activity() < (*waiting)->last_activity()) {
      waiting = &connection;
    }
  }
  if (stalled)
    return *stalled;
  if (never_completed)
    return *never_completed;
  return waiting ? *waiting : nullptr;
}

void HttpServer::forget(HttpConnection* connection) {
  connections_.erase(connection);
  check_drained();
}

void HttpServer::drain(std::function<void()> on_drained) {
  if (draining_ || !listener_)
    return;
  draining_ = true;
  on_drained_ = std::move(on_drained);
  accept_queued();
  listener_.close();
  accept_turn_timer_.stop();
  std::vector<std::shared_ptr<HttpConnection>> all;
  for (auto& [raw, connection] : connections_)
    all.push_back(connection);
  for (auto& connection : all)
    connection->drain();
  check_drained();
}

void HttpServer::accept_queued() {
  if (std::exchange(accept_deferred_, false)) {
    accept_turn_timer_.stop();
    accept_one(); // the one libuv holds
  }
  uv_os_fd_t listening;
  if (uv_fileno(listener_.base(), &listening) != 0)
    return;
  for (std::size_t n = 0; n < kMaxDrainAccepts; ++n) {
    int fd = accept4(listening, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return; // EAGAIN: the queue is empty
    }
    auto connection = std::make_shared<HttpConnection>(this, ++accepted_);
    if (connection->tcp().init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); }) < 0 ||
        uv_tcp_open(connection->tcp().get(), fd) < 0) {
      ::close(fd);
      continue;
    }
    connections_.emplace(connection.get(), connection);
    connection->start();
  }
}

void HttpServer::check_drained() {
  if (!draining_ || !connections_.empty() || !on_drained_)
    return;
  std::function<void()> done = std::move(on_drained_);
  on_drained_ = nullptr;
  done();
}

void HttpServer::close() {
  on_drained_ = nullptr;
  listener_.close();
  sweep_timer_.close();
  accept_turn_timer_.close();
  auto all = std::move(connections_);
  connections_.clear();
  for (auto& [raw, connection] : all)
    connection->close();
}

} // namespace http
