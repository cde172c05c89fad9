// TLS over another transport, OpenSSL on memory BIOs: the handshake, reads and writes; see
// tls_transport.h. The session itself (made, renewed, started, its facts) is
// tls_transport_session.cpp's, the record layer after the handshake tls_transport_records.cpp's.
#include "net/tls_transport.h"

#include "base/check.h"
#include "net/read_buffer.h"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace hamba::net {

const char* tls_failure_name(TlsFailure f) {
  constexpr const char* names[] = {"none",     "version", "cipher", "certificate",
                                   "protocol", "timeout", "closed"};
  return names[static_cast<int>(f)];
}

namespace {

// What the last OpenSSL error on this thread says about a failed handshake; the queue is
// emptied.
TlsFailure classify(const char** text) {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  *text = reason ? reason : "handshake failed";
  ERR_clear_error();
  if (ERR_GET_LIB(e) != ERR_LIB_SSL)
    return TlsFailure::protocol;
  switch (ERR_GET_REASON(e)) {
  case SSL_R_UNSUPPORTED_PROTOCOL:
  case SSL_R_WRONG_VERSION_NUMBER:
  case SSL_R_VERSION_TOO_LOW:
  case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
  case SSL_R_HTTP_REQUEST:
  case SSL_R_HTTPS_PROXY_REQUEST:
    return TlsFailure::version;
  case SSL_R_NO_SHARED_CIPHER:
  case SSL_R_NO_SHARED_GROUPS:
  case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    return TlsFailure::cipher;
  case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
  case SSL_R_CERTIFICATE_VERIFY_FAILED:
  case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    return TlsFailure::certificate;
  default:
    return TlsFailure::protocol;
  }
}

} // namespace

// --- the lower transport's events ---

void TlsTransport::on_read(Transport&, const char* data, size_t len) {
  if (records_) {
    deliver_records(data, len);
    return;
  }
  if (!ssl_)
    return;
  heard_ = true;
  if (handover_)
    handover_->fed(data, len);
  if (BIO_write(rbio_, data, static_cast<int>(len)) != static_cast<int>(len)) {
    if (!established_) {
      fail_handshake(TlsFailure::protocol, "out of memory");
      return;
    }
    lower_.stop_reading();
    handler_->on_error(*this, UV_ENOMEM);
    return;
  }
  if (!established_)
    step_handshake();
  else
    deliver();
}

void TlsTransport::on_eof(Transport&) {
  lower_eof_ = true;
  if (!established_) {
    fail_handshake(TlsFailure::closed, "the client closed before the handshake was done");
    return;
  }
  deliver(); // what is buffered, then the EOF (at once when not reading: deliver() tells it)
}

void TlsTransport::on_error(Transport&, int error) {
  if (!established_) {
    failure_ = TlsFailure::closed;
    failure_text_ = "the client reset before the handshake was done";
  }
  want_ = Want::none;
  handler_->on_error(*this, error);
}

void TlsTransport::on_drained(Transport&) {
  handler_->on_drained(*this);
}

void TlsTransport::on_shut(Transport&) {
  handler_->on_shut(*this);
}

// --- the handshake ---

void TlsTransport::step_handshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
  // Its messages (and an alert when it failed) go out before anything else happens.
  int written = flush();
  if (rc == 1) {
    on_handshake_done();
    return;
  }
  if (err == SSL_ERROR_WANT_READ && written == 0)
    return; // the lower transport reads on
  const char* text = "";
  TlsFailure why = classify(&text);
  if (long v = SSL_get_verify_result(ssl_); why == TlsFailure::certificate && v != X509_V_OK)
    text = X509_verify_cert_error_string(v); // the server's certificate: why it was refused
  if (written < 0)
    why = TlsFailure::closed, text = "the client went away during the handshake";
  fail_handshake(why, text);
}

void TlsTransport::on_handshake_done() {
  established_ = true;
  if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
    server_name_ = name;
    for (char& c : server_name_)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
  }
  if (handover_)
    take_records(); // (and kTLS would take over here; see tls_transport.h)
  if (want_ == Want::none)
    lower_.stop_reading(); // what came with the client's Finished waits (read BIO, or held_)
  handler_->on_connected(*this, 0);
}

void TlsTransport::fail_handshake(TlsFailure why, const char* text) {
  failure_ = why;
  failure_text_ = text;
  lower_.stop_reading();
  handler_->on_error(*this, UV_EPROTO);
}

// --- reading ---

bool TlsTransport::has_pending() const {
  if (records_)
    return held_len_ > 0 || lower_eof_ || peer_closed_;
  return ssl_ && (SSL_has_pending(ssl_) || BIO_ctrl_pending(rbio_) > 0 || lower_eof_);
}

void TlsTransport::deliver_later() {
  if (!later_) {
    later_ = std::make_unique<uvx::Timer>();
    later_->init(loop_, this);
  }
  later_->start<&TlsTransport::deliver>(0);
}

