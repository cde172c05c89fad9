// What a failed HAMBA_CHECK does; see check.h.
#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace hamba::base {

void check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "hamba: internal error: %s:%d: check failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

} // namespace hamba::base
