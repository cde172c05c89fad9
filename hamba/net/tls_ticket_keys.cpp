// Session-ticket keys as immutable sets; see tls_ticket_keys.h.
#include "net/tls_ticket_keys.h"

#include <cstring>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace hamba::net {

namespace {

TicketKey new_key() {
  TicketKey k;
  // No randomness: the key is not usable. No ticket is sealed with it (a zero key would let
  // anyone forge one) and none is opened with it; clients then do full handshakes.
  k.usable = RAND_bytes(k.name, sizeof k.name) == 1 && RAND_bytes(k.aes, sizeof k.aes) == 1 &&
             RAND_bytes(k.hmac, sizeof k.hmac) == 1;
  if (!k.usable)
    k = TicketKey{};
  return k;
}

// The SSL's slot for its TicketKeySet (made once, before any worker runs a handshake: the
// first context built on the main loop asks for it).
int keys_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool set_hmac(EVP_MAC_CTX* mac, const unsigned char* key) {
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1 && EVP_MAC_init(mac, key, 32, nullptr) == 1;
}

// OpenSSL's ticket callback: 1 sealed/opened, 2 opened with an older key (renew), 0 unknown key
// (a full handshake) or no ticket issued, -1 failure.
int on_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int seal) {
  const auto* keys = static_cast<const TicketKeySet*>(SSL_get_ex_data(ssl, keys_index()));
  if (!keys)
    return 0;
  if (seal) {
    const TicketKey& k = keys->sealing();
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
  const TicketKey* k = nullptr;
  int found = keys->find(name, &k);
  if (found == 0)
    return 0;
  if (!set_hmac(mac, k->hmac) ||
      EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, k->aes, iv) != 1)
    return -1;
  return found;
}

} // namespace

std::shared_ptr<const TicketKeySet> TicketKeySet::make() {
  auto set = std::make_shared<TicketKeySet>();
  set->keys_[0] = new_key();
  set->keys_[1] = set->keys_[0];
  return set;
}

std::shared_ptr<const TicketKeySet> TicketKeySet::rotated() const {
  auto set = std::make_shared<TicketKeySet>();
  set->keys_[0] = new_key();
  set->keys_[1] = keys_[0];
  return set;
}

int TicketKeySet::find(const unsigned char* name, const TicketKey** out) const {
  for (int i = 0; i < 2; ++i)
    if (keys_[i].usable && std::memcmp(keys_[i].name, name, sizeof keys_[i].name) == 0) {
      *out = &keys_[i];
      return i + 1;
    }
  return 0;
}

void enable_ticket_keys(SSL_CTX* ctx) {
  keys_index();
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
}

void use_ticket_keys(SSL* ssl, const TicketKeySet* keys) {
  SSL_set_ex_data(ssl, keys_index(), const_cast<TicketKeySet*>(keys));
}

} // namespace hamba::net
