// Every system call on a connected socket, in one place and with one error convention, as
// Redis's anet.c keeps them: a result >= 0 is success (bytes, or 0), a negative one is a libuv
// error code (UV_EAGAIN: nothing now, UV_ECONNRESET, ...). EINTR is retried here, and never
// seen above. The listening side (accept4, SO_REUSEPORT) is net/listener.h's and
// net/listening_socket.h's.
#pragma once

#include <cstddef>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

namespace hamba::net::sock {

// Reads what is there without waiting: bytes read, 0 at the peer's EOF, else an error
// (UV_EAGAIN: nothing yet).
ssize_t recv_now(int fd, char* into, size_t size);
// Sends without waiting and without SIGPIPE: the bytes the kernel took (maybe 0, maybe fewer
// than offered), else an error (the peer is gone). `more`: a shutdown follows at once, the
// kernel may hold the bytes for it (MSG_MORE) so that the FIN leaves in their segment.
ssize_t send_now(int fd, const uv_buf_t* bufs, unsigned count, bool more = false);
// A new non-blocking TCP socket of `family` (close-on-exec, TCP_NODELAY on), else an error.
int open_stream(int family);
// Starts a connect on a non-blocking socket: 0 when it is under way (or done; the socket turns
// writable then), else an error.
int connect_start(int fd, const sockaddr* address);
// The connect of a socket is done: its handshake completed (TCP_INFO's state), as a loopback
// connect's does inside connect(2).
bool established(int fd);
// The peer's and the local address of a connected socket: 0, else an error.
int peer_address(int fd, sockaddr_storage& into);
int local_address(int fd, sockaddr_storage& into);
// Closes the descriptor.
void close_fd(int fd);
// The pending error on the socket (SO_ERROR) as a libuv error, 0 when none.
int pending_error(int fd);
// The coming close sends a reset (RST) instead of a FIN (SO_LINGER 0).
void reset_on_close(int fd);
// Shuts the write half now (the peer reads EOF after what was sent): 0, else an error.
int shutdown_write(int fd);
// TCP keepalive (SO_KEEPALIVE): on, with a first probe after `idle_s` seconds without a segment
// from the peer, then one every `interval_s`, and the end after `count` unanswered; or off (the
// figures are then not touched). 0, else the first error.
int set_keepalive(int fd, bool on, int idle_s, int interval_s, int count);
// TCP_USER_TIMEOUT: sent data may stay unacknowledged at most `ms` (0: the kernel's default).
// 0, else an error.
int set_user_timeout(int fd, unsigned ms);

} // namespace hamba::net::sock