void TlsTransport::deliver() {
  if (records_) {
    deliver_records(nullptr, 0);
    return;
  }
  if (!ssl_)
    return;
  if (!established_) {
    step_handshake();
    return;
  }
  while (want_ == Want::loop_buffer || want_ == Want::span) {
    char* to = want_ == Want::span ? into_ : read_buffer();
    size_t cap = want_ == Want::span ? room_ : kBufferSize;
    size_t n = 0;
    ERR_clear_error();
    int rc = SSL_read_ex(ssl_, to, cap, &n);
    int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
    if (flush() < 0) { // a read may answer (a key update)
      want_ = Want::none;
      handler_->on_error(*this, UV_EPIPE);
      return;
    }
    if (rc == 1) {
      counters.bytes_read += n;
      if (want_ == Want::span)
        want_ = Want::span_used; // the handler gives the next span, or reads otherwise
      handler_->on_read(*this, to, n);
      if (!ssl_)
        return; // closed by the handler
      if (want_ == Want::span_used) {
        want_ = Want::none; // its buffer is full: it waits
        lower_.stop_reading();
        return;
      }
      continue;
    }
    if (err == SSL_ERROR_WANT_READ) {
      if (!lower_eof_) {
        release_read_bio();
        return;
      }
      // The client's FIN without a close_notify: everything it sent is delivered, and many
      // clients end this way, so it is an EOF as TCP's.
    } else if (err != SSL_ERROR_ZERO_RETURN) {
      const char* text = "";
      classify(&text);
      failure_text_ = text;
      want_ = Want::none;
      lower_.stop_reading();
      handler_->on_error(*this, UV_EPROTO);
      return;
    }
    want_ = Want::none;
    lower_.stop_reading();
    if (!eof_told_) {
      eof_told_ = true;
      handler_->on_eof(*this);
    }
    return;
  }
}

int TlsTransport::start_reading() {
  if (!live())
    return UV_EPIPE;
  want_ = Want::loop_buffer;
  if (has_pending())
    deliver_later();
  if (records_ && held_len_ > 0)
    return 0; // what is held goes first; the lower transport reads once it is drained
  return lower_eof_ ? 0 : lower_.start_reading();
}

int TlsTransport::read_into(char* into, size_t room) {
  if (!live())
    return UV_EPIPE;
  into_ = into;
  room_ = room;
  want_ = Want::span;
  if (has_pending())
    deliver_later();
  if (records_ && held_len_ > 0)
    return 0; // as in start_reading()
  return lower_eof_ ? 0 : lower_.start_reading();
}

void TlsTransport::stop_reading() {
  if (want_ == Want::span_used)
    return; // deliver() stops after the handler returns
  want_ = Want::none;
  if (established_)
    lower_.stop_reading();
}

ssize_t TlsTransport::read_now(char* into, size_t size) {
  if (records_)
    return read_now_records(into, size);
  if (!ssl_ || !established_)
    return UV_EAGAIN;
  for (int round = 0; round < 2; ++round) {
    size_t n = 0;
    ERR_clear_error();
    int rc = SSL_read_ex(ssl_, into, size, &n);
    int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
    if (flush() < 0)
      return UV_EPIPE;
    if (rc == 1) {
      counters.bytes_read += n;
      return static_cast<ssize_t>(n);
    }
    if (err == SSL_ERROR_ZERO_RETURN)
      return 0;
    if (err != SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      return UV_EPROTO;
    }
    if (round == 1 || lower_eof_)
      break;
    // Nothing decrypted yet: what the kernel holds, then once more.
    char* buf = read_buffer();
    ssize_t got = lower_.read_now(buf, kBufferSize);
    if (got == 0) {
      lower_eof_ = true;
      return 0;
    }
    if (got < 0)
      return got;
    BIO_write(rbio_, buf, static_cast<int>(got));
  }
  return lower_eof_ ? 0 : UV_EAGAIN;
}

void TlsTransport::release_read_bio() {
  // A memory BIO keeps the room of the most it ever held (a whole socket read): past a few
  // records' worth, a drained one is swapped for an empty one, so an idle connection does not
  // keep it. Below that it is kept, as reading again would allocate it again.
  constexpr size_t kKeptRoom = 4096;
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(rbio_, &mem);
  if (!mem || mem->max <= kKeptRoom || BIO_ctrl_pending(rbio_) > 0)
    return;
  BIO* empty = BIO_new(BIO_s_mem());
  if (!empty)
    return;
  BIO_set_mem_eof_return(empty, -1);
  SSL_set0_rbio(ssl_, empty); // frees the full one
  rbio_ = empty;
}

// --- writing ---

int TlsTransport::flush() {
  return write_error_; // the write BIO wrote as OpenSSL sealed (lower_bio_method())
}

int TlsTransport::write(const uv_buf_t* bufs, unsigned count) {
  if (records_)
    return write_records(bufs, count);
  if (!ssl_ || !established_)
    return UV_EPIPE;
  for (unsigned i = 0; i < count; ++i) {
    if (bufs[i].len == 0)
      continue;
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, bufs[i].base, bufs[i].len, &n) != 1 || n != bufs[i].len) {
      ERR_clear_error();
      return UV_EPROTO;
    }
    counters.bytes_written += n;
    // Each buffer goes out as it is sealed: the write BIO never holds more than one.
    if (int rc = flush(); rc < 0)
      return rc;
  }
  return 0;
}

int TlsTransport::shutdown_write() {
  if (records_) {
    static const uint8_t close_notify[] = {1, 0}; // warning, close_notify (RFC 8446 §6.1)
    if (!close_sent_) {
      close_sent_ = true;
      if (int rc = write_records(kTlsAlert, close_notify, sizeof close_notify); rc < 0)
        return rc;
    }
    return lower_.shutdown_write();
  }
  if (!ssl_)
    return UV_EPIPE;
  if (established_) {
    ERR_clear_error();
    SSL_shutdown(ssl_); // our close_notify; the client's may still come
    ERR_clear_error();
    if (int rc = flush(); rc < 0)
      return rc;
  }
  return lower_.shutdown_write();
}

void TlsTransport::reset() {
  free_session();
  lower_.reset();
}

void TlsTransport::close() {
  free_session();
  lower_.close();
}

} // namespace hamba::net
