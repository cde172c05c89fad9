// A TCP socket as a transport; see tcp_transport.h.
#include "net/tcp_transport.h"

#include "net/socket.h"

#include <algorithm>
#include <cstring>

namespace hamba::net {

int TcpTransport::init(uv_loop_t* loop) {
  int rc = tcp_.init([&](uv_tcp_t* h) { return uv_tcp_init(loop, h); });
  if (rc == 0)
    tcp_.set_data(this);
  return rc;
}

int TcpTransport::fd() const {
  return sock::fd_of(tcp_.base());
}

int TcpTransport::connect(const sockaddr* address) {
  uv_tcp_nodelay(tcp_.get(), 1); // applied when libuv creates the socket
  return connect_.start<&TcpTransport::on_connect>(this, [&](uv_connect_t* req, auto cb) {
    return uv_tcp_connect(req, tcp_.get(), address, cb);
  });
}

void TcpTransport::on_connect(int status) {
  handler_->on_connected(*this, status);
}

int TcpTransport::begin_reading() {
  if (reading_)
    return 0;
  int rc = uv_read_start(
      tcp_.stream(),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = uvx::Handle<uv_tcp_t>::owner<TcpTransport>(h);
        *buf = self && self->mode_ == Mode::span
                   ? uv_buf_init(self->into_, static_cast<unsigned>(self->room_))
                   : uv_buf_init(read_buffer(), kBufferSize);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        if (auto* self = uvx::Handle<uv_tcp_t>::owner<TcpTransport>(s))
          self->on_read(nread, buf);
      });
  reading_ = rc == 0;
  return rc;
}

int TcpTransport::start_reading() {
  mode_ = Mode::loop_buffer;
  return begin_reading();
}

int TcpTransport::read_into(char* into, size_t room) {
  into_ = into;
  room_ = static_cast<uint32_t>(room);
  mode_ = Mode::span;
  return begin_reading();
}

void TcpTransport::stop_reading() {
  if (reading_ && tcp_)
    uv_read_stop(tcp_.stream());
  reading_ = false;
}

ssize_t TcpTransport::read_now(char* into, size_t size) {
  return sock::recv_now(fd(), into, size);
}

void TcpTransport::on_read(ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    counters.bytes_read += static_cast<uint64_t>(nread);
    if (mode_ == Mode::span)
      mode_ = Mode::span_used; // the handler gives the next span, or reads otherwise, or stops
    handler_->on_read(*this, buf->base, static_cast<size_t>(nread));
    // A read-ahead span the handler did not renew (its buffer is full) stops reading: a
    // zero-length buffer would make libuv report UV_ENOBUFS, which is no error of the peer's.
    if (mode_ == Mode::span_used && reading_)
      stop_reading();
    return;
  }
  if (nread == 0)
    return;
  // libuv reports UV_EOF without reading again after a partial read when the poll said POLLHUP,
  // so a reset that came with the last data arrives as an EOF. That EOF is the one without a
  // buffer; a FIN leaves no error on the socket, a reset leaves ECONNRESET.
  if (nread == UV_EOF && (buf->base != nullptr || sock::pending_error(fd()) != UV_ECONNRESET)) {
    stop_reading();
    handler_->on_eof(*this);
    return;
  }
  stop_reading();
  handler_->on_error(*this, nread == UV_EOF ? UV_ECONNRESET : static_cast<int>(nread));
}

int TcpTransport::write(const uv_buf_t* bufs, unsigned count) {
  size_t total = 0;
  for (unsigned i = 0; i < count; ++i)
    total += bufs[i].len;
  counters.bytes_written += total;
  size_t sent = 0;
  if (queued_ == 0) {
    ssize_t n = sock::send_now(fd(), bufs, count);
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
    uint32_t block = 0;
    int rc = writes_.start<&TcpTransport::on_written>(
        this,
        [&](uv_write_t* req, Block& b, auto done) {
          uv_buf_t one = uv_buf_init(b.data, b.size);
          return uv_write(req, tcp_.stream(), &one, 1, done);
        },
        [&](Block& b) {
          b.size = 0;
          while (i < count && b.size < kBufferSize) {
            size_t take = std::min(bufs[i].len - offset, kBufferSize - b.size);
            std::memcpy(b.data + b.size, bufs[i].base + offset, take);
            b.size += static_cast<uint32_t>(take);
            offset += take;
            if (offset == bufs[i].len) {
              ++i;
              offset = 0;
            }
          }
          block = b.size;
        });
    if (rc < 0)
      return rc; // that block is not in flight: queued_ counts only those that are
    queued_ += block;
  }
  return 0;
}

void TcpTransport::on_written(Block& block, int status) {
  queued_ -= block.size;
  if (status < 0) {
    handler_->on_error(*this, status);
    return;
  }
  if (queued_ <= marks.low)
    handler_->on_drained(*this);
}

int TcpTransport::shutdown_write() {
  if (queued_ == 0) {
    // Now rather than through uv_shutdown, which waits a loop round for the socket to be
    // writable (two epoll_ctl calls and a wakeup per connection).
    int rc = sock::shutdown_write(fd());
    return rc == 0 ? 1 : rc;
  }
  int rc = shutdown_.start<&TcpTransport::on_shutdown>(
      this, [&](uv_shutdown_t* req, auto done) { return uv_shutdown(req, tcp_.stream(), done); });
  return rc < 0 ? rc : 0;
}

void TcpTransport::on_shutdown(int status) {
  if (status < 0)
    handler_->on_error(*this, status);
  else
    handler_->on_shut(*this);
}

void TcpTransport::reset() {
  if (tcp_)
    sock::reset_on_close(fd());
  close();
}

void TcpTransport::close() {
  // libuv cancels the requests in flight when the socket closes; their callbacks only free them.
  writes_.detach();
  shutdown_.detach();
  connect_.detach();
  reading_ = false;
  queued_ = 0;
  tcp_.close();
}

} // namespace hamba::net
