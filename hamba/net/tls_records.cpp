// The record layer after the handshake; see tls_records.h.
#include "net/tls_records.h"

#include <cstring>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

namespace hamba::net {

namespace {

constexpr size_t kTag = 16;
constexpr size_t kExplicitNonce = 8; // TLS 1.2 AES-GCM (RFC 5288 §3)

// Fetched once: an implicit fetch at every key set costs more than the key set.
const EVP_CIPHER* cipher_of(TlsAead aead) {
  static EVP_CIPHER* aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  switch (aead) {
  case TlsAead::aes_128_gcm:
    return aes128;
  case TlsAead::aes_256_gcm:
    return aes256;
  default:
    return chacha;
  }
}

size_t key_size(TlsAead aead) {
  return aead == TlsAead::aes_128_gcm ? 16 : 32;
}

// TLS 1.3's hash for each suite (RFC 8446 §B.4).
const EVP_MD* hash_of(TlsAead aead) {
  return aead == TlsAead::aes_256_gcm ? EVP_sha384() : EVP_sha256();
}

void put64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8)
    p[i] = static_cast<uint8_t>(v);
}

} // namespace

bool tls13_expand_label(const EVP_MD* md, std::span<const uint8_t> secret, const char* label,
                        std::span<uint8_t> out) {
  static EVP_KDF* hkdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  // struct HkdfLabel { uint16 length; opaque label<7..255> = "tls13 " + label; opaque
  // context<0..255> = "" } (RFC 8446 §7.1).
  uint8_t info[2 + 1 + 255 + 1];
  size_t label_len = 6 + std::strlen(label);
  if (!hkdf || label_len > 255 || out.size() > 0xffff)
    return false;
  info[0] = static_cast<uint8_t>(out.size() >> 8);
  info[1] = static_cast<uint8_t>(out.size());
  info[2] = static_cast<uint8_t>(label_len);
  std::memcpy(info + 3, "tls13 ", 6);
  std::memcpy(info + 9, label, label_len - 6);
  info[3 + label_len] = 0;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 4 + label_len),
      OSSL_PARAM_construct_end(),
  };
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(hkdf);
  bool ok = ctx && EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

TlsRecords::TlsRecords(TlsAead aead, uint16_t version) : aead_(aead), version_(version) {}

TlsRecords::~TlsRecords() {
  for (Direction* d : {&read_, &write_}) {
    EVP_CIPHER_CTX_free(d->ctx);
    OPENSSL_cleanse(d->secret, sizeof d->secret);
    OPENSSL_cleanse(d->iv, sizeof d->iv);
  }
}

std::unique_ptr<TlsRecords> TlsRecords::make(TlsAead aead, uint16_t version, const Keys& read,
                                             const Keys& write) {
  std::unique_ptr<TlsRecords> r(new TlsRecords(aead, version));
  if (!r->init(r->read_, read, false) || !r->init(r->write_, write, true))
    return nullptr;
  return r;
}

bool TlsRecords::init(Direction& d, const Keys& keys, bool encrypt) {
  d.ctx = EVP_CIPHER_CTX_new();
  if (!d.ctx || !cipher_of(aead_))
    return false;
  d.seq = keys.seq;
  if (!EVP_CipherInit_ex(d.ctx, cipher_of(aead_), nullptr, nullptr, nullptr, encrypt ? 1 : 0))
    return false;
  if (tls13()) {
    size_t n = EVP_MD_get_size(hash_of(aead_));
    if (keys.secret.size() != n)
      return false;
    std::memcpy(d.secret, keys.secret.data(), n);
    bool ok = update_from_secret(d);
    d.seq = keys.seq;
    return ok;
  }
  size_t iv_size = aead_ == TlsAead::chacha20_poly1305 ? 12 : 4;
  if (keys.key.size() != key_size(aead_) || keys.iv.size() != iv_size)
    return false;
  return rekey(d, keys.key, keys.iv, encrypt ? 1 : 0);
}

bool TlsRecords::rekey(Direction& d, std::span<const uint8_t> key, std::span<const uint8_t> iv,
                       int enc) {
  std::memcpy(d.iv, iv.data(), iv.size());
  return EVP_CipherInit_ex(d.ctx, nullptr, nullptr, key.data(), nullptr, enc) == 1;
}

bool TlsRecords::update_from_secret(Direction& d) {
  const EVP_MD* md = hash_of(aead_);
  std::span<const uint8_t> secret(d.secret, static_cast<size_t>(EVP_MD_get_size(md)));
  uint8_t key[32], iv[12];
  std::span<uint8_t> k(key, key_size(aead_));
  bool ok = tls13_expand_label(md, secret, "key", k) && tls13_expand_label(md, secret, "iv", iv) &&
            rekey(d, k, iv, EVP_CIPHER_CTX_is_encrypting(d.ctx));
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(iv, sizeof iv);
  d.seq = 0;
  return ok;
}

bool TlsRecords::update(Direction& d) {
  if (!tls13())
    return false;
  const EVP_MD* md = hash_of(aead_);
  size_t n = static_cast<size_t>(EVP_MD_get_size(md));
  uint8_t next[48];
  if (!tls13_expand_label(md, {d.secret, n}, "traffic upd", {next, n}))
    return false;
  std::memcpy(d.secret, next, n);
  OPENSSL_cleanse(next, sizeof next);
  return update_from_secret(d);
}

void TlsRecords::nonce(const Direction& d, uint64_t seq, uint8_t out[12]) const {
  std::memcpy(out, d.iv, 12);
  uint8_t s[8];
  put64(s, seq);
  for (int i = 0; i < 8; ++i)
    out[4 + i] ^= s[i];
}

