// A small HTTP/1.1 client on libuv for one server (HOST:PORT): one request at a time, the
// connection kept alive between requests, the host name resolved again for every new connection.
//
//     http::HttpClient rng(loop, {"rng", 80});
//     rng.request("GET", "/32", {}, {}, [](http::ClientResult r) {
//       if (!r.ok()) ... r.error ...         // "connect to rng:80: ECONNREFUSED (...)"
//       else ... r.status, r.body ...
//     });
//
// A request that fails on a reused keep-alive connection before any answer byte (the server
// closed it while idle) is retried once on a new connection. The callback runs exactly once per
// request, on the loop thread, never from inside request(), and never after close() or the
// destructor (a pending request is then dropped silently).
#pragma once

#include "base/endpoint.h"
#include "base/http_message.h"
#include "base/http_response_parser.h"
#include "base/uv_handle.h"
#include "base/uv_request.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <uv.h>
#include <vector>

namespace http {

struct ClientOptions {
  std::uint64_t connect_timeout_ms = 5000;  // name resolution + TCP connect
  std::uint64_t request_timeout_ms = 30000; // from sending the request to the whole answer
  std::size_t max_body = 16 << 20;          // longer answers fail
};

struct ClientResult {
  std::string error; // empty on success (any HTTP status counts as success)
  int status = 0;
  Headers headers;
  std::string body;
  bool ok() const { return error.empty(); }
  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};
using ResponseCallback = std::function<void(ClientResult)>;

class HttpClient {
public:
  HttpClient(uv_loop_t* loop, hamba::Endpoint server, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request; `target` is "/path?query". Adds Host and Content-Length. Throws
  // std::logic_error when a request is already in flight.
  void request(std::string method, std::string target, std::string body, Headers headers,
               ResponseCallback callback);
  // Drops the connection and any request in flight (its callback is not called).
  void close();

  bool busy() const { return static_cast<bool>(callback_); }
  const hamba::Endpoint& server() const { return server_; }

private:
  void connect_start();
  void on_resolved(int status, const addrinfo* result);
  void connect_next();
  void on_connected(int status);
  void send_request();
  void on_written(int status);
  void on_read(ssize_t nread, const char* data);
  bool retry_on_fresh_connection();
  void disconnect();
  void fail(const std::string& what, int rc);
  void on_timeout(); // arm_timer's time is up: fails the request with ETIMEDOUT
  void finish(ClientResult result);
  void arm_timer(std::uint64_t ms);

  ClientResult take_answer(); // the parser's complete answer as a result

  uv_loop_t* loop_;
  hamba::Endpoint server_;
  ClientOptions options_;
  uvx::Handle<uv_tcp_t> tcp_;
  // The connection's requests in flight; disconnect() detaches them.
  uvx::Requests<uv_getaddrinfo_t> resolve_;
  uvx::Requests<uv_connect_t> connect_;
  uvx::Requests<uv_write_t, std::string> write_;
  uvx::Timer timer_;
  bool connected_ = false;
  bool reused_ = false;    // the request went out on a connection used before
  bool retried_ = false;   // the one retry on a fresh connection was spent
  bool got_bytes_ = false; // some of the answer arrived
  std::vector<sockaddr_storage> addresses_;
  std::size_t next_address_ = 0;
  std::string wire_; // the request as sent
  ResponseCallback callback_;
  bool head_request_ = false;
  ResponseParser parser_;
  char read_buffer_[16 * 1024];
};

} // namespace http
