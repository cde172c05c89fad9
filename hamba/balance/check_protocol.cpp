// Helpers shared by the check protocols; see check_protocol.h.
#include "balance/check_protocol.h"

namespace hamba::balance {

std::string printable(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

} // namespace hamba::balance
