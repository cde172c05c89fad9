// Fuzz target for the preread (net/preread.h): the PROXY header then the ClientHello, as the
// connection examines what it read ahead. The first byte picks the steps (bit 0: a PROXY header,
// bit 1: a ClientHello; neither: both) and the rest is what the client sent. Any bytes give one
// verdict; need_more only while the buffer has room; the header's length within what was read;
// and a prefix of bytes that still needed more never gets another answer.
#include "fuzz_check.h"
#include "net/preread.h"

#include <cstdint>

using namespace hamba::net;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const unsigned bits = data[0] & 3u;
  const PrereadSteps steps{bits == 0 || (bits & 1u) != 0, bits == 0 || (bits & 2u) != 0};
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const size_t capacity = preread_capacity(steps);
  const size_t n = size - 1 < capacity ? size - 1 : capacity;
  PrereadResult r = examine_preread(bytes, n, capacity, steps);
  check(r.consumed <= n);
  switch (r.verdict) {
  case PrereadVerdict::need_more:
    check(n < capacity);
    if (n > 0) // fewer bytes cannot have been more complete
      check(examine_preread(bytes, n - 1, capacity, steps).verdict == PrereadVerdict::need_more);
    break;
  case PrereadVerdict::done:
    check(!steps.proxy_header || r.consumed > 0);
    check(r.name_size <= kServerNameMaxSize);
    check(steps.client_hello || r.name_size == 0);
    break;
  case PrereadVerdict::bad_proxy_header:
    check(steps.proxy_header && r.consumed == 0);
    check(r.reason != nullptr && r.reason[0] != '\0');
    break;
  case PrereadVerdict::bad_client_hello:
    check(steps.client_hello);
    check(r.reason != nullptr && r.reason[0] != '\0');
    break;
  }
  return 0;
}
