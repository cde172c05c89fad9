// A small HTTP/1.1 server on libuv: keep-alive, Content-Length (and chunked) request bodies,
// bounded sizes, answers that may come later (from a timer, a Redis reply, ...).
//
//     http::HttpServer server(loop, [](http::Request&& req, http::Reply reply) {
//       if (req.path != "/")
//         return reply(http::Response::error(404));
//       reply(http::Response::text(200, "hello\n"));
//     });
//     server.listen("0.0.0.0", 8000);       // throws uvx::Error when the bind fails
//     ...                                   // uv_run(loop)
//     server.close();                       // e.g. from the SIGTERM handler
//
// Each connection handles one request at a time: it stops reading when a request is complete and
// reads (or parses pipelined bytes) again once the answer is written, so a connection holds at
// most one request, one answer and one read buffer. Requests are parsed by RequestParser
// (base/http_request_parser.h): malformed ones get its status (400, 413, 414, 431, 505) and the
// connection is closed. Everything happens on the loop's thread.
//
// Slow, idle and non-reading clients are bounded four ways:
//   - a request's head (request line and headers) must be in within ServerOptions::head_timeout_ms
//     of its first byte (of the accept, for a connection's first request), however the bytes
//     trickle in: then 408, and the connection is closed (HAProxy's `timeout http-request`);
//   - an answer must be written in full within write_timeout_ms of being handed to the socket,
//     however slowly the client reads: then the connection is reset. A client that does not read
//     holds a zero window for as long as it likes, and the answer with it;
//   - a connection with nothing to do for idle_timeout_ms is closed;
//   - when max_connections are open, a new connection takes the place of another: first the one
//     whose answer has been stalled the longest, if still being written write_stall_ms after it
//     was handed to the socket (reset); else the oldest one that has not completed a request yet;
//     else the oldest idle one, waiting for its next request. A quarter of max_connections per
//     turn of the loop at most (the next connections wait in the kernel's accept queue). A
//     connection whose request is with the handler, or whose answer went out less than
//     write_stall_ms ago, keeps its place: only when every connection is such is the new one
//     closed. A well-behaved client is therefore served however many connections an attacker
//     holds open, trickling requests or not reading answers.
// An answer is held once, as the handler gave it (its serialized head beside it), until it is
// written or the connection goes: never copied, never grown.
#pragma once

#include "base/http_message.h"
#include "base/http_request_parser.h"
#include "base/uv_handle.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <uv.h>

namespace http {

// Sends the answer to one request. Call it exactly once, now or later on the loop thread; if the
// connection is gone by then (client left, server closed), it does nothing.
using Reply = std::function<void(Response)>;
// Called once per complete request.
using Handler = std::function<void(Request&&, Reply)>;

struct ServerOptions {
  std::size_t max_body = 1 << 20;        // request bodies above this get 413
  std::size_t max_target = 8 << 10;      // request targets above this get 414
  std::uint64_t idle_timeout_ms = 60000; // keep-alive connections idle this long are closed
  std::uint64_t head_timeout_ms = 10000; // a request head taking longer gets 408
  // An answer not fully written this long after it is handed to the socket: the connection is
  // reset (see above).
  std::uint64_t write_timeout_ms = 10000;
  // An answer still being written this long after it is handed to the socket is stalled: its
  // connection gives its place to a new one when the server is full (see above).
  std::uint64_t write_stall_ms = 1000;
  std::size_t max_empty_lines = 8;    // more CRLFs before a request line get 400
  std::size_t max_connections = 1024; // then a new connection evicts a stalled one (see above)
  std::string server_name;            // sent as the Server header when not empty
};

class HttpConnection; // one accepted connection (http_server.cpp)

class HttpServer {
public:
  HttpServer(uv_loop_t* loop, Handler handler, ServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (host: a numeric IPv4/IPv6 address, "" for 0.0.0.0; port 0: the kernel
  // picks one) and starts accepting. Throws uvx::Error naming the address when it fails.
  void listen(const std::string& host, uint16_t port);
  // The bound port (after listen), e.g. when listening on port 0.
  uint16_t port() const { return port_; }
  // Stops accepting and closes every connection; answers still pending are dropped. Idempotent;
  // after it the server holds no handle, so the loop can end.
  void close();
  // A graceful stop (a service's SIGTERM): the connections already in the kernel's accept queue
  // are accepted (closing the listener would reset them), then the listener closes. A
  // connection waiting for its next request closes now; the others answer the request they
  // have (or, for one just accepted, their first), with `Connection: close`, then close.
  // `on_drained` runs once no connection is left, from inside drain() when none is. The
  // caller bounds how long that may take (close() ends it).
  void drain(std::function<void()> on_drained);

  std::size_t connection_count() const { return connections_.size(); }
  uv_loop_t* loop() const { return loop_; }
  const ServerOptions& options() const { return options_; }

private:
  friend class HttpConnection;
  void on_connection(int status);
  void accept_one();
  void on_accept_turn();
  void accept_queued(); // drain(): the accept queue, up to kMaxDrainAccepts
  void check_drained();
  std::size_t evictions_per_turn() const;
  void on_sweep();
  void dispatch(Request&& request, Reply reply) { handler_(std::move(request), std::move(reply)); }
  void forget(HttpConnection* connection);
  std::shared_ptr<HttpConnection> eviction_candidate() const; // null: none

  uv_loop_t* loop_;
  Handler handler_;
  ServerOptions options_;
  uvx::Handle<uv_tcp_t> listener_;
  uvx::Timer sweep_timer_;         // closes idle keep-alive connections
  uvx::Timer accept_turn_timer_;   // accepts the next connection a turn later (on_connection)
  std::size_t evictions_left_ = 0; // in this turn of the loop
  bool accept_deferred_ = false;   // libuv holds a connection for on_accept_turn
  bool draining_ = false;
  std::function<void()> on_drained_;
  uint16_t port_ = 0;
  std::uint64_t accepted_ = 0; // connections accepted so far: each one's serial
  std::unordered_map<HttpConnection*, std::shared_ptr<HttpConnection>> connections_;
};

} // namespace http
