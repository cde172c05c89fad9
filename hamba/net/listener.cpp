// Accepting on a listening socket; see listener.h.
#include "net/listener.h"

#include "base/log.h"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <utility>

namespace hamba::net {

namespace {

bool is_wildcard(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr == htonl(INADDR_ANY);
  if (a.ss_family == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr);
  return true; // no address a PROXY header could carry
}

// Errors of a connection that failed before it was accepted (accept(2): "Linux passes already
// pending network errors on the new socket as an error code from accept()"): the next one in
// the queue is tried.
bool is_connection_error(int err) {
  switch (err) {
  case EINTR:
  case ECONNABORTED:
  case EPROTO:
  case ENOPROTOOPT:
  case EHOSTDOWN:
  case ENONET:
  case EHOSTUNREACH:
  case EOPNOTSUPP:
  case ENETDOWN:
  case ENETUNREACH:
  case EPERM: // refused by a firewall rule
    return true;
  default:
    return false;
  }
}

} // namespace

Listener::Listener(uv_loop_t* loop, int fd, const Endpoint& bound,
                   std::function<void()> on_connection, std::function<void(int)> on_error)
    : bound_(bound), on_connection_(std::move(on_connection)), on_error_(std::move(on_error)),
      fd_(fd) {
  // The copies share one open file: already non-blocking, made so again for a socket from
  // elsewhere (accept4 must never wait).
  int rc = 0;
  if (int flags = ::fcntl(fd_, F_GETFL); flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0)
    rc = -errno;
  if (rc == 0)
    rc = poll_.init([&](uv_poll_t* p) { return uv_poll_init_socket(loop, p, fd_); });
  if (rc < 0) {
    close();
    throw ListenError(
        fmt::format("cannot listen on {}: {}", format_endpoint(bound_), uvx::error_text(rc)), rc);
  }
  poll_.set_data(this);
  retry_.init(loop, this);
  socklen_t len = sizeof local_;
  has_local_ =
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&local_), &len) == 0 && !is_wildcard(local_);
  watch(true);
}

Listener::~Listener() {
  close();
}

void Listener::close() {
  if (ready_fd_ >= 0)
    ::close(std::exchange(ready_fd_, -1));
  retry_.close();
  poll_.close(); // stops watching at once: the descriptor may go now
  watching_ = false;
  if (fd_ >= 0)
    ::close(std::exchange(fd_, -1));
}

void Listener::watch(bool on) {
  if (on == watching_ || !poll_)
    return;
  watching_ = on;
  if (!on) {
    uv_poll_stop(poll_.get());
    return;
  }
  uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* p, int status, int) {
    auto* self = uvx::Handle<uv_poll_t>::owner<Listener>(p);
    if (!self)
      return;
    if (status < 0) {
      self->back_off(status);
      return;
    }
    self->readable_ = true;
    self->on_connection_();
    // The owner may have closed this listener meanwhile (its handle's data is cleared then;
    // the handle itself lives until its close callback).
    if (p->data == nullptr)
      return;
    // A connection the owner left here (it is at its limit): epoll reports the socket readable
    // while clients wait, so it is not watched until accept() takes this one.
    if (self->ready_fd_ >= 0)
      self->watch(false);
  });
}

void Listener::back_off(int rc) {
  backing_off_ = true;
  readable_ = false;
  watch(false);
  retry_.start<&Listener::on_retry>(kRetryMs);
  if (on_error_)
    on_error_(rc);
}

void Listener::on_retry() {
  backing_off_ = false;
  watch(true); // epoll reports the socket again at once if clients wait
}

void Listener::start_draining() {
  if (draining_)
    return;
  draining_ = true;
  if (fd_ < 0)
    return;
  // A classic BPF program of one instruction, "keep 0 bytes": every SYN, and every last ACK of
  // a handshake, is dropped on this socket (the listener's filter runs on both).
  sock_filter drop_all{BPF_RET | BPF_K, 0, 0, 0};
  const sock_fprog program{1, &drop_all};
  if (::setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0)
    log::warn("listener {}: a client connecting while it closes may be reset: "
              "SO_ATTACH_FILTER: {}",
              format_endpoint(bound_), uvx::error_text(-errno));
}

void Listener::defer_accept(bool on) {
  if (on == deferred_ || fd_ < 0)
    return;
  int seconds = on ? kDeferSeconds : 0;
  if (::setsockopt(fd_, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) != 0) {
    // Only a cost: connections are then accepted before their first bytes come.
    log::warn("listener {}: TCP_DEFER_ACCEPT: {}", format_endpoint(bound_),
              uvx::error_text(-errno));
    return;
  }
  deferred_ = on;
}

bool Listener::pending() {
  if (ready_fd_ >= 0)
    return true;
  if (fd_ < 0 || (!readable_ && !draining_) || (backing_off_ && !draining_))
    return false;
  for (;;) {
    socklen_t len = sizeof ready_peer_;
    int client = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ready_peer_), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client >= 0) {
      if (len == 0 || len > sizeof ready_peer_)
        ready_peer_.ss_family = AF_UNSPEC;
      ready_fd_ = client;
      return true;
    }
    int err = errno;
    if (is_connection_error(err))
      continue;
    readable_ = false;
    if (err == EAGAIN || err == EWOULDBLOCK)
      return false;
    if (draining_)
      log::warn("listener {}: clients still waiting will be reset: accept: {}",
                format_endpoint(bound_), uvx::error_text(-err));
    else
      back_off(-err); // EMFILE, ENFILE, ENOBUFS, ENOMEM: the clients wait in the kernel's queue
    return false;
  }
}

void Listener::refuse() {
  if (ready_fd_ < 0)
    return;
  const linger reset{1, 0};
  ::setsockopt(ready_fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset); // at worst a FIN
  ::close(std::exchange(ready_fd_, -1));
  if (!backing_off_ && !draining_)
    watch(true);
}

int Listener::take() {
  int fd = std::exchange(ready_fd_, -1);
  if (!backing_off_ && !draining_)
    watch(true);
  return fd;
}

int Listener::accept(sockaddr_storage* peer) {
  if (!pending())
    return UV_EAGAIN;
  if (peer)
    *peer = ready_peer_;
  return take();
}

} // namespace hamba::net
