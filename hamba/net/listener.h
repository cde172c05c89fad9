// The accepting side of a listening socket, on one worker loop: reports new connections, and
// accepts them when its owner asks.
//
// The owner decides when to accept: a connection that is not accepted is held here (one at
// most), and the socket is not watched until accept() takes it, so further clients wait in the
// kernel's accept queue (the global maxconn rule: above it, connections wait, none are refused).
//
// Accepting is done here, not by libuv's uv_listen: libuv answers running out of descriptors
// with its "EMFILE trick", closing a spare descriptor to accept and close every waiting
// connection, so clients whose connect() succeeded get an immediate EOF, and nobody hears of
// it. Here the socket is watched with a uv_poll_t and accept4(2) is called by hand: when hamba
// is short of descriptors or memory, the connection stays in the kernel's queue, `on_error`
// hears of it, and the listener looks again kRetryMs later (HAProxy pauses its listeners alike).
//
// Closing a listening socket resets every connection still in its accept queue: clients whose
// connect() succeeded. So an owner that stops listening drains first (start_draining(), then
// accept while pending()), and closes after. start_draining() also gives the socket a filter
// that drops every packet, so that no handshake completes while the queue drains or before the
// close: a client that connects then sees its SYN unanswered, and is refused when it tries
// again. Without it, a loaded machine that preempted the worker between its last accept and
// the close let a handshake complete in between, and reset it. Only a handshake whose SYN came
// before the filter and whose last ACK came after it can still be cut.
#pragma once

#include "base/endpoint.h"
#include "base/uv_handle.h"
#include "net/listening_socket.h"

#include <functional>
#include <sys/socket.h>

namespace hamba::net {

class Listener {
public:
  // How long a listener short of descriptors waits before it tries again.
  static constexpr uint64_t kRetryMs = 50;

  // Accepts on `fd`, a copy of a ListeningSocket's (one per worker loop, all sharing one accept
  // queue, or each its own SO_REUSEPORT socket); takes `fd` even when it fails (ListenError).
  // `bound` is that socket's bound(), for logs. `on_connection` is called when a connection may
  // be waiting (it calls pending() and accept()); `on_error` hears of accepts that failed (a
  // libuv error code: UV_EMFILE...).
  Listener(uv_loop_t* loop, int fd, const Endpoint& bound, std::function<void()> on_connection,
           std::function<void(int)> on_error = nullptr);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Hands over the waiting connection's descriptor (non-blocking, close-on-exec: the caller
  // owns it), and its peer address to `peer` when given (as accept(2) told it: no getpeername
  // later; AF_UNSPEC if unknown). Returns the descriptor, or a libuv error code (UV_EAGAIN when
  // none waits).
  int accept(sockaddr_storage* peer = nullptr);
  // A connection is waiting to be accepted: it is taken from the kernel's queue and held until
  // accept(). False when the queue is empty, or when hamba is short of descriptors.
  bool pending();
  // The peer of the connection pending() holds (AF_UNSPEC if unknown), for a decision before
  // accept(): no byte of it has been read.
  const sockaddr* waiting_peer() const { return reinterpret_cast<const sockaddr*>(&ready_peer_); }
  // Closes the connection pending() holds with a reset (SO_LINGER 0), unread.
  void refuse();
  // Hands over the descriptor of the connection pending() holds, unread (the caller closes it).
  int take();
  // From now on no handshake completes on the socket (a drop-everything filter), and pending()
  // looks in the kernel's accept queue whether or not the socket was reported readable: for a
  // drain just before close().
  void start_draining();
  // For a protocol where the client speaks first (a PROXY header, a TLS ClientHello): the
  // kernel hands over a connection only once its first bytes are there (TCP_DEFER_ACCEPT, as
  // HAProxy's `defer-accept` and nginx's `deferred`), so the accept finds them ready (no loop
  // round waiting for them), and a client that connects and says nothing holds no descriptor
  // of hamba's until kDeferSeconds have passed. Set on the socket (shared by the workers'
  // copies of it); a no-op when unchanged.
  void defer_accept(bool on);
  static constexpr int kDeferSeconds = 1;
  // The address bound, for logs.
  const Endpoint& bound() const { return bound_; }
  // The local address of every connection accepted here, when the socket is bound to one
  // address (not a wildcard): asked of the kernel once, so that a connection's own destination
  // (a PROXY header's) costs no getsockname. nullptr for a wildcard bind.
  const sockaddr* local_address() const {
    return has_local_ ? reinterpret_cast<const sockaddr*>(&local_) : nullptr;
  }
  void close();
  ~Listener();

private:
  void watch(bool on);   // the poll handle on or off
  void back_off(int rc); // an accept failed: stop looking for kRetryMs
  void on_retry();

  Endpoint bound_;
  std::function<void()> on_connection_;
  std::function<void(int)> on_error_;
  int fd_ = -1;
  uvx::Handle<uv_poll_t> poll_;
  uvx::Timer retry_;
  bool watching_ = false;
  bool readable_ = false;    // reported readable, not found empty since
  bool backing_off_ = false; // waiting for retry_
  bool draining_ = false;
  bool deferred_ = false;
  int ready_fd_ = -1;             // accepted from the kernel's queue, not yet handed to accept()
  sockaddr_storage ready_peer_{}; // its peer address
  sockaddr_storage local_{};
  bool has_local_ = false;
};

} // namespace hamba::net
