// A listening TCP socket: binds [ADDR]:PORT and reports new connections.
//
// The owner decides when to accept: a connection that is not accepted stays with libuv, which
// stops watching the socket until accept() is called, so further clients wait in the kernel's
// accept queue (the global maxconn rule: above it, connections wait, none are refused).
//
// Closing a listening socket resets every connection still in its accept queue: clients whose
// connect() succeeded. So an owner that stops listening drains first (start_draining(), then
// accept while pending()), and closes after: only a connection whose handshake completes in the
// microseconds between the last accept and the close can still be reset (the kernel offers no
// way to stop new handshakes on one socket short of a BPF filter).
#pragma once

#include "base/endpoint.h"
#include "base/uv_handle.h"

#include <functional>
#include <stdexcept>

namespace hamba::net {

// Binding failed; what() is a full sentence naming the address ("cannot listen on
// 127.0.0.1:80: EADDRINUSE (address already in use)").
class ListenError : public std::runtime_error {
public:
  ListenError(const std::string& what, int rc) : std::runtime_error(what), code(rc) {}
  int code;
};

class Listener {
public:
  // Binds and listens at once; throws ListenError. An empty host means every address: [::] with
  // IPv4 mapped in, or 0.0.0.0 where there is no IPv6 (bound() says which).
  // `on_error` hears of accepts that failed (a libuv error: UV_EMFILE...). libuv itself then
  // closes the waiting connections it cannot hand over (its EMFILE trick), which is why the
  // engine keeps descriptors in reserve and stops accepting before they run out.
  // With `reuseport`, the socket gets SO_REUSEPORT before its bind: several sockets on one
  // address, each with its own accept queue, among which the kernel spreads new connections by
  // a hash of their addresses (one per worker loop).
  Listener(uv_loop_t* loop, const Endpoint& bind, std::function<void()> on_connection,
           std::function<void(int)> on_error = nullptr, bool reuseport = false);
  // Listens on `fd`, a copy of a socket another Listener bound (one per worker loop, all
  // sharing one accept queue); takes `fd` even when it fails. `bound` is that Listener's
  // bound(), for logs.
  Listener(uv_loop_t* loop, int fd, const Endpoint& bound, std::function<void()> on_connection,
           std::function<void(int)> on_error = nullptr);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Accepts the waiting connection into `client` (initialised by the caller). Returns a libuv
  // error code (0 on success).
  int accept(uv_tcp_t* client);
  // A connection is waiting to be accepted (reported but not accepted yet; while draining, one
  // taken from the kernel's accept queue).
  bool pending();
  // From now on pending() looks in the kernel's accept queue itself, ignoring the loop's
  // readiness: for a drain just before close().
  void start_draining() { draining_ = true; }
  const Endpoint& bind() const { return bind_; }
  // The address actually bound: bind(), or "::" / "0.0.0.0" for an empty host.
  const Endpoint& bound() const { return bound_; }
  const uv_tcp_t* handle() const { return tcp_.get(); }
  void close();
  ~Listener();

private:
  // Binds and listens on host:bind_.port with uv_tcp_bind `flags`; a libuv error code.
  int listen_on(uv_loop_t* loop, const std::string& host, unsigned flags, bool reuseport);
  int start_listening(); // uv_listen on tcp_, reporting to on_connection_

  Endpoint bind_;
  Endpoint bound_;
  std::function<void()> on_connection_;
  std::function<void(int)> on_error_;
  uvx::Handle<uv_tcp_t> tcp_;
  bool pending_ = false;
  bool draining_ = false;
  int drained_fd_ = -1; // accepted by the drain, not yet handed to accept()
};

} // namespace hamba::net
