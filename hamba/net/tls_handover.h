// Handing a server session from OpenSSL's record layer to hamba's (net/tls_records.h) once the
// handshake is done: what has to be gathered while it runs, and the switch.
//
//     TlsHandover handover(ssl);          // before the first handshake step (the key log)
//     handover.wrote(bytes, n);           // every byte OpenSSL writes, in order
//     handover.fed(bytes, n);             // every byte put into its read BIO, in order
//     auto records = handover.take(ssl);  // after the handshake: nullptr keeps OpenSSL's
//
// It owns the two application traffic secrets (TLS 1.3, from the key log callback; wiped with
// OPENSSL_cleanse once taken or when it goes) and a count of the records of each direction's
// stream. The sequence numbers are counted, not assumed: the records each side sent since its
// key last changed (TLS 1.2: its ChangeCipherSpec; TLS 1.3: the moment OpenSSL logged the
// secret, which is when it installed the key), minus those still unread in the read BIO.
//
// Only public OpenSSL 3.0 API: SSL_CTX_set_keylog_callback (set by net/tls_context.cpp),
// SSL_SESSION_get_master_key and EVP_KDF "TLS1-PRF" for TLS 1.2's key block (RFC 5246 §6.3).
#pragma once

#include "net/tls_records.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <openssl/ssl.h>

namespace hamba::net {

class TlsHandover {
public:
  // Registers with `ssl` (ex_data), which must outlive it.
  explicit TlsHandover(SSL* ssl);
  ~TlsHandover();
  TlsHandover(const TlsHandover&) = delete;
  TlsHandover& operator=(const TlsHandover&) = delete;

  void wrote(const char* data, size_t len) { written_.add(data, len); }
  void fed(const char* data, size_t len) { fed_.add(data, len); }

  // hamba's record layer for `ssl` from now on, or nullptr when it cannot take over: not an
  // AEAD suite hamba keeps (AES-GCM, ChaCha20-Poly1305), OpenSSL still holds a record, or the
  // counts do not add up. What is left unread in the read BIO is the caller's to open next.
  std::unique_ptr<TlsRecords> take(SSL* ssl);

  // For SSL_CTX_set_keylog_callback on every server context.
  static void on_keylog(const SSL* ssl, const char* line);

private:
  // Record boundaries in one direction's byte stream.
  struct Stream {
    void add(const char* data, size_t len);
    bool at_boundary() const { return header_have == 0 && body_left == 0; }
    uint64_t started = 0;   // records whose first byte has passed
    uint64_t after_ccs = 0; // `started` just after the last ChangeCipherSpec
    size_t body_left = 0;
    uint8_t header[kTlsHeader] = {};
    uint8_t header_have = 0;
  };
  // Records OpenSSL has read of what was fed: -1 if the read BIO's bytes do not start on a
  // record boundary.
  int64_t consumed(const SSL* ssl) const;
  void keylog(const SSL* ssl, const char* line);

  SSL* ssl_;
  Stream written_, fed_;
  int64_t write_mark_ = -1, read_mark_ = -1; // TLS 1.3: records when the secret was logged
  uint8_t read_secret_[48] = {}, write_secret_[48] = {};
  size_t read_secret_len_ = 0, write_secret_len_ = 0;
};

} // namespace hamba::net
