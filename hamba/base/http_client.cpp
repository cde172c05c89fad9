// HttpClient: resolve, connect, write one request, parse the answer with ResponseParser, keep the
// connection for the next request (see http_client.h).
#include "base/http_client.h"

#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

namespace http {

HttpClient::HttpClient(uv_loop_t* loop, hamba::Endpoint server, ClientOptions options)
    : loop_(loop), server_(std::move(server)), options_(options), parser_(options_.max_body) {
  timer_.init(loop_, this);
}

HttpClient::~HttpClient() {
  close();
}

void HttpClient::close() {
  callback_ = nullptr;
  disconnect();
  timer_.stop();
}

void HttpClient::disconnect() {
  // Callbacks of this connection's requests, still to come, only free them.
  resolve_.cancel();
  connect_.detach();
  write_.detach();
  connected_ = false;
  tcp_.close();
}

void HttpClient::request(std::string method, std::string target, std::string body, Headers headers,
                         ResponseCallback callback) {
  if (busy())
    throw std::logic_error("HttpClient::request while a request is in flight");
  callback_ = std::move(callback);
  head_request_ = method == "HEAD";
  wire_ = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", method, target,
                      hamba::format_endpoint(server_));
  if (!body.empty() || method == "POST" || method == "PUT")
    wire_ += fmt::format("Content-Length: {}\r\n", body.size());
  for (const auto& h : headers)
    wire_ += fmt::format("{}: {}\r\n", h.name, h.value);
  wire_ += "\r\n";
  wire_ += body;
  retried_ = false;
  if (connected_) {
    reused_ = true;
    send_request();
  } else {
    connect_start();
  }
}

void HttpClient::arm_timer(std::uint64_t ms) {
  timer_.start<&HttpClient::on_timeout>(ms);
}

void HttpClient::on_timeout() {
  fail(connected_ ? "waiting for the answer of " + hamba::format_endpoint(server_)
                  : "connecting to " + hamba::format_endpoint(server_),
       UV_ETIMEDOUT);
}

void HttpClient::connect_start() {
  disconnect();
  reused_ = false;
  arm_timer(options_.connect_timeout_ms);
  sockaddr_storage numeric{};
  if (hamba::ip_literal_sockaddr(server_.host, server_.port, numeric)) {
    addresses_.assign(1, numeric);
    next_address_ = 0;
    connect_next();
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(server_.port);
  int rc = resolve_.start<&HttpClient::on_resolved>(this, [&](uv_getaddrinfo_t* req, auto done) {
    return uv_getaddrinfo(loop_, req, done, server_.host.c_str(), port.c_str(), &hints);
  });
  if (rc < 0)
    fail("resolving " + server_.host, rc);
}

void HttpClient::on_resolved(int status, const addrinfo* result) {
  if (status < 0) {
    fail("resolving " + server_.host, status);
    return;
  }
  addresses_.clear();
  for (const addrinfo* a = result; a; a = a->ai_next) {
    sockaddr_storage s{};
    std::memcpy(&s, a->ai_addr, a->ai_addrlen);
    addresses_.push_back(s);
  }
  next_address_ = 0;
  connect_next();
}

void HttpClient::connect_next() {
  if (next_address_ >= addresses_.size()) {
    fail("connecting to " + hamba::format_endpoint(server_), UV_ECONNREFUSED);
    return;
  }
  tcp_.close();
  const sockaddr_storage& addr = addresses_[next_address_++];
  int rc = tcp_.init([&](uv_tcp_t* t) { return uv_tcp_init(loop_, t); });
  if (rc < 0) {
    fail("connecting to " + hamba::format_endpoint(server_), rc);
    return;
  }
  tcp_.set_data(this);
  rc = connect_.start<&HttpClient::on_connected>(this, [&](uv_connect_t* req, auto done) {
    return uv_tcp_connect(req, tcp_.get(), reinterpret_cast<const sockaddr*>(&addr), done);
  });
  if (rc < 0)
    on_connected(rc);
}

void HttpClient::on_connected(int status) {
  if (status < 0) {
    if (next_address_ < addresses_.size()) {
      connect_next();
      return;
    }
    fail("connecting to " + hamba::format_endpoint(server_), status);
    return;
  }
  connected_ = true;
  uv_tcp_nodelay(tcp_.get(), 1);
  send_request();
}

void HttpClient::send_request() {
  arm_timer(options_.request_timeout_ms);
  parser_.expect(head_request_);
  got_bytes_ = false;

  // The request's bytes travel with the write (wire_ is kept for a retry).
  int rc = write_.start<&HttpClient::on_written>(
      this,
      [&](uv_write_t* req, std::string& bytes, auto done) {
        uv_buf_t out = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
        return uv_write(req, tcp_.stream(), &out, 1, done);
      },
      [&](std::string& bytes) { bytes = wire_; });
  if (rc < 0) {
    fail("sending to " + hamba::format_endpoint(server_), rc);
    return;
  }
  rc = uv_read_start(
      tcp_.stream(),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = uvx::Handle<uv_tcp_t>::owner<HttpClient>(h);
        *buf = uv_buf_init(c->read_buffer_, sizeof c->read_buffer_);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        if (auto* c = uvx::Handle<uv_tcp_t>::owner<HttpClient>(s))
          c->on_read(nread, buf->base);
      });
  if (rc < 0)
    fail("reading from " + hamba::format_endpoint(server_), rc);
}