long TlsRecords::record_size(const uint8_t* data, size_t have) const {
  if (have < kTlsHeader)
    return 0;
  size_t len = static_cast<size_t>(data[3]) << 8 | data[4];
  if (tls13()) {
    // Every protected record is application_data outside (§5.2); the version is ignored but
    // must look like TLS.
    if (data[0] != kTlsApplicationData || data[1] != 3 || len > kTlsMaxPlaintext + 256)
      return -1;
  } else if (data[0] < kTlsChangeCipherSpec || data[0] > kTlsApplicationData || data[1] != 3 ||
             data[2] != 3 || len > kTlsMaxPlaintext + 2048) {
    return -1;
  }
  return static_cast<long>(kTlsHeader + len);
}

bool TlsRecords::open(uint8_t* record, size_t size, Opened* out) {
  if (size < kTlsHeader || read_.seq == UINT64_MAX)
    return false;
  uint8_t* body = record + kTlsHeader;
  size_t n = size - kTlsHeader;
  const bool explicit_nonce = !tls13() && aead_ != TlsAead::chacha20_poly1305;
  size_t skip = explicit_nonce ? kExplicitNonce : 0;
  if (n < skip + kTag + (tls13() ? 1 : 0))
    return false;
  size_t cipher_len = n - skip - kTag;
  uint8_t iv[12], aad[13];
  size_t aad_len = kTlsHeader;
  if (tls13()) {
    nonce(read_, read_.seq, iv);
    std::memcpy(aad, record, kTlsHeader); // the header as sent (§5.2)
  } else {
    if (explicit_nonce) {
      std::memcpy(iv, read_.iv, 4);
      std::memcpy(iv + 4, body, kExplicitNonce);
    } else {
      nonce(read_, read_.seq, iv);
    }
    // seq_num || type || version || length of the plaintext (RFC 5246 §6.2.3.3)
    put64(aad, read_.seq);
    aad[8] = record[0];
    aad[9] = record[1];
    aad[10] = record[2];
    aad[11] = static_cast<uint8_t>(cipher_len >> 8);
    aad[12] = static_cast<uint8_t>(cipher_len);
    aad_len = 13;
  }
  uint8_t* text = body + skip;
  int got = 0, fin = 0;
  if (EVP_DecryptInit_ex(read_.ctx, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_DecryptUpdate(read_.ctx, nullptr, &got, aad, static_cast<int>(aad_len)) != 1 ||
      EVP_DecryptUpdate(read_.ctx, text, &got, text, static_cast<int>(cipher_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(read_.ctx, EVP_CTRL_AEAD_SET_TAG, kTag, text + cipher_len) != 1 ||
      EVP_DecryptFinal_ex(read_.ctx, text + got, &fin) != 1)
    return false; // the tag did not match: nothing of it is used
  ++read_.seq;
  size_t len = cipher_len;
  uint8_t type = record[0];
  if (tls13()) {
    // TLSInnerPlaintext: content, the real type, then zeros (§5.4).
    while (len > 0 && text[len - 1] == 0)
      --len;
    if (len == 0)
      return false; // no type: unexpected_message
    type = text[--len];
  }
  if (len > kTlsMaxPlaintext)
    return false; // record_overflow
  *out = {type, text, len};
  return true;
}

size_t TlsRecords::seal(uint8_t type, const uint8_t* data, size_t len, uint8_t* out) {
  if (len > kTlsMaxPlaintext || write_.seq == UINT64_MAX)
    return 0;
  const bool explicit_nonce = !tls13() && aead_ != TlsAead::chacha20_poly1305;
  size_t skip = explicit_nonce ? kExplicitNonce : 0;
  size_t inner = len + (tls13() ? 1 : 0);
  size_t body = skip + inner + kTag;
  out[0] = tls13() ? kTlsApplicationData : type;
  out[1] = 3;
  out[2] = 3;
  out[3] = static_cast<uint8_t>(body >> 8);
  out[4] = static_cast<uint8_t>(body);
  uint8_t iv[12], aad[13];
  size_t aad_len = kTlsHeader;
  if (tls13()) {
    nonce(write_, write_.seq, iv);
    std::memcpy(aad, out, kTlsHeader);
  } else {
    if (explicit_nonce) {
      std::memcpy(iv, write_.iv, 4);
      put64(iv + 4, write_.seq); // the explicit nonce: the sequence number, never repeated
      std::memcpy(out + kTlsHeader, iv + 4, kExplicitNonce);
    } else {
      nonce(write_, write_.seq, iv);
    }
    put64(aad, write_.seq);
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    aad[11] = static_cast<uint8_t>(len >> 8);
    aad[12] = static_cast<uint8_t>(len);
    aad_len = 13;
  }
  uint8_t* text = out + kTlsHeader + skip;
  int n = 0, fin = 0;
  if (EVP_EncryptInit_ex(write_.ctx, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_EncryptUpdate(write_.ctx, nullptr, &n, aad, static_cast<int>(aad_len)) != 1 ||
      (len > 0 && EVP_EncryptUpdate(write_.ctx, text, &n, data, static_cast<int>(len)) != 1) ||
      (tls13() && EVP_EncryptUpdate(write_.ctx, text + len, &n, &type, 1) != 1) ||
      EVP_EncryptFinal_ex(write_.ctx, text + inner, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(write_.ctx, EVP_CTRL_AEAD_GET_TAG, kTag, text + inner) != 1)
    return 0;
  ++write_.seq;
  return kTlsHeader + body;
}

} // namespace hamba::net
