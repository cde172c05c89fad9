// From OpenSSL's record layer to hamba's; see tls_handover.h.
#include "net/tls_handover.h"

#include <cstring>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <string_view>

namespace hamba::net {

namespace {

int handover_index() {
  static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// The key log's hex into bytes (OpenSSL's own decoder, no separator): the length, or 0 if it
// is not hex or does not fit.
size_t unhex(const char* hex, uint8_t* out, size_t room) {
  size_t len = 0;
  return OPENSSL_hexstr2buf_ex(out, room, &len, hex, '\0') == 1 ? len : 0;
}

// TLS 1.2's key block (RFC 5246 §6.3): PRF(master_secret, "key expansion", server_random +
// client_random).
bool key_block(const SSL* ssl, const EVP_MD* md, uint8_t* out, size_t len) {
  static EVP_KDF* prf = EVP_KDF_fetch(nullptr, "TLS1-PRF", nullptr);
  uint8_t master[48];
  uint8_t seed[13 + 64];
  size_t master_len = SSL_SESSION_get_master_key(SSL_get0_session(ssl), master, sizeof master);
  if (!prf || !md || master_len == 0 || SSL_get_server_random(ssl, seed + 13, 32) != 32 ||
      SSL_get_client_random(ssl, seed + 45, 32) != 32)
    return false;
  std::memcpy(seed, "key expansion", 13);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, master_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
      OSSL_PARAM_construct_end(),
  };
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(prf);
  bool ok = ctx && EVP_KDF_derive(ctx, out, len, params) == 1;
  EVP_KDF_CTX_free(ctx);
  OPENSSL_cleanse(master, sizeof master);
  return ok;
}

} // namespace

void TlsHandover::Stream::add(const char* data, size_t len) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  while (len > 0) {
    if (body_left > 0) {
      size_t n = body_left < len ? body_left : len;
      body_left -= n, p += n, len -= n;
      continue;
    }
    if (header_have == 0)
      ++started;
    header[header_have++] = *p++;
    --len;
    if (header_have == kTlsHeader) {
      header_have = 0;
      body_left = static_cast<size_t>(header[3]) << 8 | header[4];
      if (header[0] == kTlsChangeCipherSpec)
        after_ccs = started;
    }
  }
}

TlsHandover::TlsHandover(SSL* ssl) : ssl_(ssl) {
  SSL_set_ex_data(ssl, handover_index(), this);
}

TlsHandover::~TlsHandover() {
  SSL_set_ex_data(ssl_, handover_index(), nullptr);
  OPENSSL_cleanse(read_secret_, sizeof read_secret_);
  OPENSSL_cleanse(write_secret_, sizeof write_secret_);
}

void TlsHandover::on_keylog(const SSL* ssl, const char* line) {
  if (auto* self = static_cast<TlsHandover*>(SSL_get_ex_data(ssl, handover_index())))
    self->keylog(ssl, line);
}

void TlsHandover::keylog(const SSL* ssl, const char* line) {
  // "LABEL <client random> <secret>", all hex (NSS's key log format).
  std::string_view l(line);
  size_t a = l.find(' '), b = a == l.npos ? l.npos : l.find(' ', a + 1);
  if (b == l.npos)
    return;
  std::string_view label = l.substr(0, a);
  const char* secret = line + b + 1; // to the line's end
  if (label == "SERVER_TRAFFIC_SECRET_0") {
    write_secret_len_ = unhex(secret, write_secret_, sizeof write_secret_);
    write_mark_ = written_.at_boundary() ? static_cast<int64_t>(written_.started) : -1;
  } else if (label == "CLIENT_TRAFFIC_SECRET_0") {
    read_secret_len_ = unhex(secret, read_secret_, sizeof read_secret_);
    read_mark_ = consumed(ssl);
  }
}

int64_t TlsHandover::consumed(const SSL* ssl) const {
  char* unread = nullptr;
  long n = BIO_get_mem_data(SSL_get_rbio(ssl), &unread);
  if (n < 0)
    return -1;
  Stream rest; // the unread bytes must end where the fed stream does
  rest.add(unread, static_cast<size_t>(n));
  if (rest.body_left != fed_.body_left || rest.header_have != fed_.header_have ||
      rest.started > fed_.started)
    return -1;
  return static_cast<int64_t>(fed_.started - rest.started);
}

std::unique_ptr<TlsRecords> TlsHandover::take(SSL* ssl) {
  if (!SSL_is_init_finished(ssl) || SSL_is_server(ssl) != 1 || SSL_has_pending(ssl) ||
      SSL_pending(ssl) > 0 || SSL_get_shutdown(ssl) != 0 || !written_.at_boundary())
    return nullptr;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  TlsAead aead;
  switch (cipher ? SSL_CIPHER_get_cipher_nid(cipher) : NID_undef) {
  case NID_aes_128_gcm:
    aead = TlsAead::aes_128_gcm;
    break;
  case NID_aes_256_gcm:
    aead = TlsAead::aes_256_gcm;
    break;
  case NID_chacha20_poly1305:
    aead = TlsAead::chacha20_poly1305;
    break;
  default:
    return nullptr; // CBC, CCM: OpenSSL's record layer stays
  }
  int64_t read = consumed(ssl);
  if (read < 0)
    return nullptr;
  int version = SSL_version(ssl);
  TlsRecords::Keys r, w;
  if (version == TLS1_3_VERSION) {
    if (read_mark_ < 0 || write_mark_ < 0 || read < read_mark_ || read_secret_len_ == 0 ||
        write_secret_len_ == 0)
      return nullptr;
    r = {.secret = {read_secret_, read_secret_len_}, .seq = uint64_t(read - read_mark_)};
    w = {.secret = {write_secret_, write_secret_len_},
         .seq = written_.started - uint64_t(write_mark_)};
    auto records = TlsRecords::make(aead, 0x0304, r, w);
    OPENSSL_cleanse(read_secret_, sizeof read_secret_);
    OPENSSL_cleanse(write_secret_, sizeof write_secret_);
    return records;
  }
  if (version != TLS1_2_VERSION || fed_.after_ccs == 0 || written_.after_ccs == 0 ||
      uint64_t(read) < fed_.after_ccs)
    return nullptr;
  // client_write_key, server_write_key, client_write_IV, server_write_IV (no MAC keys: AEAD).
  size_t key = aead == TlsAead::aes_128_gcm ? 16 : 32;
  size_t iv = aead == TlsAead::chacha20_poly1305 ? 12 : 4;
  uint8_t block[2 * 32 + 2 * 12];
  if (!key_block(ssl, SSL_CIPHER_get_handshake_digest(cipher), block, 2 * key + 2 * iv))
    return nullptr;
  r = {.key = {block, key}, .iv = {block + 2 * key, iv}, .seq = uint64_t(read) - fed_.after_ccs};
  w = {.key = {block + key, key},
       .iv = {block + 2 * key + iv, iv},
       .seq = written_.started - written_.after_ccs};
  auto records = TlsRecords::make(aead, 0x0303, r, w);
  OPENSSL_cleanse(block, sizeof block);
  return records;
}

} // namespace hamba::net
