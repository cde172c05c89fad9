// A TCP socket as a transport (net/transport.h): it owns the socket's descriptor and the
// libuv poll handle that watches it, and does every read, write, shutdown and connect itself
// with the system calls of net/socket.h.
//
// Why not libuv's uv_tcp_t: it never asks epoll for EPOLLRDHUP and stops reading after a short
// read, so a peer's FIN that came with its last bytes was learnt one loop round later (one more
// epoll_wait, one more read, and a FIN segment of its own toward the other side). Here the poll
// asks for UV_DISCONNECT (EPOLLRDHUP) too: a read that the poll flagged so goes on to the EOF in
// the same round, and on_read says, through eof_follows(), that on_eof comes next, so the relay
// can send those bytes with MSG_MORE (write_last) and its shutdown's FIN leaves in their segment.
//
// Reads: until a short read (or a bounded number of full ones), into the loop's read buffer or
// read_into()'s span; nothing is allocated per read. Writes go straight to the kernel while
// nothing is queued; what it did not take is copied into blocks of kBufferSize (their memory
// is kept per thread for reuse), written when the poll says the socket can take more. The
// poll's interest (readable, writable) is widened at once and narrowed lazily, when an event
// nobody wants comes: each change costs libuv two epoll_ctl calls.
//
// One owner (the connection, a health check) holds it, from the accept (adopt()) or the
// connect() to the close() or reset(), which close the descriptor at once.
#pragma once

#include "base/uv_handle.h"
#include "net/read_buffer.h"
#include "net/transport.h"

#include <cstdint>
#include <sys/socket.h>

namespace hamba::net {

class TcpTransport final : public Transport {
public:
  TcpTransport() = default;
  ~TcpTransport() override { close(); }
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // Takes `fd`, a connected non-blocking socket (an accepted one), and watches it on `loop`:
  // 0, or a libuv error (the descriptor is closed then).
  int adopt(uv_loop_t* loop, int fd);
  // Makes a non-blocking socket for `address` (TCP_NODELAY on) and starts its connect on
  // `loop`; the handler's on_connected says how it ended. 0, or a libuv error now (no handler
  // call then; the transport stays closed), or 1: connected now (a loopback server's handshake
  // completes inside connect(2)), no on_connected comes, and the caller goes on as it would
  // have there. That spares the poll a round watching for writable, and the two epoll_ctl
  // calls that would stop it watching again.
  int connect(uv_loop_t* loop, const sockaddr* address);
  bool open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  int start_reading() override;
  int read_into(char* into, size_t room) override;
  void stop_reading() override;
  ssize_t read_now(char* into, size_t size) override;
  int write(const uv_buf_t* bufs, unsigned count) override;
  int write_last(const uv_buf_t* bufs, unsigned count) override;
  size_t queued() const override { return queued_; }
  int shutdown_write() override;
  void reset() override;
  void close() override;

private:
  // What the kernel did not take, in order.
  struct Block {
    Block* next;
    uint32_t size; // bytes in data
    uint32_t sent; // of which the kernel took these
    char data[kBufferSize];
  };
  int watch(uv_loop_t* loop);
  int send(const uv_buf_t* bufs, unsigned count, bool more);
  void on_poll(int status, int events);
  void on_connect_done(int status);
  void read_ready(bool disconnect);
  bool flush(); // writes the queue; false when the handler heard of an error
  bool wanted(int events) const;
  int interest() const;
  int update_interest(bool narrow);

  int fd_ = -1;
  uvx::Handle<uv_poll_t> poll_;
  int active_ = 0; // the poll's events now (UV_READABLE | UV_DISCONNECT | UV_WRITABLE)
  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  uint32_t queued_ = 0; // bytes in the blocks not yet taken (a few blocks: the marks bound it)
  bool connecting_ = false;
  bool shut_pending_ = false; // shutdown_write() waits for the queue
  bool reading_ = false;
  // Where reads land: the loop's buffer, or read_into's span (used up by one read).
  enum class Mode : uint8_t { loop_buffer, span, span_used };
  Mode mode_ = Mode::loop_buffer;
  uint32_t room_ = 0;
  char* into_ = nullptr;
};

} // namespace hamba::net
