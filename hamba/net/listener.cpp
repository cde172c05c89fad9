// Listening sockets; see listener.h.
#include "net/listener.h"

#include "base/log.h"

#include <cerrno>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hamba::net {

Listener::Listener(uv_loop_t* loop, const Endpoint& bind, std::function<void()> on_connection,
                   std::function<void(int)> on_error, bool reuseport)
    : bind_(bind), on_connection_(std::move(on_connection)), on_error_(std::move(on_error)) {
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

int Listener::listen_on(uv_loop_t* loop, const std::string& host, unsigned flags, bool reuseport) {
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
    uv_os_fd_t fd;
    int on = 1;
    rc = uv_fileno(tcp_.base(), &fd);
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      rc = -errno;
  }
  if (rc == 0)
    rc = uv_tcp_bind(tcp_.get(), reinterpret_cast<const sockaddr*>(&addr), flags);
  // Accepted sockets inherit TCP_NODELAY from the listening one (Linux): one setsockopt here
  // instead of one per connection.
  if (rc == 0)
    rc = uv_tcp_nodelay(tcp_.get(), 1);
  if (rc == 0)
    rc = start_listening();
  if (rc < 0)
    tcp_.close();
  return rc;
}

Listener::Listener(uv_loop_t* loop, int fd, const Endpoint& bound,
                   std::function<void()> on_connection, std::function<void(int)> on_error)
    : bind_(bound), bound_(bound), on_connection_(std::move(on_connection)),
      on_error_(std::move(on_error)) {
  int rc = tcp_.init([&](uv_tcp_t* h) { return uv_tcp_init(loop, h); });
  if (rc == 0) {
    rc = uv_tcp_open(tcp_.get(), fd);
    if (rc == 0)
      fd = -1; // the handle owns it now
  }
  if (rc == 0)
    rc = start_listening();
  if (fd >= 0)
    ::close(fd);
  if (rc < 0) {
    tcp_.close();
    throw ListenError(
        fmt::format("cannot listen on {}: {}", format_endpoint(bound_), uvx::error_text(rc)), rc);
  }
}

int Listener::start_listening() {
  tcp_.set_data(this);
  return uv_listen(tcp_.stream(), 4096, [](uv_stream_t* server, int status) {
    auto* self = uvx::Handle<uv_tcp_t>::owner<Listener>(server);
    if (!self)
      return;
    if (status < 0) { // libuv tries again on the next event
      if (self->on_error_)
        self->on_error_(status);
      return;
    }
    self->pending_ = true;
    self->on_connection_();
  });
}

Listener::~Listener() {
  close();
}

void Listener::close() {
  if (drained_fd_ >= 0) {
    ::close(drained_fd_);
    drained_fd_ = -1;
  }
  tcp_.close();
}

bool Listener::pending() {
  if (pending_ || drained_fd_ >= 0)
    return true;
  if (!draining_ || !tcp_)
    return false;
  uv_os_fd_t fd;
  if (uv_fileno(tcp_.base(), &fd) != 0)
    return false;
  int client;
  do
    client = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (client < 0 && errno == EINTR);
  if (client < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      log::warn("listener {}: clients still waiting will be reset: accept: {}",
                format_endpoint(bound_), uvx::error_text(-errno));
    return false;
  }
  drained_fd_ = client;
  return true;
}

int Listener::accept(uv_tcp_t* client) {
  if (pending_) {
    pending_ = false;
    return uv_accept(tcp_.stream(), reinterpret_cast<uv_stream_t*>(client));
  }
  if (drained_fd_ < 0)
    return UV_EAGAIN;
  int fd = drained_fd_;
  drained_fd_ = -1;
  int rc = uv_tcp_open(client, fd);
  if (rc < 0)
    ::close(fd);
  return rc;
}

} // namespace hamba::net
