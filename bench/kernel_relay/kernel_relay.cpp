// A connection's sockets relayed by the kernel; see kernel_relay.h.
#include "kernel_relay.h"

#include "net/socket.h"

#include <algorithm>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace kbench {

namespace {

namespace net = hamba::net;

constexpr uint32_t kFlushWaitMaxMs = 64; // the longest wait between two looks at the queues

// The kernel's struct tcp_info as far as tcpi_bytes_acked: glibc's ends at tcpi_total_retrans
// (and <linux/tcp.h> cannot be included beside it).
struct TcpInfo {
  tcp_info head;
  uint64_t pacing_rate;
  uint64_t max_pacing_rate;
  uint64_t bytes_acked; // counts the SYN
};
static_assert(sizeof(tcp_info) == 104, "glibc's tcp_info ends at tcpi_total_retrans");

// Bytes that ever entered the socket's send queue: acknowledged ones (with the SYN) and those
// queued. 0 when the socket cannot tell (it is gone).
uint64_t entered_send_queue(int fd) {
  TcpInfo info{};
  socklen_t len = sizeof info;
  int outq = 0;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 || len < sizeof info ||
      ::ioctl(fd, SIOCOUTQ, &outq) != 0)
    return 0;
  return info.bytes_acked + static_cast<uint64_t>(outq);
}

bool established(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 &&
         info.tcpi_state == TCP_ESTABLISHED;
}

int received_waiting(int fd) {
  int inq = 0;
  return ::ioctl(fd, SIOCINQ, &inq) == 0 ? inq : 0;
}

} // namespace

bool KernelRelay::start(uv_loop_t* loop) {
  if (client_.queued() > 0 || server_.queued() > 0)
    return false;
  net::TcpTransport* transports[2] = {&client_, &server_};
  for (int i = 0; i < 2; ++i) {
    Side& s = sides_[i];
    s.fd = transports[i]->fd();
    s.cookie = Sockmap::cookie_of(s.fd);
    if (s.fd < 0 || s.cookie == 0 || !established(s.fd))
      return false;
  }
  client_.stop_reading();
  server_.stop_reading();
  for (Side& s : sides_)
    s.base = entered_send_queue(s.fd);
  if (map_.pair(sides_[0].fd, sides_[0].cookie, sides_[1].fd, sides_[1].cookie,
                options_.pair_gap_ms) != 0)
    return false;
  paired_ = true;
  // Bytes that were waiting before the pairing are taken by the program only when it is woken:
  // setting the low-water mark wakes it now, and it takes them in order before any newer ones.
  if (options_.rcvlowat) {
    for (Side& s : sides_) {
      int one = 1;
      ::setsockopt(s.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    }
  }
  flush_timer_.init(loop, this);
  for (Side& s : sides_) {
    // The transport's own watcher is idle (not reading, nothing queued), so the descriptor can
    // be watched here for the peer's FIN and for errors alone.
    int rc = s.poll.init([&](uv_poll_t* p) { return uv_poll_init(loop, p, s.fd); });
    if (rc == 0) {
      s.poll.set_data(this);
      rc = uv_poll_start(s.poll.get(), UV_DISCONNECT, [](uv_poll_t* p, int status, int events) {
        if (auto* self = uvx::Handle<uv_poll_t>::owner<KernelRelay>(p))
          self->on_poll(p == self->sides_[0].poll.get() ? self->sides_[0] : self->sides_[1], status,
                        events);
      });
    }
    if (rc != 0) {
      // Paired already: the program moves the bytes, but their ends could not be watched.
      end(net::RelayEnd::client_reset);
      return true;
    }
  }
  return true;
}

void KernelRelay::on_poll(Side& s, int status, int events) {
  const int side = &s == &sides_[0] ? 0 : 1;
  if (status < 0 || net::sock::pending_error(s.fd) != 0) {
    end(blame(side)); // a reset (EPOLLERR)
    return;
  }
  if ((events & UV_DISCONNECT) == 0)
    return;
  uv_poll_stop(s.poll.get()); // level-triggered: it would fire on every loop round
  s.eof = true;
  flush();
}

bool KernelRelay::flushed(const Side& from, const Side& to) const {
  if (received_waiting(from.fd) > 0)
    return false; // not taken by the program yet
  if (!options_.counted)
    return true; // the A/B without the count: what the workers still hold may come after
  uint64_t moved = map_.bytes_from(from.cookie);
  uint64_t entered = entered_send_queue(to.fd);
  return entered >= to.base && entered - to.base >= moved;
}

void KernelRelay::flush() {
  bool waiting = false;
  for (int i = 0; i < 2; ++i) {
    Side& from = sides_[i];
    Side& to = sides_[1 - i];
    if (!from.eof || from.shut)
      continue;
    if (int err = net::sock::pending_error(to.fd); err != 0) {
      end(blame(1 - i));
      return;
    }
    if (!flushed(from, to)) {
      waiting = true;
      continue;
    }
    if (net::sock::shutdown_write(to.fd) != 0) {
      end(blame(1 - i));
      return;
    }
    from.shut = true;
    flush_wait_ms_ = 1;
  }
  if (sides_[0].shut && sides_[1].shut) {
    end(net::RelayEnd::closed);
    return;
  }
  if (waiting) {
    flush_timer_.start<&KernelRelay::on_flush_timer>(flush_wait_ms_);
    flush_wait_ms_ = std::min(flush_wait_ms_ * 2, kFlushWaitMaxMs);
  }
}

void KernelRelay::stop() {
  if (paired_) {
    map_.unpair(sides_[0].cookie, sides_[1].cookie);
    paired_ = false;
  }
  flush_timer_.close();
  for (Side& s : sides_)
    s.poll.close();
}

void KernelRelay::end(net::RelayEnd how) {
  if (ended_)
    return;
  ended_ = true;
  flush_timer_.stop();
  owner_.on_relay_end(how);
}

} // namespace kbench
