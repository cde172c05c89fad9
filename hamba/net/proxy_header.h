// The PROXY protocol (HAProxy's doc/proxy-protocol.txt, versions 1 and 2): the header a proxy
// writes first on a connection to say which client and which local address the connection is
// really for. hamba writes one to servers (send_proxy) and reads one from clients (accept_proxy).
//
//     net::ProxyHeaderBytes h = net::build_proxy_header(net::ProxyVersion::v2, client, local);
//     send(fd, h.data, h.size);                       // before any byte of the client's
//
//     net::ProxyHeaderResult r = net::parse_proxy_header(received, received_size);
//     if (r.status == net::ProxyHeaderStatus::need_more)  // read more, within kProxyHeaderMaxInput
//     if (r.status == net::ProxyHeaderStatus::done)       // r.consumed bytes were the header; the
//                                                         // rest is the client's data
//
// Both are pure functions on bytes: no allocation, no I/O, so the session decides about buffers
// and timeouts, and the fuzz target (tests/fuzz/fuzz_proxy_header.cpp) drives the parser alone.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <sys/socket.h>

namespace hamba::net {

enum class ProxyVersion { v1, v2 };

// The most a v1 header may take, CRLF included (the specification's bound).
constexpr size_t kProxyV1MaxSize = 107;
// The most a v2 header may take: 16 fixed bytes and at most 512 of addresses and TLVs. The
// largest address block (two UNIX paths) is 216 bytes; the rest leaves room for the usual TLVs
// (ALPN, authority, unique id, SSL). A longer header is refused rather than buffered.
constexpr size_t kProxyV2MaxPayload = 512;
constexpr size_t kProxyV2MaxSize = 16 + kProxyV2MaxPayload;
// What a reader must be ready to hold before the parser says done or error.
constexpr size_t kProxyHeaderMaxInput = kProxyV2MaxSize;

// A built header: at most 107 bytes (v1 TCP6 with the longest addresses); v2 needs 52.
struct ProxyHeaderBytes {
  char data[kProxyV1MaxSize + 1];
  size_t size = 0;
};

// The header for a connection from `client` to `destination` (the address the client
// connected to). IPv4 and IPv4-mapped IPv6 addresses are written as IPv4 (TCP4, AF_INET); when
// one side is a real IPv6 address both are written as IPv6, the IPv4 one mapped. When either is
// null or of another family (a UNIX socket), the header says so: v1 "PROXY UNKNOWN", v2 LOCAL
// with no addresses, and the receiver uses the connection's own addresses.
ProxyHeaderBytes build_proxy_header(ProxyVersion version, const sockaddr* client,
                                    const sockaddr* destination);

// What a TLS-terminating frontend tells its servers in a v2 header (HAProxy's
// proxy-protocol.txt, 2.2): the SNI as PP2_TYPE_AUTHORITY, and PP2_TYPE_SSL with the version,
// the cipher and, for a verified client certificate, its common name.
struct ProxyTlsFacts {
  std::string_view server_name; // "" for none
  std::string_view version;     // "TLSv1.3"
  std::string_view cipher;      // "TLS_AES_256_GCM_SHA384"
  std::string_view client_cn;   // "" without a client certificate
};
// A v2 header (as build_proxy_header made it, not LOCAL) with those TLVs appended and its
// length updated; the header as it was for v1, or when they would not fit.
std::string with_tls_tlvs(const ProxyHeaderBytes& header, const ProxyTlsFacts& facts);

enum class ProxyHeaderStatus {
  need_more, // every byte so far could start a valid header: read more
  done,      // a whole header: see consumed and local
  error,     // not a PROXY header, malformed, or longer than the bounds: see reason
};

struct ProxyHeaderResult {
  ProxyHeaderStatus status = ProxyHeaderStatus::need_more;
  ProxyVersion version = ProxyVersion::v1;
  // done: bytes of the header; what follows them is the client's data.
  size_t consumed = 0;
  // done: true when the header carries no addresses to use (v2 LOCAL, as sent by another
  // balancer's health check; v1 UNKNOWN; v2 UNSPEC or UNIX): keep the connection's own.
  bool local = false;
  // done and !local: the client's address and the address it connected to (sockaddr_in or
  // sockaddr_in6; port in network order as in any sockaddr).
  sockaddr_storage source{};
  sockaddr_storage destination{};
  // error: a short phrase for the log ("v2 header longer than 528 bytes"); a static string.
  const char* reason = "";
};

// Parses the header at the start of `data` (the `size` bytes received so far). Looks at no more
// than kProxyHeaderMaxInput bytes: a reader that holds that many and still gets need_more has a
// bug, not a slow client (it cannot happen: every longer prefix is done or error).
ProxyHeaderResult parse_proxy_header(const char* data, size_t size);

} // namespace hamba::net
