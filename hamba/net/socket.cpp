// Socket calls with one error convention; see socket.h.
#include "net/socket.h"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace hamba::net::sock {

ssize_t recv_now(int fd, char* into, size_t size) {
  ssize_t n;
  do
    n = ::recv(fd, into, size, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return n >= 0 ? n : uv_translate_sys_error(errno);
}

ssize_t send_now(int fd, const uv_buf_t* bufs, unsigned count, bool more) {
  ssize_t n;
  const int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
  if (count == 1) {
    // send() rather than sendmsg() for the common case: a little less work in the kernel.
    do
      n = ::send(fd, bufs[0].base, bufs[0].len, flags);
    while (n < 0 && errno == EINTR);
  } else {
    msghdr msg{};
    msg.msg_iov = reinterpret_cast<iovec*>(const_cast<uv_buf_t*>(bufs)); // same layout on unix
    msg.msg_iovlen = count;
    do
      n = ::sendmsg(fd, &msg, flags);
    while (n < 0 && errno == EINTR);
  }
  if (n >= 0)
    return n;
  return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : uv_translate_sys_error(errno);
}

int open_stream(int family) {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return uv_translate_sys_error(errno);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); // a socket without it still works
  return fd;
}

int connect_start(int fd, const sockaddr* address) {
  const socklen_t len = address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  int rc;
  do
    rc = ::connect(fd, address, len);
  while (rc < 0 && errno == EINTR);
  // EINTR once retried can say EALREADY: the connect goes on, as with EINPROGRESS.
  if (rc == 0 || errno == EINPROGRESS || errno == EALREADY)
    return 0;
  return uv_translate_sys_error(errno);
}

bool established(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
         info.tcpi_state == TCP_ESTABLISHED;
}

int peer_address(int fd, sockaddr_storage& into) {
  socklen_t len = sizeof into;
  return ::getpeername(fd, reinterpret_cast<sockaddr*>(&into), &len) == 0
             ? 0
             : uv_translate_sys_error(errno);
}

int local_address(int fd, sockaddr_storage& into) {
  socklen_t len = sizeof into;
  return ::getsockname(fd, reinterpret_cast<sockaddr*>(&into), &len) == 0
             ? 0
             : uv_translate_sys_error(errno);
}

void close_fd(int fd) {
  ::close(fd); // Linux closes the descriptor even when close reports EINTR: never retried
}

int pending_error(int fd) {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
    return uv_translate_sys_error(errno);
  return error ? uv_translate_sys_error(error) : 0;
}

void reset_on_close(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

int shutdown_write(int fd) {
  return ::shutdown(fd, SHUT_WR) == 0 ? 0 : uv_translate_sys_error(errno);
}

namespace {
int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : uv_translate_sys_error(errno);
}
} // namespace

int set_keepalive(int fd, bool on, int idle_s, int interval_s, int count) {
  int rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
  if (rc == 0 && on)
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s);
  if (rc == 0 && on)
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval_s);
  if (rc == 0 && on)
    rc = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, count);
  return rc;
}

int set_user_timeout(int fd, unsigned ms) {
  return set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(ms));
}

} // namespace hamba::net::sock
