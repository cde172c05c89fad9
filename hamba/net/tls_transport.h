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
// Once the handshake is done (on_handshake_done()), a server session on an AEAD suite leaves
// OpenSSL: its keys and sequence numbers go to a record layer of hamba's own
// (net/tls_records.h, gathered by net/tls_handover.h), the facts the connection asks for later
// (SNI, ALPN, version, cipher, the client's subject, resumed) are copied out, and the SSL object
// and its BIOs are freed, so an idle connection keeps two AEAD contexts and its keys. Records
// are then opened in place in the loop's read buffer; at most one partial record (or what a
// stopped reader left) is held, and released once drained (tls_transport_records.cpp). Other
// suites (CBC, CCM) and the client side keep OpenSSL's record layer.
//
// kTLS would replace hamba's record layer at that same point, with the keys already in hand:
// with CONFIG_TLS, they go to the socket (setsockopt TCP_ULP "tls", then TLS_TX/TLS_RX) and the
// lower transport carries plaintext, so a relay between two kTLS sockets could be spliced. This
// kernel has none.
//
// One owner (the connection) holds it beside its lower transport, from the accept to the close.
#pragma once

#include "base/uv_handle.h"
#include "net/tls_context.h"
#include "net/tls_handover.h"
#include "net/tls_records.h"
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
// Client records hamba's record layer refused (a bad tag, a malformed record), all workers.
uint64_t tls_record_errors();

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
  bool resumed() const { return ssl_ ? SSL_session_reused(ssl_) == 1 : facts_.resumed; }
  // hamba keeps the record layer (OpenSSL's session is gone).
  bool own_records() const { return records_ != nullptr; }
  // The last error was a client record refused (a bad tag, a malformed record), counted in
  // tls_record_errors() and the frontend's hamba_frontend_tls_record_errors_total.
  bool record_refused() const { return record_refused_; }
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
  bool live() const { return ssl_ || records_; }

  // Takes the record layer from OpenSSL if it can (see tls_handover.h;
  // tls_transport_session.cpp).
  void take_records();

  // --- after the switch (tls_transport_records.cpp) ---
  enum class Step : uint8_t { plain, more, need_more, eof, error };
  void deliver_records(const char* data, size_t len);
  // Opens the record at buf[pos]: plaintext (maybe empty), a control record handled (more), a
  // partial record (need_more), the client's close_notify (eof), or a failure (error: the
  // caller calls fail_records()).
  Step open_next(uint8_t* buf, size_t len, size_t& pos, uint8_t** plain, size_t* plain_len);
  bool on_post_handshake(const uint8_t* msg, size_t len);
  // Gives plaintext and opens records while the handler reads: false if it closed this one.
  bool drain(uint8_t* buf, size_t len, size_t& pos, uint8_t*& plain, size_t& plain_len, Step& last);
  // Keeps plaintext then ciphertext not delivered yet in held_ (or releases it): false when
  // out of memory.
  bool keep(uint8_t* buf, size_t len, size_t pos, const uint8_t* plain, size_t plain_len);
  bool hold(const uint8_t* data, size_t len);
  bool reserve(size_t need);
  void release_held();
  void fail_records(const char* text, int error);
  ssize_t read_now_records(char* into, size_t size);
  int write_records(uint8_t type, const uint8_t* data, size_t len);
  int write_records(const uv_buf_t* bufs, unsigned count);

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
  std::unique_ptr<TlsHandover> handover_; // server side, until the switch
  std::unique_ptr<TlsRecords> records_;   // hamba's record layer, after it
  std::unique_ptr<uint8_t[]> held_;       // plaintext [0, held_plain_), then ciphertext
  uint32_t held_len_ = 0, held_cap_ = 0, held_plain_ = 0;
  bool peer_closed_ = false; // its close_notify came: nothing after it is read
  bool close_sent_ = false;
  bool record_refused_ = false;
  // What the connection asks once OpenSSL's session is gone.
  struct Facts {
    std::string alpn, subject, common_name;
    const char* version = ""; // OpenSSL's static names
    const char* cipher = "";
    bool resumed = false;
  } facts_;
  // The loop's next turn, for plaintext held while not reading (made at the first need).
  std::unique_ptr<uvx::Timer> later_;
};

} // namespace hamba::net