void HttpClient::on_written(int status) {
  if (status < 0 && !retry_on_fresh_connection())
    fail("sending to " + hamba::format_endpoint(server_), status);
}

bool HttpClient::retry_on_fresh_connection() {
  if (!reused_ || got_bytes_ || retried_)
    return false;
  retried_ = true; // the server closed the idle connection: the request never reached it
  connect_start();
  return true;
}

void HttpClient::on_read(ssize_t nread, const char* data) {
  if (!busy()) { // the server closed an idle connection, or sent something unasked
    disconnect();
    return;
  }
  if (nread == 0)
    return;
  if (nread < 0) {
    if (nread == UV_EOF && got_bytes_) // ends an answer whose body runs to the close
      parser_.feed_eof();
    if (parser_.state() == ResponseParser::State::complete) {
      disconnect();
      finish(take_answer());
      return;
    }
    if (retry_on_fresh_connection())
      return;
    fail(nread == UV_EOF ? "connection closed early by " + hamba::format_endpoint(server_)
                         : "reading from " + hamba::format_endpoint(server_),
         nread == UV_EOF ? UV_ECONNRESET : static_cast<int>(nread));
    return;
  }
  got_bytes_ = true;
  const auto n = static_cast<std::size_t>(nread);
  const std::size_t parsed = parser_.feed(data, n);
  if (parser_.state() == ResponseParser::State::complete) {
    // Bytes after the answer were never asked for: do not trust the connection again.
    if (!parser_.keep_alive() || parsed != n)
      disconnect();
    else
      uv_read_stop(tcp_.stream());
    finish(take_answer());
    return;
  }
  if (parser_.state() == ResponseParser::State::failed) {
    disconnect();
    finish(ClientResult{
        fmt::format("bad answer from {}: {}", hamba::format_endpoint(server_), parser_.error()),
        0,
        {},
        {}});
  }
}

ClientResult HttpClient::take_answer() {
  Answer& a = parser_.answer();
  return ClientResult{{}, a.status, std::move(a.headers), std::move(a.body)};
}

void HttpClient::fail(const std::string& what, int rc) {
  disconnect();
  finish(ClientResult{what + ": " + uvx::error_text(rc), 0, {}, {}});
}

void HttpClient::finish(ClientResult result) {
  timer_.stop();
  ResponseCallback callback = std::move(callback_);
  callback_ = nullptr;
  if (callback)
    callback(std::move(result));
}

} // namespace http
