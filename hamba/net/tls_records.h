// The record layer of one TLS session once its handshake is done, kept by hamba instead of
// OpenSSL so that an idle connection holds only what the records need (net/tls_transport.h
// hands a session over to it, net/tls_handover.h gathers the keys).
//
//     auto records = TlsRecords::make(aead, 0x0304, read, write); // nullptr: out of memory
//     size_t n = records->seal(kTlsApplicationData, data, len, out); // one record, len <= 16 KiB
//     long size = records->record_size(in, have);      // 0: need more; < 0: not a record
//     TlsRecords::Opened o;
//     if (!records->open(in, size, &o)) { /* fail closed: reset the connection */ }
//
// It owns, per direction, one AEAD context keyed with the traffic key, the static IV, the
// sequence number and (TLS 1.3) the traffic secret a KeyUpdate derives the next key from.
// Nothing else: no buffer. Records are sealed into the caller's buffer and opened in place.
//
// Only AEAD suites (RFC 8446 §5.2-5.3; RFC 5246 §6.2.3.3 with RFC 5288 for AES-GCM and RFC 7905
// for ChaCha20-Poly1305). TLS 1.3 hides the content type inside the record: open() strips the
// zero padding and returns it. TLS 1.2 AES-GCM carries an explicit 8-byte nonce (the sequence
// number when hamba seals).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <openssl/evp.h>
#include <span>

namespace hamba::net {

enum class TlsAead : uint8_t { aes_128_gcm, aes_256_gcm, chacha20_poly1305 };

constexpr uint8_t kTlsChangeCipherSpec = 20;
constexpr uint8_t kTlsAlert = 21;
constexpr uint8_t kTlsHandshake = 22;
constexpr uint8_t kTlsApplicationData = 23;
constexpr size_t kTlsHeader = 5;
constexpr size_t kTlsMaxPlaintext = 16384;
// The largest record a peer may send (TLS 1.2's ciphertext bound; 1.3's is 256 over the
// plaintext), and the room seal() needs beyond the plaintext.
constexpr size_t kTlsMaxRecord = kTlsHeader + kTlsMaxPlaintext + 2048;
constexpr size_t kTlsSealOverhead = kTlsHeader + 8 + 1 + 16;

// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, through EVP_KDF "HKDF" in expand
// mode: false if OpenSSL failed.
bool tls13_expand_label(const EVP_MD* md, std::span<const uint8_t> secret, const char* label,
                        std::span<uint8_t> out);

class TlsRecords {
public:
  // One direction's keys. TLS 1.3: `secret` (the application traffic secret; key and IV are
  // derived from it). TLS 1.2: `key` and `iv` from the key block (4 bytes for AES-GCM, 12 for
  // ChaCha20-Poly1305). `seq`: records already sent under these keys.
  struct Keys {
    std::span<const uint8_t> secret;
    std::span<const uint8_t> key;
    std::span<const uint8_t> iv;
    uint64_t seq = 0;
  };
  // `version`: 0x0303 or 0x0304. nullptr if OpenSSL failed.
  static std::unique_ptr<TlsRecords> make(TlsAead aead, uint16_t version, const Keys& read,
                                          const Keys& write);
  ~TlsRecords();
  TlsRecords(const TlsRecords&) = delete;
  TlsRecords& operator=(const TlsRecords&) = delete;

  bool tls13() const { return version_ == 0x0304; }

  // The size of the record that starts at `data` (header included): 0 while fewer than 5 bytes
  // are there, -1 if the header cannot start a record of this session (type, version, length).
  long record_size(const uint8_t* data, size_t have) const;

  struct Opened {
    uint8_t type = 0;
    uint8_t* data = nullptr; // inside the record given
    size_t len = 0;
  };
  // Authenticates and decrypts one whole record in place (`size` from record_size()). False if
  // it does not authenticate or is malformed (no content type, plaintext over 16 KiB): the
  // session is over, and nothing of it may be used.
  bool open(uint8_t* record, size_t size, Opened* out);
  // Seals `len` <= kTlsMaxPlaintext bytes as one record of `type` into `out` (room: len +
  // kTlsSealOverhead); its size, or 0 if OpenSSL failed.
  size_t seal(uint8_t type, const uint8_t* data, size_t len, uint8_t* out);

  // TLS 1.3 KeyUpdate (RFC 8446 §4.6.3, §7.2): the next traffic secret, key and IV, the
  // sequence number back to 0. False if OpenSSL failed.
  bool update_read_key() { return update(read_); }
  bool update_write_key() { return update(write_); }

private:
  struct Direction {
    EVP_CIPHER_CTX* ctx = nullptr;
    uint8_t iv[12] = {};
    uint8_t secret[48] = {};
    uint64_t seq = 0;
  };
  TlsRecords(TlsAead aead, uint16_t version);
  bool init(Direction& d, const Keys& keys, bool encrypt);
  bool rekey(Direction& d, std::span<const uint8_t> key, std::span<const uint8_t> iv, int enc);
  bool update(Direction& d);
  // Key and IV from d.secret (RFC 8446 §7.3), the sequence number back to 0.
  bool update_from_secret(Direction& d);
  // The per-record nonce (RFC 8446 §5.3, RFC 7905 §2): the IV xor the sequence number.
  void nonce(const Direction& d, uint64_t seq, uint8_t out[12]) const;

  TlsAead aead_;
  uint16_t version_;
  Direction read_, write_;
};

} // namespace hamba::net
