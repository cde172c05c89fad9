// HttpServer and its connections: accept, parse with http-parser, hand complete requests to the
// handler, write answers, keep the connection alive or close it (see http_server.h).
#include "base/http_server.h"

#include "base/endpoint.h"

#include <climits>
#include <cstring>
#include <fmt/format.h>
#include <http_parser.h>

namespace http {

namespace {
constexpr std::size_t kReadBufferSize = 16 * 1024;

// One uv_write in flight: owns the bytes until libuv is done with them.
struct WriteRequest {
  uv_write_t req{};
  std::string data;
  std::weak_ptr<HttpConnection> connection;
  bool last = false; // the answer that finishes a request (not a "100 Continue")
};
} // namespace

// One accepted connection. Owned by HttpServer::connections_; callbacks hold a shared_ptr for the
// duration of a call so the object survives its own close; Reply holds a weak_ptr.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
public:
  explicit HttpConnection(HttpServer* server) : server_(server) {
    http_parser_init(&parser_, HTTP_REQUEST);
    parser_.data = this;
    last_activity_ = uv_now(server->loop());
  }

  uvx::Handle<uv_tcp_t>& tcp() { return tcp_; }

  void start() {
    sockaddr_storage addr{};
    int len = sizeof addr;
    if (uv_tcp_getpeername(tcp_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      peer_ = hamba::format_sockaddr(reinterpret_cast<sockaddr*>(&addr));
    uv_tcp_nodelay(tcp_.get(), 1);
    read_start();
  }

  // Closes the socket and drops this object from the server (it dies when the last shared_ptr
  // held by a running callback goes).
  void close() {
    if (closed_)
      return;
    closed_ = true;
    tcp_.close();
    server_->forget(this);
  }

  bool idle_since(std::uint64_t deadline) const {
    return !awaiting_reply_ && last_activity_ < deadline;
  }

private:
  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x{};
      x.on_message_begin = [](http_parser* p) { return self(p)->on_message_begin(); };
      x.on_url = [](http_parser* p, const char* at, size_t n) { return self(p)->on_url(at, n); };
      x.on_header_field = [](http_parser* p, const char* at, size_t n) {
        return self(p)->on_header_field(at, n);
      };
      x.on_header_value = [](http_parser* p, const char* at, size_t n) {
        return self(p)->on_header_value(at, n);
      };
      x.on_headers_complete = [](http_parser* p) { return self(p)->on_headers_complete(); };
      x.on_body = [](http_parser* p, const char* at, size_t n) { return self(p)->on_body(at, n); };
      x.on_message_complete = [](http_parser* p) { return self(p)->on_message_complete(); };
      return x;
    }();
    return s;
  }
  static HttpConnection* self(http_parser* p) { return static_cast<HttpConnection*>(p->data); }

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
    feed(data, static_cast<size_t>(nread));
  }

  // Parses bytes; on a complete request stops reading, keeps the rest and dispatches.
  void feed(const char* data, size_t len) {
    if (len == 0)
      return;
    size_t parsed = http_parser_execute(&parser_, &settings(), data, len);
    auto err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED || (err == HPE_OK && request_ready_)) {
      pending_.append(data + parsed, len - parsed);
      uv_read_stop(tcp_.stream());
      dispatch();
      return;
    }
    if (err != HPE_OK) {
      int status = reject_status_;
      if (status == 0)
        status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
      fail(status, http_errno_description(err));
      return;
    }
    if (parser_.upgrade) // protocol switch we do not speak
      fail(400, "protocol upgrade not supported");
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
    request_ready_ = false;
    awaiting_reply_ = true;
    keep_alive_ = http_should_keep_alive(&parser_) != 0 && !parser_.upgrade;
    head_only_ = request_.method == "HEAD";
    request_.peer = peer_;
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    std::uint64_t seq = ++request_seq_;
    Reply reply = [weak, seq](Response response) {
      if (auto c = weak.lock(); c && !c->closed_ && c->awaiting_reply_ && c->request_seq_ == seq)
        c->send(std::move(response));
    };
    server_->dispatch(std::move(request_), std::move(reply));
  }

  void send(Response response) {
    if (!server_->options().server_name.empty() && !response.header("Server"))
      response.headers.push_back({"Server", server_->options().server_name});
    std::string out = serialize_head(response, keep_alive_);
    if (!head_only_)
      out += response.body;
    write(std::move(out), true);
  }

  void write(std::string data, bool last) {
    auto* w = new WriteRequest;
    w->data = std::move(data);
    w->connection = weak_from_this();
    w->last = last;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, tcp_.stream(), &buf, 1, [](uv_write_t* req, int status) {
      auto* done = static_cast<WriteRequest*>(req->data);
      auto c = done->connection.lock();
      bool last_write = done->last;
      delete done;
      if (c && !c->closed_)
        c->on_written(status, last_write);
    });
    if (rc < 0) {
      delete w;
      close();
    }
  }

  void on_written(int status, bool last) {
    auto keep = shared_from_this();
    if (status < 0) {
      close();
      return;
    }
    if (!last)
      return;
    last_activity_ = uv_now(server_->loop());
    awaiting_reply_ = false;
    if (!keep_alive_) {
      close();
      return;
    }
    http_parser_pause(&parser_, 0);
    std::string rest = std::move(pending_);
    pending_.clear();
    if (!rest.empty()) {
      feed(rest.data(), rest.size());
      if (awaiting_reply_ || closed_)
        return;
    }
    read_start();
  }

  // --- http-parser callbacks (return non-zero to stop with an error) ---
  int on_message_begin() {
    request_ = Request{};
    in_field_ = false;
    reject_status_ = 0;
    return 0;
  }
  int on_url(const char* at, size_t n) {
    if (request_.target.size() + n > server_->options().max_target) {
      reject_status_ = 414;
      return 1;
    }
    request_.target.append(at, n);
    return 0;
  }
  // A header name may arrive in pieces (split reads): a new header starts after a value.
  int on_header_field(const char* at, size_t n) {
    if (!in_field_)
      request_.headers.push_back({});
    in_field_ = true;
    request_.headers.back().name.append(at, n);
    return 0;
  }
  int on_header_value(const char* at, size_t n) {
    in_field_ = false;
    request_.headers.back().value.append(at, n);
    return 0;
  }
  int on_headers_complete() {
    request_.method = http_method_str(static_cast<http_method>(parser_.method));
    request_.http_major = parser_.http_major;
    request_.http_minor = parser_.http_minor;
    auto q = request_.target.find('?');
    request_.path = request_.target.substr(0, q);
    if (q != std::string::npos)
      request_.query = request_.target.substr(q + 1);
    const auto max_body = server_->options().max_body;
    if ((parser_.flags & F_CONTENTLENGTH) && parser_.content_length > max_body) {
      reject_status_ = 413;
      return -1;
    }
    if (auto expect = request_.header("Expect"); expect && parser_.content_length > 0) {
      // curl waits a second for this before sending bodies over 1 KiB
      if (*expect == "100-continue" || *expect == "100-Continue")
        write("HTTP/1.1 100 Continue\r\n\r\n", false);
    }
    return 0;
  }
  int on_body(const char* at, size_t n) {
    if (request_.body.size() + n > server_->options().max_body) {
      reject_status_ = 413;
      return 1;
    }
    request_.body.append(at, n);
    return 0;
  }
  int on_message_complete() {
    request_ready_ = true;
    http_parser_pause(&parser_, 1);
    return 0;
  }

  HttpServer* server_;
  uvx::Handle<uv_tcp_t> tcp_;
  http_parser parser_{};
  Request request_;
  bool in_field_ = false;
  bool request_ready_ = false;
  bool awaiting_reply_ = false;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool closed_ = false;
  int reject_status_ = 0;
  std::uint64_t request_seq_ = 0;
  std::uint64_t last_activity_ = 0;
  std::string pending_; // bytes after a complete request, parsed once it is answered
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
}

void HttpServer::on_connection(int status) {
  if (status < 0)
    return; // e.g. EMFILE: the client will retry; nothing to clean up here
  auto connection = std::make_shared<HttpConnection>(this);
  if (connection->tcp().init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); }) < 0)
    return;
  if (uv_accept(listener_.stream(), connection->tcp().stream()) < 0)
    return;
  if (connections_.size() >= options_.max_connections)
    return; // dropping `connection` closes the socket
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

void HttpServer::forget(HttpConnection* connection) {
  connections_.erase(connection);
}

void HttpServer::close() {
  listener_.close();
  sweep_timer_.close();
  auto all = std::move(connections_);
  connections_.clear();
  for (auto& [raw, connection] : all)
    connection->close();
}

} // namespace http
