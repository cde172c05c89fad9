// Peeking at a TLS ClientHello for its server name (SNI), without taking part in TLS: the
// bytes are only read, and the session passes every one of them on to the server unchanged.
//
//     net::ClientHelloResult r = net::peek_client_hello(received, received_size);
//     switch (r.status) {
//     case net::ClientHelloStatus::need_more: /* read more, up to kClientHelloMaxBytes */
//     case net::ClientHelloStatus::done:      /* r.server_name(): "a.test", or empty: none */
//     case net::ClientHelloStatus::not_tls:   /* first byte is not a TLS handshake record */
//     case net::ClientHelloStatus::malformed: /* r.reason says what */
//     }
//
// Why hand-written: OpenSSL can report the server_name extension only from its client-hello
// callback (SSL_client_hello_get0_ext) inside a server handshake, i.e. through a throwaway
// SSL object per connection fed from a memory BIO and aborted in the callback (it then writes
// an alert that would have to be discarded). Checked with OpenSSL 3.0: it works, but costs
// about 13 µs and 75 KB per hello in flight, it still hands back the raw extension for us to
// parse, and it would refuse hellos OpenSSL itself does not accept, which the real server
// might. No other Debian package parses a ClientHello passively. This one is about 150 lines,
// allocates nothing, and has a fuzz target (tests/fuzz/fuzz_client_hello.cpp).
//
// Facts used (RFC 8446 4.1.2, 5.1; RFC 6066 3): records are type 22 (handshake), version 3.x,
// at most 2^14 bytes, and a handshake message may be split over several records (TCP may also
// split anywhere); the ClientHello is legacy_version, random[32], session_id<0..32>,
// cipher_suites<2..2^16-2>, compression_methods<1..2^8-1>, then optionally extensions; the
// server_name extension (type 0) holds a list of (name_type, name), host_name being type 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hamba::net {

// The most the peeker looks at (and a session buffers) before it gives up: HAProxy's and
// nginx's preread bound. Real ClientHellos are 200-600 bytes; post-quantum key shares ~1.8 KB.
constexpr size_t kClientHelloMaxBytes = 16 * 1024;

// DNS names are at most 253 characters; a longer host_name is malformed.
constexpr size_t kServerNameMaxSize = 253;

enum class ClientHelloStatus {
  need_more, // what arrived is the valid start of a ClientHello: read more
  done,      // the whole ClientHello arrived and was valid: see server_name()
  not_tls,   // the first bytes are not a TLS handshake record (plain HTTP, SSLv2, ...)
  malformed, // a TLS handshake that is not a valid ClientHello, or longer than the bound
};

struct ClientHelloResult {
  ClientHelloStatus status = ClientHelloStatus::need_more;
  // malformed / not_tls: a short phrase for the log; a static string.
  const char* reason = "";
  // done: the host_name, lower-cased (names compare without case); empty when the hello has
  // none (no extensions, no server_name, or no host_name in it).
  char name[kServerNameMaxSize]{};
  uint8_t name_size = 0;
  std::string_view server_name() const { return {name, name_size}; }
};

// Looks at the first `size` bytes a client sent (at most kClientHelloMaxBytes are examined:
// with that many and the hello still incomplete, the answer is malformed, never need_more).
ClientHelloResult peek_client_hello(const char* data, size_t size);

} // namespace hamba::net
