// A bound, listening TCP socket: made on the main loop, copied to the workers (net::Listener),
// closed there once every worker holds its copy.
#pragma once

#include "base/endpoint.h"
#include "base/uv_handle.h"

#include <stdexcept>

namespace hamba::net {

// Binding failed; what() is a full sentence naming the address ("cannot listen on
// 127.0.0.1:80: EADDRINUSE (address already in use)").
class ListenError : public std::runtime_error {
public:
  ListenError(const std::string& what, int rc) : std::runtime_error(what), code(rc) {}
  int code;
};

class ListeningSocket {
public:
  // Binds and listens at once; throws ListenError. An empty host means every address: [::] with
  // IPv4 mapped in, or 0.0.0.0 where there is no IPv6 (bound() says which).
  // With `reuseport`, the socket gets SO_REUSEPORT before its bind: several sockets on one
  // address, each with its own accept queue, among which the kernel spreads new connections by
  // a hash of their addresses (one per worker loop).
  // Nothing is accepted here: the socket is meant to be copied to Listeners, then closed.
  ListeningSocket(uv_loop_t* loop, const Endpoint& bind, bool reuseport = false);
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;

  const Endpoint& bind() const { return bind_; }
  // The address actually bound: bind(), or "::" / "0.0.0.0" for an empty host.
  const Endpoint& bound() const { return bound_; }
  // The socket, still owned here: a Listener takes a copy (dup).
  int fd() const;

private:
  // Binds and listens on host:bind_.port with uv_tcp_bind `flags`; a libuv error code.
  int listen_on(uv_loop_t* loop, const std::string& host, unsigned flags, bool reuseport);

  Endpoint bind_;
  Endpoint bound_;
  uvx::Handle<uv_tcp_t> tcp_;
};

} // namespace hamba::net
