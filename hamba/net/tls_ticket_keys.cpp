// The process's session-ticket keys; see tls_ticket_keys.h.
#include "net/tls_ticket_keys.h"

#include <cstring>
#include <mutex>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace hamba::net {

namespace {

struct TicketKey {
  unsigned char name[16];
  unsigned char aes[32];  // AES-256-CBC
  unsigned char hmac[32]; // HMAC-SHA256
  std::chrono::steady_clock::time_point made;
  bool usable = false; // its bytes came from the random generator
};

class TicketKeys {
public:
  // The key that seals now (rotated when due).
  TicketKey current() {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (!made_ || now - keys_[0].made >= kTicketKeyLifetime) {
      keys_[1] = keys_[0];
      make(keys_[0], now);
      if (!made_)
        keys_[1] = keys_[0];
      made_ = true;
    }
    return keys_[0];
  }
  // The key named `name`: 1 the current one, 2 the one before (the ticket is to be renewed),
  // 0 none.
  int find(const unsigned char* name, TicketKey& out) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < 2; ++i)
      if (made_ && keys_[i].usable && std::memcmp(keys_[i].name, name, sizeof keys_[i].name) == 0) {
        out = keys_[i];
        return i + 1;
      }
    return 0;
  }

private:
  static void make(TicketKey& k, std::chrono::steady_clock::time_point now) {
    k = TicketKey{};
    // No randomness: the key is not usable. No ticket is sealed with it (a zero key would let
    // anyone forge one) and none is opened with it; clients then do full handshakes.
    k.usable = RAND_bytes(k.name, sizeof k.name) == 1 && RAND_bytes(k.aes, sizeof k.aes) == 1 &&
               RAND_bytes(k.hmac, sizeof k.hmac) == 1;
    k.made = now;
  }

  std::mutex mutex_;
  TicketKey keys_[2]{};
  bool made_ = false;
};

TicketKeys& keys() {
  static TicketKeys k;
  return k;
}

bool set_hmac(EVP_MAC_CTX* mac, unsigned char* key) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1 && EVP_MAC_init(mac, key, 32, nullptr) == 1;
}

// OpenSSL's ticket callback: 1 sealed/opened, 2 opened with an older key (renew), 0 unknown key
// (a full handshake), -1 failure.
int on_ticket(SSL*, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int seal) {
  TicketKey k;
  if (seal) {
    k = keys().current();
    if (!k.usable)
      return 0; // no ticket issued
    if (RAND_bytes(iv, 16) != 1)
      return -1;
    std::memcpy(name, k.name, sizeof k.name);
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1 ||
        !set_hmac(mac, k.hmac))
      return -1;
    return 1;
  }
  keys().current(); // rotates when due, so that an old key is found as the older one
  int found = keys().find(name, k);
  if (found == 0)
    return 0;
  if (!set_hmac(mac, k.hmac) ||
      EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1)
    return -1;
  return found;
}

} // namespace

void use_process_ticket_keys(SSL_CTX* ctx) {
  keys().current(); // made at start, not at the first handshake
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
}

} // namespace hamba::net
