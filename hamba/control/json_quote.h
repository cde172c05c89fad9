// A JSON string literal for any text: the one escaping rule shared by /stats.json and the JSON
// connection log (no JSON library is worth a dependency for writing flat records).
#pragma once

#include <fmt/format.h>
#include <string>

namespace hamba::control {

// `text` as a JSON string, quotes included; control characters as \u00XX.
inline std::string json_quote(const std::string& text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

} // namespace hamba::control
