// A TCP socket as a transport; see tcp_transport.h.
#include "net/tcp_transport.h"

#include "base/check.h"
#include "net/socket.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace hamba::net {

namespace {

// Full reads one wakeup may make before the loop turns to other connections (a short read, the
// EOF, a handler that stops reading end it sooner). The poll is level-triggered: what is left
// is reported again at the next turn.
constexpr int kReadsPerWakeup = 8;

// Write blocks kept per thread for reuse: a steady stream of stalled writes allocates nothing.
struct BlockCache {
  static constexpr int kKeep = 16;
  void* items[kKeep];
  int count = 0;
  ~BlockCache() {
    while (count > 0)
      ::operator delete(items[--count]);
  }
};
thread_local BlockCache block_cache;

void* take_block(size_t size) {
  return block_cache.count > 0 ? block_cache.items[--block_cache.count] : ::operator new(size);
}

void give_block(void* raw) {
  if (block_cache.count < BlockCache::kKeep)
    block_cache.items[block_cache.count++] = raw;
  else
    ::operator delete(raw);
}

} // namespace

int TcpTransport::watch(uv_loop_t* loop) {
  int rc = poll_.init([&](uv_poll_t* p) { return uv_poll_init_socket(loop, p, fd_); });
  if (rc < 0) {
    sock::close_fd(fd_);
    fd_ = -1;
    return rc;
  }
  poll_.set_data(this);
  return 0;
}

int TcpTransport::adopt(uv_loop_t* loop, int fd) {
  HAMBA_DCHECK(fd_ < 0);
  fd_ = fd;
  return watch(loop);
}

int TcpTransport::connect(uv_loop_t* loop, const sockaddr* address) {
  HAMBA_DCHECK(fd_ < 0);
  int fd = sock::open_stream(address->sa_family);
  if (fd < 0)
    return fd;
  if (int rc = sock::connect_start(fd, address); rc < 0) {
    sock::close_fd(fd);
    return rc;
  }
  fd_ = fd;
  if (int rc = watch(loop); rc < 0)
    return rc;
  if (sock::established(fd_))
    return 1;
  connecting_ = true; // writable: the connect ended (SO_ERROR says how)
  int rc = update_interest(false);
  if (rc < 0)
    close();
  return rc;
}

int TcpTransport::interest() const {
  int events = 0;
  if (reading_)
    events |= UV_READABLE | UV_DISCONNECT;
  if (head_ || connecting_)
    events |= UV_WRITABLE;
  return events;
}

int TcpTransport::update_interest(bool narrow) {
  if (!poll_)
    return UV_EBADF;
  const int want = interest();
  const int next = narrow ? want : (active_ | want);
  if (next == active_)
    return 0;
  if (next == 0) {
    uv_poll_stop(poll_.get());
    active_ = 0;
    return 0;
  }
  int rc = uv_poll_start(poll_.get(), next, [](uv_poll_t* p, int status, int events) {
    if (auto* self = uvx::Handle<uv_poll_t>::owner<TcpTransport>(p))
      self->on_poll(status, events);
  });
  active_ = rc == 0 ? next : 0;
  return rc;
}

void TcpTransport::on_poll(int status, int events) {
  // After a handler call, this socket may be closed, and even another one opened in its place
  // (a connect retried from on_connected): then nothing more of this report is for it.
  const uv_poll_t* const watched = poll_.get();
  auto gone = [&] { return poll_.get() != watched; };
  if (status == 0 && events == 0)
    events = UV_READABLE | UV_WRITABLE; // a hang-up alone (EPOLLHUP): met by the calls below
  if (status < 0) {
    // An error on the socket (POLLERR; libuv stopped the poll): whatever is wanted meets it in
    // its own system call (a read's data first, then the reset; a queued write's EPIPE).
    active_ = 0;
    events = UV_READABLE | UV_WRITABLE;
  }
  if (connecting_ && (events & UV_WRITABLE)) {
    connecting_ = false;
    const int error = sock::pending_error(fd_);
    if (error < 0)
      reading_ = false; // nothing more comes from this socket
    // Connected: the poll stops watching for writable before the handler hears of it, which
    // may then watch the descriptor with a poll of its own.
    update_interest(true);
    handler_->on_connected(*this, error);
    if (gone())
      return;
  }
  if ((events & UV_WRITABLE) && head_ && !flush())
    return;
  if (gone())
    return;
  if ((events & (UV_READABLE | UV_DISCONNECT)) && reading_) {
    read_ready((events & UV_DISCONNECT) != 0);
    if (gone())
      return;
  }
  update_interest(true); // what nobody wants any more is not watched
}

void TcpTransport::read_ready(bool disconnect) {
  const uv_poll_t* const watched = poll_.get();
  for (int round = 0; round < kReadsPerWakeup && reading_; ++round) {
    if (mode_ == Mode::span_used) {
      // A read-ahead span the handler did not renew: its buffer is full.
      reading_ = false;
      return;
    }
    char* into = mode_ == Mode::span ? into_ : read_buffer();
    const size_t room = mode_ == Mode::span ? room_ : kBufferSize;
    const ssize_t n = sock::recv_now(fd_, into, room);
    if (n > 0) {
      const size_t got = static_cast<size_t>(n);
      counters.bytes_read += got;
      if (mode_ == Mode::span)
        mode_ = Mode::span_used; // the handler gives the next span, or reads otherwise, or stops
      // The poll saw the peer's FIN, and this read emptied the socket: the EOF is next.
      eof_follows_ = disconnect && got < room;
      handler_->on_read(*this, into, got);
      eof_follows_ = false;
      if (poll_.get() != watched)
        return; // closed by the handler (or reopened: a new socket)
      if (got < room && !disconnect)
        return; // a short read: the socket is empty
      continue;
    }
    if (n == UV_EAGAIN)
      return;
    reading_ = false;
    if (n == 0)
      handler_->on_eof(*this);
    else
      handler_->on_error(*this, static_cast<int>(n));
    return;
  }
}

