// Fuzz target for the allow and deny lists' parser (base/cidr.h): a list file's text, and each
// of its lines as one CIDR. A list either throws CidrListError at a line and column inside the
// text, or gives CIDRs that print as words parsing back to themselves; the set built from them
// agrees with a linear scan at each range's edges.
#include "base/cidr.h"
#include "fuzz_check.h"

#include <cstdint>
#include <string>

using namespace hamba;
using fuzz::check;

namespace {

bool in_any(const std::vector<Cidr>& cidrs, const Address128& a) {
  for (const Cidr& c : cidrs)
    if (c.first() <= a && a <= c.last())
      return true;
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  std::string why;
  if (std::optional<Cidr> c = parse_cidr(text, &why)) {
    check(c->base.prefix(c->bits) == c->base);
    std::optional<Cidr> back = parse_cidr(format_cidr(*c));
    check(back && *back == *c);
  } else {
    check(!why.empty());
  }

  std::vector<Cidr> cidrs;
  try {
    cidrs = parse_cidr_list(text);
  } catch (const CidrListError& e) {
    check(e.line >= 1 && e.column >= 1 && e.line <= size + 1);
    return 0;
  }
  check(cidrs.size() <= size / 3 + 1); // "::" is the shortest CIDR, then a newline
  CidrSet set(cidrs);
  check(set.ranges() <= cidrs.size());
  for (const Cidr& c : cidrs) {
    std::optional<Cidr> back = parse_cidr(format_cidr(c));
    check(back && *back == c);
    check(set.contains(c.first()) && set.contains(c.last()));
    Address128 before = c.first(), after = c.last();
    if (before.lo-- == 0)
      --before.hi;
    if (++after.lo == 0)
      ++after.hi;
    check(set.contains(before) == in_any(cidrs, before));
    check(set.contains(after) == in_any(cidrs, after));
  }
  return 0;
}
