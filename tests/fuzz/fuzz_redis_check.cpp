// Fuzz target for the redis health check's reply parser (balance/redis_check.h): any bytes give
// the same verdict and detail whole or split at any point, a printable detail, and a pass only
// for a reply that starts with +PONG and a line end.
#include "balance/redis_check.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace hamba::balance;
using fuzz::check;

namespace {

Verdict run(RedisCheck& c, std::string_view a, std::string_view b) {
  Verdict v = c.feed(a);
  if (v == Verdict::more)
    v = c.feed(b);
  return v == Verdict::more ? c.end() : v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  std::string_view reply(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t cut = reply.empty() ? 0 : data[0] % (reply.size() + 1);
  RedisCheck whole, split;
  Verdict vw = run(whole, reply, {});
  Verdict vs = run(split, reply.substr(0, cut), reply.substr(cut));
  check(vw == vs);
  check(vw != Verdict::more);
  check(whole.detail() == split.detail());
  for (char c : whole.detail())
    check(c >= 0x20 && c < 0x7f);
  if (vw == Verdict::pass)
    check(reply.starts_with("+PONG\r\n") || reply.starts_with("+PONG\n"));
  return 0;
}
