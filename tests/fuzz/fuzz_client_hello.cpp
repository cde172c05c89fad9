// Fuzz target for the ClientHello peeker (net/tls_client_hello.h): any bytes give one of the
// four answers, need_more only under the 16 KiB bound, a name only of DNS characters, and no
// answer other than need_more for a prefix of bytes that were still incomplete.
#include "fuzz_check.h"
#include "net/tls_client_hello.h"

#include <cstdint>

using namespace hamba::net;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  ClientHelloResult r = peek_client_hello(bytes, size);
  switch (r.status) {
  case ClientHelloStatus::need_more:
    check(size < kClientHelloMaxBytes);
    if (size > 0) // fewer bytes cannot have been more complete
      check(peek_client_hello(bytes, size - 1).status == ClientHelloStatus::need_more);
    break;
  case ClientHelloStatus::done:
    check(r.name_size <= kServerNameMaxSize);
    for (char ch : r.server_name())
      check((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
            ch == '.');
    break;
  case ClientHelloStatus::not_tls:
  case ClientHelloStatus::malformed:
    check(r.reason != nullptr && r.reason[0] != '\0');
    break;
  }
  return 0;
}
