// The steps before a connection has a server, as one pure function over the bytes read ahead:
// the client's PROXY header (accept_proxy) and its TLS ClientHello (routes), in that order.
//
//     net::PrereadResult r = net::examine_preread(bytes, size, capacity, {.proxy_header = true});
//     switch (r.verdict) { need_more: read more; done: r.consumed header bytes, r.carried,
//                          r.server_name();
//                          bad_proxy_header / bad_client_hello: refuse, r.reason says why }
//
// No allocation, no I/O, no libuv: the connection (engine/connection.h) owns the buffer and
// the deadline, and the fuzz target (tests/fuzz/fuzz_preread.cpp) drives this alone. A buffer
// that is full while the parsers still want more is a verdict (the header or the hello is too
// long), never a read error.
#pragma once

#include "net/proxy_header.h"
#include "net/tls_client_hello.h"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <sys/socket.h>

namespace hamba::net {

// The most a read-ahead needs to hold before examine_preread answers: a PROXY header, then a
// ClientHello.
constexpr size_t kPrereadMax = kProxyHeaderMaxInput + kClientHelloMaxBytes;

struct PrereadSteps {
  bool proxy_header = false; // the client is a proxy: a PROXY v1 or v2 header comes first
  bool client_hello = false; // routes: the TLS ClientHello's server name picks the route
};

enum class PrereadVerdict : uint8_t {
  need_more,        // every byte so far could start a valid header and hello
  done,             // see consumed, carried, server_name
  bad_proxy_header, // missing, malformed or oversized
  bad_client_hello, // not TLS, malformed or oversized
};

struct PrereadResult {
  PrereadVerdict verdict = PrereadVerdict::need_more;
  const char* reason = ""; // a bad verdict's phrase for the log (a static string)
  // done: bytes at the start that were the PROXY header (consumed, never sent on).
  size_t consumed = 0;
  // done: the header carried the client's addresses (false: none, or v2 LOCAL / v1 UNKNOWN:
  // the connection's own stand).
  bool carried = false;
  sockaddr_storage source{};
  sockaddr_storage destination{};
  // done with client_hello: the server name, lower-cased ("" when the hello names none).
  char name[kServerNameMaxSize]{};
  uint8_t name_size = 0;
  std::string_view server_name() const { return {name, name_size}; }
};

// Examines the `size` bytes read ahead into a buffer of `capacity` (capacity >= size).
PrereadResult examine_preread(const char* data, size_t size, size_t capacity, PrereadSteps steps);

// The read-ahead capacity the steps need.
constexpr size_t preread_capacity(PrereadSteps steps) {
  return (steps.proxy_header ? kProxyHeaderMaxInput : 0) +
         (steps.client_hello ? kClientHelloMaxBytes : 0);
}

} // namespace hamba::net
