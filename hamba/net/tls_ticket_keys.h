// The keys that seal TLS session tickets: an immutable set, the key that seals new tickets and
// the one before it (whose tickets still open, and are renewed). The main loop owns the
// process's set: it makes it at start, keeps it across every reconfigure (a client resumes with
// a ticket issued before a reload), and every kTicketKeyLifetime hands the workers a rotated
// one in their frontends' views (engine/frontend.h). A session is given the set of the view it
// was accepted under and holds it to its end, so OpenSSL's ticket callback, on any worker,
// reads keys no one changes: no lock on the handshake path.
//
//     auto keys = net::TicketKeySet::make();       // at start
//     keys = keys->rotated();                      // every kTicketKeyLifetime
//     net::use_ticket_keys(ssl, keys.get());       // per session (net/tls_transport.h)
#pragma once

#include <chrono>
#include <memory>
#include <openssl/ssl.h>

namespace hamba::net {

// How long one key seals new tickets; it opens them for as long again.
constexpr std::chrono::hours kTicketKeyLifetime{12};

struct TicketKey {
  unsigned char name[16];
  unsigned char aes[32];  // AES-256-CBC
  unsigned char hmac[32]; // HMAC-SHA256
  bool usable = false;    // its bytes came from the random generator
};

class TicketKeySet {
public:
  // A new key, which seals and opens.
  static std::shared_ptr<const TicketKeySet> make();
  // A new key seals; this set's sealing key still opens.
  std::shared_ptr<const TicketKeySet> rotated() const;

  const TicketKey& sealing() const { return keys_[0]; }
  // The key named `name`: 1 the sealing one, 2 the one before (the ticket is to be renewed),
  // 0 none (an unusable key opens nothing).
  int find(const unsigned char* name, const TicketKey** out) const;

private:
  TicketKey keys_[2]{}; // [0] seals, [1] the one before (or [0] again, at start)
};

// Makes `ctx`'s server sessions seal and open their tickets with the set use_ticket_keys()
// gives each; a session given none issues no ticket and resumes none.
void enable_ticket_keys(SSL_CTX* ctx);
// The set `ssl`'s handshake uses; the caller keeps it alive for the session's life.
void use_ticket_keys(SSL* ssl, const TicketKeySet* keys);

} // namespace hamba::net
