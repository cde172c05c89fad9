// Fuzz target for the http health check's reply parser (balance/http_check.h): any bytes from a
// server give the same verdict and detail whether they come whole or split at any point, the
// detail is always printable, and a pass always has a status in the expected range.
#include "balance/http_check.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace hamba::balance;
using fuzz::check;

namespace {

// Feeds `parts` in order, then EOF if still undecided.
Verdict run(HttpCheck& c, std::string_view a, std::string_view b) {
  Verdict v = c.feed(a);
  if (v == Verdict::more)
    v = c.feed(b);
  return v == Verdict::more ? c.end() : v;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1)
    return 0;
  // The first byte picks the split point of the rest.
  std::string_view reply(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t cut = reply.empty() ? 0 : data[0] % (reply.size() + 1);
  StatusRange range{200, 399};
  HttpCheck whole("/", "h", range), split("/", "h", range);
  Verdict vw = run(whole, reply, {});
  Verdict vs = run(split, reply.substr(0, cut), reply.substr(cut));
  check(vw == vs);
  check(vw != Verdict::more);
  check(whole.detail() == split.detail());
  for (char c : whole.detail())
    check(c >= 0x20 && c < 0x7f);
  if (vw == Verdict::pass)
    check(range.contains(whole.status()));
  return 0;
}
