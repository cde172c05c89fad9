// The transport seam: one byte stream on one side of a proxied connection, whatever carries it.
//
// The connection (engine/connection.h) and the relay (net/relay.h) see only this interface:
// read into a bounded buffer, write with backpressure (a high and a low mark), half-close,
// reset, close, and the stream's counters. A TCP socket is the first implementation
// (net/tcp_transport.h). The next ones fit the same shape:
//
//   - TLS (a TlsTransport over a TcpTransport, OpenSSL on memory BIOs): it is the TCP
//     transport's handler. Ciphertext read goes into the read BIO; SSL_read's plaintext goes to
//     its own handler's on_read. A read may need a write (a handshake message, a key update):
//     whatever the write BIO holds after any SSL_* call is written to the TCP transport, inside
//     the same call. A write may need a read (SSL_ERROR_WANT_READ mid-renegotiation, off here):
//     plaintext is held, and counted in queued(), until the next read lets SSL_write go on.
//     queued() is the plaintext not yet encrypted plus the TCP transport's queue, so the relay's
//     backpressure is unchanged; on_drained() comes when both fall to the low mark. shutdown_write
//     sends close_notify then shuts the TCP write half. After the handshake a server session
//     on an AEAD suite leaves OpenSSL for hamba's own record layer (net/tls_records.h): same
//     rules, no BIOs, no SSL object. kTLS would replace that record layer with the kernel's,
//     keys already in hand (this kernel has none: CONFIG_TLS is off).
//   - A kernel relay (BPF sockmap): once both sides are TCP and nothing is queued or due (no
//     read-ahead, no header), both sockets go into the map and the kernel moves the bytes.
//     It was built and measured, and did not ship: it lost to this relay on this kernel (each
//     redirect goes through a kernel worker) and holds no backpressure. The experiment lives
//     in bench/kernel_relay/ (bench_kernel_relay, on this seam's TcpTransport and Relay), its
//     numbers and profile in bench/README.md, "Kernel relay".
//
// Rules every implementation keeps:
//   - the handler is called from the loop only, never from inside a call the handler made
//     (write(), shutdown_write(), start_reading() answer by their return value), except
//     on_read from read_now();
//   - after close() or reset(), no handler call comes again;
//   - a read delivers bytes valid only during on_read (the loop's buffer, or the span given to
//     read_into());
//   - the peer's FIN that came with its last bytes is told with them: during that on_read,
//     eof_follows() is true, and on_eof comes next unless the handler stops reading first. A
//     relay then hands the bytes on with write_last() and shuts the other side at once, so
//     (TCP: MSG_MORE, then shutdown) the FIN leaves in the bytes' segment, not in one of its
//     own. eof_follows() is false wherever the transport cannot tell (the EOF then comes as
//     before, one read later).
#pragma once

#include <cstddef>
#include <cstdint>
#include <uv.h>

namespace hamba::net {

class Transport;

// What a transport tells its user (the connection, then the relay).
class TransportHandler {
public:
  // `len` bytes read (len > 0).
  virtual void on_read(Transport& from, const char* data, size_t len) = 0;
  // The peer sends no more (its FIN); reading has stopped.
  virtual void on_eof(Transport& from) = 0;
  // The stream failed: the peer reset it, or a queued write or shutdown failed (a libuv error).
  virtual void on_error(Transport& from, int error) = 0;
  // The write queue fell to the low mark.
  virtual void on_drained(Transport& to) = 0;
  // A shutdown_write() that was waiting for the queue is done.
  virtual void on_shut(Transport& to) = 0;
  // A connect the transport made finished (status 0, or a libuv error).
  virtual void on_connected(Transport&, int /*status*/) {}

  virtual ~TransportHandler() = default;
};

class Transport {
public:
  // Backpressure: a writer stops feeding a transport whose queue is above `high`, and starts
  // again when on_drained() says it fell to `low`.
  struct Marks {
    uint32_t high = 0; // anything queued: at most one read per direction is held
    uint32_t low = 0;
  };
  struct Counters {
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0; // taken by the kernel or queued
  };

  virtual ~Transport() = default;

  void set_handler(TransportHandler* handler) { handler_ = handler; }
  // Reads go to the handler from the loop's read buffer (net/read_buffer.h).
  virtual int start_reading() = 0;
  // Reads land in [into, into + room) instead (read-ahead into an owned buffer); after each
  // read the handler gives the next span, or stops reading when it is full. room > 0.
  virtual int read_into(char* into, size_t room) = 0;
  virtual void stop_reading() = 0;
  // Reads what is there without waiting, into `into`: bytes, 0 at EOF, or an error (UV_EAGAIN:
  // nothing yet). No handler call.
  virtual ssize_t read_now(char* into, size_t size) = 0;
  // Writes every byte of `bufs`: what cannot go now is queued, in order. Returns 0, or an error
  // when the stream is gone (no handler call then).
  virtual int write(const uv_buf_t* bufs, unsigned count) = 0;
  // As write(), for the last bytes before a shutdown_write() the caller makes at once: the
  // transport may hold them for that shutdown (TCP: MSG_MORE), so they and the FIN leave in
  // one segment. The caller must shut (or close) right after; a plain write() by default.
  virtual int write_last(const uv_buf_t* bufs, unsigned count) { return write(bufs, count); }
  virtual size_t queued() const = 0;
  bool above_high() const { return queued() > marks.high; }
  // Shuts the write half once the queue is written: 1 done now, 0 pending (on_shut or on_error
  // follows), or an error now.
  virtual int shutdown_write() = 0;
  // Closes with a reset (RST): the peer learns that the stream was cut.
  virtual void reset() = 0;
  // Closes (a FIN after what the kernel holds). Idempotent; so is reset().
  virtual void close() = 0;

  // During on_read only: the peer's EOF came with these bytes, and on_eof follows.
  bool eof_follows() const { return eof_follows_; }

  Marks marks;
  Counters counters;

protected:
  TransportHandler* handler_ = nullptr;
  bool eof_follows_ = false; // set around on_read by the implementations that can tell
};

} // namespace hamba::net
