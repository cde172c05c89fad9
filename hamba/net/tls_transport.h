// TLS as a transport (net/transport.h): the server side of a TLS session, carried by another
// transport (a TcpTransport), with OpenSSL on memory BIOs.
//
//     TlsTransport tls(tcp, context, loop);  // tcp: accepted, owned by the caller
//     tls.set_handler(connection);
//     tls.start_handshake();                 // on_connected(tls, 0) once it is done,
//                                            // on_error(tls, UV_EPROTO) if it failed (failure())
//
// It is its lower transport's handler. Ciphertext read goes into the read BIO; SSL_read's
// plaintext goes to its own handler's on_read, into the loop's read buffer or read_into()'s
// span. The write BIO hands every record OpenSSL seals (a handshake flight, a ticket, an
// encrypted write, a close_notify) to the lower transport as it is written, so its queue is
// this transport's queue, and its marks and on_drained are this one's. It takes every write
// whole, so plaintext is never held here and no write buffer stays with an idle connection;
// renegotiation is off, so a write never waits for a read.
//
// The lower transport is read while the handshake runs, and after it only while this one is
// read. Plaintext OpenSSL still holds when reading stops (a record decrypted beyond the span
// given) is delivered at the loop's next turn after reading starts again, never inside the
// call that started it.
//
// kTLS would go in on_handshake_done(): with CONFIG_TLS, the session's keys go to the socket
// (setsockopt TCP_ULP "tls", then TLS_TX/TLS_RX), the BIOs are dropped and the lower transport
// carries plaintext, so a relay between two kTLS sockets could be spliced. This kernel has
// none.
//
// One owner (the connection) holds it beside its lower transport, from the accept to the close.
#pragma once

#include "base/uv_handle.h"
#include "net/tls_context.h"
#include "net/tls_ticket_keys.h"
#include "net/transport.h"

#include <memory>
#include <string>
#include <string_view>

namespace hamba::net {

// Why a handshake failed, for the counters (hamba_frontend_tls_handshake_errors_total{reason})
// and the log. The connection adds timeout and closed itself.
enum class TlsFailure : uint8_t {
  none,
  version,     // a version below the floor, or not TLS at all
  cipher,      // no cipher or group in common
  certificate, // the client's certificate was missing or refused
  protocol,    // anything else malformed or refused
  timeout,     // not done within the handshake deadline
  closed,      // the client closed or reset before it was done
};
constexpr int kTlsFailureCount = 6; // without none
const char* tls_failure_name(TlsFailure f);

class TlsTransport final : public Transport, TransportHandler {
public:
  // The server side (a client connected to hamba). Tickets are sealed and opened with
  // `ticket_keys` (none: no ticket issued, none taken), held to the session's end.
  TlsTransport(Transport& lower, std::shared_ptr<const TlsServerContext> context, uv_loop_t* loop,
               std::shared_ptr<const TicketKeySet> ticket_keys = nullptr);
  // The client side (hamba connects to a server): start_handshake() once the lower transport
  // is connected; renew() before each new connect.
  TlsTransport(Transport& lower, std::shared_ptr<const TlsClientContext> context, uv_loop_t* loop);
  // A fresh session for a new connect of the lower transport (client side); with `context`,
  // made from it from now on.
  void renew();
  void renew(std::shared_ptr<const TlsClientContext> context);
  // Client side, after renew() and before start_handshake(): offers the session `slot` holds
  // and keeps there the one the server gives (held to the session's end).
  void resume_from(std::shared_ptr<TlsSessionSlot> slot);
  // The handshake resumed a session.
  bool resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Ciphertext the client sent that was read before this transport existed (after a PROXY
  // header): taken before the first handshake step.
  void feed(const char* data, size_t len);
  // Reads the lower transport and steps the handshake: 0, or a libuv error now (no handler
  // call then).
  int start_handshake();
  bool established() const { return established_; }
  // The client sent a byte (a connect closed without one is a probe, not a failed handshake).
  bool heard() const { return heard_; }
  // Why the handshake failed, after on_error during it; and OpenSSL's words for it.
  TlsFailure failure() const { return failure_; }
  const char* failure_text() const { return failure_text_; }
  // The server name the client asked for (lower case; "" if none), once established.
  std::string_view server_name() const { return server_name_; }
  // The protocol ALPN chose ("" if none), once established.
  std::string_view alpn() const;
  const char* version() const;
  // The client's verified certificate's subject ("CN=a,O=b"; "" without one).
  std::string peer_subject() const;
  // Its common name ("" without one).
  std::string peer_common_name() const;
  const char* cipher() const;

  int start_reading() override;
  int read_into(char* into, size_t room) override;
  void stop_reading() override;
  ssize_t read_now(char* into, size_t size) override;
  int write(const uv_buf_t* bufs, unsigned count) override;
  size_t queued() const override { return lower_.queued(); }
  int shutdown_write() override;
  void reset() override;
  void close() override;

private:
  // --- the lower transport's events ---
  void on_read(Transport& from, const char* data, size_t len) override;
  void on_eof(Transport& from) override;
  void on_error(Transport& from, int error) override;
  void on_drained(Transport& to) override;
  void on_shut(Transport& to) override;

  void step_handshake();
  void on_handshake_done();
  void fail_handshake(TlsFailure why, const char* text);
  // Decrypts and delivers while the handler reads; reports the EOF when it is due.
  void deliver();
  void deliver_later();
  // Swaps a drained read BIO that grew large for an empty one.
  void release_read_bio();
  bool has_pending() const;
  // 0, or the error of the lower transport's first write that failed.
  int flush();
  static BIO_METHOD* lower_bio_method();
  void free_session();

  enum class Want : uint8_t { none, loop_buffer, span, span_used };
  Transport& lower_;
  void make_session(SSL* ssl);
  std::shared_ptr<const TlsServerContext> context_;
  std::shared_ptr<const TlsClientContext> client_context_;
  std::shared_ptr<const TicketKeySet> ticket_keys_;
  std::shared_ptr<TlsSessionSlot> session_slot_;
  uv_loop_t* loop_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr; // ciphertext read, for OpenSSL (owned by ssl_)
  BIO* wbio_ = nullptr; // writes what OpenSSL seals to the lower transport (owned by ssl_)
  int write_error_ = 0; // the lower transport's, from a write through wbio_
  Want want_ = Want::none;
  bool established_ = false;
  bool lower_eof_ = false; // the client's FIN came: what is buffered is the last
  bool eof_told_ = false;
  bool heard_ = false;
  char* into_ = nullptr;
  size_t room_ = 0;
  TlsFailure failure_ = TlsFailure::none;
  const char* failure_text_ = "";
  std::string server_name_;
  // The loop's next turn, for plaintext held while not reading (made at the first need).
  std::unique_ptr<uvx::Timer> later_;
};

} // namespace hamba::net
