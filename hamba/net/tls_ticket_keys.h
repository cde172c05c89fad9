// The keys that seal TLS session tickets, one set for the whole process: made at start (the
// first TLS context built), rotated every kTicketKeyLifetime, and kept across every reconfigure
// (a context built again uses the same ones), so a client resumes with a ticket issued before
// a reload. A ticket sealed with the key before the current one is still accepted, and renewed.
//
// OpenSSL calls install()'s callback during handshakes, on any worker: the keys are read under
// a mutex, held only to copy 80 bytes (the handshake, not the data path, takes it).
#pragma once

#include <chrono>
#include <openssl/ssl.h>

namespace hamba::net {

// How long one key seals new tickets; it opens them for as long again.
constexpr std::chrono::hours kTicketKeyLifetime{12};

// Makes `ctx` seal and open its tickets with the process's keys.
void use_process_ticket_keys(SSL_CTX* ctx);

} // namespace hamba::net
