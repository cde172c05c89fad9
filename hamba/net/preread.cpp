// The PROXY header and the ClientHello, read ahead; see preread.h.
#include "net/preread.h"

#include <cstring>

namespace hamba::net {

PrereadResult examine_preread(const char* data, size_t size, size_t capacity, PrereadSteps steps) {
  PrereadResult out;
  size_t at = 0;
  if (steps.proxy_header) {
    ProxyHeaderResult h = parse_proxy_header(data, size);
    if (h.status == ProxyHeaderStatus::error) {
      out.verdict = PrereadVerdict::bad_proxy_header;
      out.reason = h.reason;
      return out;
    }
    if (h.status == ProxyHeaderStatus::need_more) {
      if (size >= capacity || size >= kProxyHeaderMaxInput) {
        out.verdict = PrereadVerdict::bad_proxy_header;
        out.reason = "header longer than the read-ahead buffer";
      }
      return out;
    }
    at = h.consumed;
    out.consumed = h.consumed;
    out.carried = !h.local;
    if (out.carried) {
      out.source = h.source;
      out.destination = h.destination;
    }
  }
  if (steps.client_hello) {
    ClientHelloResult c = peek_client_hello(data + at, size - at);
    if (c.status == ClientHelloStatus::need_more) {
      if (size >= capacity) {
        out.verdict = PrereadVerdict::bad_client_hello;
        out.reason = "ClientHello longer than the read-ahead buffer";
      }
      return out;
    }
    if (c.status != ClientHelloStatus::done) {
      out.verdict = PrereadVerdict::bad_client_hello;
      out.reason = c.reason;
      return out;
    }
    std::memcpy(out.name, c.name, c.name_size);
    out.name_size = c.name_size;
    out.verdict = PrereadVerdict::done;
    return out;
  }
  out.verdict = PrereadVerdict::done;
  return out;
}

} // namespace hamba::net
