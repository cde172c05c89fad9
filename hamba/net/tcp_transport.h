// A TCP socket as a transport (net/transport.h): libuv's stream for reads and the poller, and
// direct system calls (net/socket.h) where they save work.
//
// Writes go straight to the kernel while nothing is queued (send(), or sendmsg() for several
// buffers), bypassing libuv's write queue: that keeps the order, since nothing of ours waits in
// it. Only what the kernel did not take is copied into write requests of at most kBufferSize
// each (their memory is kept for reuse by base/uv_request.h), written by libuv when the socket
// can take more; they live until libuv's callback, even after the transport is gone.
//
// One owner (the connection) holds it by value, from the accept or the connect to the close.
#pragma once

#include "base/uv_handle.h"
#include "base/uv_request.h"
#include "net/read_buffer.h"
#include "net/transport.h"

#include <cstdint>

namespace hamba::net {

class TcpTransport final : public Transport {
public:
  TcpTransport() = default;
  ~TcpTransport() override { close(); }
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // uv_tcp_init on `loop`: 0, or a libuv error. Then accept into handle(), or connect().
  int init(uv_loop_t* loop);
  uv_tcp_t* handle() const { return tcp_.get(); }
  bool open() const { return static_cast<bool>(tcp_); }
  int fd() const;
  // Starts a connect (TCP_NODELAY on); the handler's on_connected says how it ended. 0, or a
  // libuv error now.
  int connect(const sockaddr* address);

  int start_reading() override;
  int read_into(char* into, size_t room) override;
  void stop_reading() override;
  ssize_t read_now(char* into, size_t size) override;
  int write(const uv_buf_t* bufs, unsigned count) override;
  size_t queued() const override { return queued_; }
  int shutdown_write() override;
  void reset() override;
  void close() override;

private:
  // What the kernel did not take, written by libuv when the socket can take more.
  struct Block {
    uint32_t size;
    char data[kBufferSize];
  };
  int begin_reading();
  void on_read(ssize_t nread, const uv_buf_t* buf);
  void on_written(Block& block, int status);
  void on_shutdown(int status);
  void on_connect(int status);

  uvx::Handle<uv_tcp_t> tcp_;
  uvx::Requests<uv_write_t, Block> writes_;
  uvx::Requests<uv_shutdown_t> shutdown_;
  uvx::Requests<uv_connect_t> connect_;
  uint32_t queued_ = 0; // bytes in writes_ (at most a few blocks: the marks bound it)
  // Where reads land: the loop's buffer, or read_into's span (used up by one read).
  enum class Mode : uint8_t { loop_buffer, span, span_used };
  Mode mode_ = Mode::loop_buffer;
  bool reading_ = false;
  uint32_t room_ = 0;
  char* into_ = nullptr;
};

} // namespace hamba::net
