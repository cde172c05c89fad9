// Fuzz target for the PROXY protocol parser (net/proxy_header.h): any bytes give one of the
// three answers within the bounds, a header hamba builds always parses back to its addresses,
// and a prefix of a header is never answered differently from the bound it is under.
#include "fuzz_check.h"
#include "net/proxy_header.h"

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <netinet/in.h>

using namespace hamba::net;
using fuzz::check;

namespace {

// Two socket addresses from fuzz bytes: IPv4, IPv6 or IPv4-mapped, by the first byte.
void addresses_from(const uint8_t* d, sockaddr_storage& a, sockaddr_storage& b) {
  for (auto* s : {&a, &b}) {
    *s = {};
    const unsigned kind = d[0] % 3;
    if (kind == 0) {
      auto* in = reinterpret_cast<sockaddr_in*>(s);
      in->sin_family = AF_INET;
      std::memcpy(&in->sin_addr, d + 1, 4);
      std::memcpy(&in->sin_port, d + 5, 2);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(s);
      in6->sin6_family = AF_INET6;
      std::memcpy(&in6->sin6_addr, d + 1, 16);
      if (kind == 2) {
        std::memset(&in6->sin6_addr, 0, 10);
        in6->sin6_addr.s6_addr[10] = in6->sin6_addr.s6_addr[11] = 0xff;
      }
      std::memcpy(&in6->sin6_port, d + 17, 2);
    }
    d += 19;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  ProxyHeaderResult r = parse_proxy_header(text, size);
  switch (r.status) {
  case ProxyHeaderStatus::need_more:
    check(size < kProxyHeaderMaxInput);
    break;
  case ProxyHeaderStatus::done:
    check(r.consumed > 0 && r.consumed <= size && r.consumed <= kProxyHeaderMaxInput);
    // The same header with anything after it is the same header.
    check(parse_proxy_header(text, r.consumed).consumed == r.consumed);
    if (!r.local)
      check(r.source.ss_family == r.destination.ss_family);
    break;
  case ProxyHeaderStatus::error:
    check(r.reason != nullptr && r.reason[0] != '\0');
    break;
  }
  if (size > 0 && r.status != ProxyHeaderStatus::need_more)
    check(parse_proxy_header(text, size - 1).status != ProxyHeaderStatus::done ||
          r.status == ProxyHeaderStatus::done);

  if (size >= 38) {
    sockaddr_storage a, b;
    addresses_from(data, a, b);
    for (auto version : {ProxyVersion::v1, ProxyVersion::v2}) {
      ProxyHeaderBytes h = build_proxy_header(version, reinterpret_cast<sockaddr*>(&a),
                                              reinterpret_cast<sockaddr*>(&b));
      check(h.size > 0 && h.size <= sizeof h.data);
      ProxyHeaderResult back = parse_proxy_header(h.data, h.size);
      check(back.status == ProxyHeaderStatus::done && back.consumed == h.size && !back.local);
    }
  }
  return 0;
}