int TcpTransport::start_reading() {
  mode_ = Mode::loop_buffer;
  reading_ = true;
  return update_interest(false);
}

int TcpTransport::read_into(char* into, size_t room) {
  into_ = into;
  room_ = static_cast<uint32_t>(room);
  mode_ = Mode::span;
  reading_ = true;
  return update_interest(false);
}

void TcpTransport::stop_reading() {
  // At once: a socket with bytes waiting would be reported again at the next turn for nothing
  // (and an owner may watch the descriptor with a poll handle of its own once this one stops).
  // After an EOF or an error reading has stopped already, and the report's end narrows the
  // poll (unless the handler closes first, which spares that epoll_ctl).
  if (!reading_)
    return;
  reading_ = false;
  if (active_ & UV_READABLE)
    update_interest(true);
}

ssize_t TcpTransport::read_now(char* into, size_t size) {
  return open() ? sock::recv_now(fd_, into, size) : ssize_t{UV_EBADF};
}

int TcpTransport::write(const uv_buf_t* bufs, unsigned count) {
  return send(bufs, count, false);
}

int TcpTransport::write_last(const uv_buf_t* bufs, unsigned count) {
  return send(bufs, count, true);
}

int TcpTransport::send(const uv_buf_t* bufs, unsigned count, bool more) {
  if (!open())
    return UV_EPIPE;
  size_t total = 0;
  for (unsigned i = 0; i < count; ++i)
    total += bufs[i].len;
  counters.bytes_written += total;
  size_t sent = 0;
  if (!head_ && !connecting_) {
    ssize_t n = sock::send_now(fd_, bufs, count, more);
    if (n < 0)
      return static_cast<int>(n);
    sent = static_cast<size_t>(n);
    if (sent == total)
      return 0;
  }
  // The rest, in blocks of at most kBufferSize, in order behind anything queued.
  unsigned i = 0;
  size_t offset = sent;
  while (i < count && offset >= bufs[i].len)
    offset -= bufs[i++].len;
  while (i < count) {
    auto* b = new (take_block(sizeof(Block))) Block;
    b->next = nullptr;
    b->size = 0;
    b->sent = 0;
    while (i < count && b->size < kBufferSize) {
      size_t take = std::min(bufs[i].len - offset, kBufferSize - b->size);
      std::memcpy(b->data + b->size, bufs[i].base + offset, take);
      b->size += static_cast<uint32_t>(take);
      offset += take;
      if (offset == bufs[i].len) {
        ++i;
        offset = 0;
      }
    }
    (tail_ ? tail_->next : head_) = b;
    tail_ = b;
    queued_ += b->size;
  }
  return update_interest(false);
}

bool TcpTransport::flush() {
  const uv_poll_t* const watched = poll_.get();
  while (head_) {
    uv_buf_t rest = uv_buf_init(head_->data + head_->sent, head_->size - head_->sent);
    ssize_t n = sock::send_now(fd_, &rest, 1);
    if (n < 0) {
      handler_->on_error(*this, static_cast<int>(n));
      return false;
    }
    head_->sent += static_cast<uint32_t>(n);
    queued_ -= static_cast<uint32_t>(n);
    if (head_->sent < head_->size)
      break; // the kernel is full: the poll says when it takes more
    Block* done = head_;
    head_ = done->next;
    if (!head_)
      tail_ = nullptr;
    done->~Block();
    give_block(done);
  }
  if (queued_ <= marks.low) {
    handler_->on_drained(*this);
    if (poll_.get() != watched)
      return false;
  }
  if (!head_ && shut_pending_) {
    shut_pending_ = false;
    if (int rc = sock::shutdown_write(fd_); rc < 0) {
      handler_->on_error(*this, rc);
      return false;
    }
    handler_->on_shut(*this);
    if (poll_.get() != watched)
      return false;
  }
  return true;
}

int TcpTransport::shutdown_write() {
  if (!open())
    return UV_ENOTCONN;
  if (!head_) {
    int rc = sock::shutdown_write(fd_);
    return rc == 0 ? 1 : rc;
  }
  shut_pending_ = true; // after the queue (flush)
  return 0;
}

void TcpTransport::reset() {
  if (open())
    sock::reset_on_close(fd_);
  close();
}

void TcpTransport::close() {
  while (head_) {
    Block* b = head_;
    head_ = b->next;
    b->~Block();
    give_block(b);
  }
  tail_ = nullptr;
  queued_ = 0;
  reading_ = connecting_ = shut_pending_ = false;
  active_ = 0;
  poll_.close(); // stops watching at once: the descriptor may go now
  if (fd_ >= 0)
    sock::close_fd(std::exchange(fd_, -1));
}

} // namespace hamba::net
