// Binding listening sockets; see listening_socket.h.
#include "net/listening_socket.h"

#include <cerrno>
#include <fmt/format.h>
#include <sys/socket.h>

namespace hamba::net {

// The kernel's accept queue for each socket (capped by net.core.somaxconn): clients above the
// global maxconn wait there.
constexpr int kBacklog = 4096;

ListeningSocket::ListeningSocket(uv_loop_t* loop, const Endpoint& bind, bool reuseport)
    : bind_(bind) {
  int rc;
  if (bind.host.empty()) {
    // Every address, IPv6 and IPv4 on one socket (IPV6_V6ONLY off, as HAProxy's
    // "bind :::PORT v4v6"); a host or container without IPv6 fails the bind to [::] with one of
    // these two, and gets every IPv4 address instead.
    rc = listen_on(loop, "::", 0, reuseport);
    if (rc == UV_EAFNOSUPPORT || rc == UV_EADDRNOTAVAIL)
      rc = listen_on(loop, "0.0.0.0", 0, reuseport);
  } else {
    rc = listen_on(loop, bind.host, bind.host.find(':') != std::string::npos ? UV_TCP_IPV6ONLY : 0,
                   reuseport);
  }
  if (rc < 0) {
    const char* hint = rc == UV_EADDRINUSE      ? " (another process listens there)"
                       : rc == UV_EADDRNOTAVAIL ? " (that address is not one of this host's)"
                       : rc == UV_EACCES        ? " (ports below 1024 need privileges)"
                                                : "";
    throw ListenError(fmt::format("cannot listen on {}: {}{}", format_endpoint(bound_),
                                  uvx::error_text(rc), hint),
                      rc);
  }
}

int ListeningSocket::fd() const {
  uv_os_fd_t fd = -1;
  uv_fileno(tcp_.base(), &fd);
  return fd;
}

int ListeningSocket::listen_on(uv_loop_t* loop, const std::string& host, unsigned flags,
                               bool reuseport) {
  bound_ = {host, bind_.port};
  tcp_.close(); // a failed first attempt leaves a socket of the other family
  sockaddr_storage addr;
  if (!ip_literal_sockaddr(host, bind_.port, addr))
    throw ListenError(
        fmt::format("cannot listen on {}: not an IP address", format_endpoint(bound_)), UV_EINVAL);
  // SO_REUSEPORT must be set before the bind, and libuv has no flag for it: the socket is made
  // first (uv_tcp_init_ex) and given the option by hand.
  int family = reinterpret_cast<const sockaddr*>(&addr)->sa_family;
  int rc = tcp_.init([&](uv_tcp_t* h) {
    return reuseport ? uv_tcp_init_ex(loop, h, static_cast<unsigned>(family))
                     : uv_tcp_init(loop, h);
  });
  if (rc == 0 && reuseport) {
    int on = 1;
    if (setsockopt(fd(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      rc = -errno;
  }
  if (rc == 0)
    rc = uv_tcp_bind(tcp_.get(), reinterpret_cast<const sockaddr*>(&addr), flags);
  // Accepted sockets inherit TCP_NODELAY from the listening one (Linux): one setsockopt here
  // instead of one per connection.
  if (rc == 0)
    rc = uv_tcp_nodelay(tcp_.get(), 1);
  // uv_listen, not listen(2): it reports the bind errors uv_tcp_bind defers (EADDRINUSE). Its
  // accept loop never runs: this handle closes before the main loop turns, and the workers
  // accept from their copies (net::Listener).
  if (rc == 0)
    rc = uv_listen(tcp_.stream(), kBacklog, [](uv_stream_t*, int) {});
  if (rc < 0)
    tcp_.close();
  return rc;
}

} // namespace hamba::net
