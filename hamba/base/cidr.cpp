// Parsing, printing and looking up CIDRs; see cidr.h.
#include "base/cidr.h"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>

namespace hamba {

namespace {

Address128 from_bytes(const uint8_t* b) {
  Address128 a;
  for (int i = 0; i < 8; ++i)
    a.hi = a.hi << 8 | b[i];
  for (int i = 8; i < 16; ++i)
    a.lo = a.lo << 8 | b[i];
  return a;
}

Address128 from_v4(uint32_t host_order) {
  return {0, 0xffff00000000ULL | host_order};
}

// The address with every bit after the first `bits` set.
Address128 fill_host_bits(const Address128& a, unsigned bits) {
  Address128 r = a;
  if (bits < 64) {
    r.hi |= bits == 0 ? ~0ULL : (~0ULL >> bits);
    r.lo = ~0ULL;
  } else if (bits < 128) {
    r.lo |= ~0ULL >> (bits - 64);
  }
  return r;
}

bool increment(Address128& a) { // false when it wraps (a was the last address)
  if (++a.lo != 0)
    return true;
  return ++a.hi != 0;
}

bool set_why(std::string* why, std::string text) {
  if (why)
    *why = std::move(text);
  return false;
}

} // namespace

Address128 Address128::prefix(unsigned bits) const {
  Address128 r = *this;
  if (bits == 0)
    return {};
  if (bits < 64) {
    r.hi &= ~0ULL << (64 - bits);
    r.lo = 0;
  } else if (bits == 64) {
    r.lo = 0;
  } else if (bits < 128) {
    r.lo &= ~0ULL << (128 - bits);
  }
  return r;
}

Address128 Cidr::last() const {
  return fill_host_bits(base, bits);
}

std::optional<Address128> address_of(const sockaddr* address) {
  if (!address)
    return std::nullopt;
  if (address->sa_family == AF_INET)
    return from_v4(ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr));
  if (address->sa_family == AF_INET6)
    return from_bytes(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr.s6_addr);
  return std::nullopt;
}

namespace {
std::string format_v6(const Address128& a) {
  char text[INET6_ADDRSTRLEN];
  in6_addr v6{};
  for (int i = 0; i < 8; ++i) {
    v6.s6_addr[i] = static_cast<uint8_t>(a.hi >> (56 - 8 * i));
    v6.s6_addr[8 + i] = static_cast<uint8_t>(a.lo >> (56 - 8 * i));
  }
  ::inet_ntop(AF_INET6, &v6, text, sizeof text);
  return text;
}
} // namespace

std::string format_address(const Address128& a) {
  if (!a.v4())
    return format_v6(a);
  char text[INET_ADDRSTRLEN];
  in_addr v4{htonl(static_cast<uint32_t>(a.lo))};
  ::inet_ntop(AF_INET, &v4, text, sizeof text);
  return text;
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string* why) {
  const size_t slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) {
    set_why(why, fmt::format("'{}' is not an address or a CIDR (write 10.0.0.0/8 or 2001:db8::/32)",
                             text));
    return std::nullopt;
  }
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, host.data(), host.size());
  buffer[host.size()] = '\0';
  Cidr c;
  unsigned max_bits = 128;
  in_addr v4{};
  in6_addr v6{};
  if (::inet_pton(AF_INET, buffer, &v4) == 1) {
    c.base = from_v4(ntohl(v4.s_addr));
    max_bits = 32;
  } else if (::inet_pton(AF_INET6, buffer, &v6) == 1) {
    c.base = from_bytes(v6.s6_addr);
  } else {
    set_why(why, fmt::format("'{}' is not an address or a CIDR (write 10.0.0.0/8 or 2001:db8::/32)",
                             text));
    return std::nullopt;
  }
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view length = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bits);
    if (length.empty() || ec != std::errc{} || end != length.data() + length.size() ||
        bits > max_bits) {
      set_why(why,
              fmt::format("'{}': the prefix length must be a number from 0 to {}", text, max_bits));
      return std::nullopt;
    }
  }
  c.bits = static_cast<uint8_t>(max_bits == 32 ? bits + 96 : bits);
  if (c.base.prefix(c.bits) != c.base) {
    Cidr meant{c.base.prefix(c.bits), c.bits};
    set_why(why,
            fmt::format("'{}' has bits set after the prefix: write {}", text, format_cidr(meant)));
    return std::nullopt;
  }
  return c;
}

std::string format_cidr(const Cidr& c) {
  if (c.base.v4() && c.bits >= 96)
    return fmt::format("{}/{}", format_address(c.base), c.bits - 96);
  return fmt::format("{}/{}", format_v6(c.base), c.bits);
}

CidrListError::CidrListError(size_t line_, size_t column_, const std::string& message)
    : std::runtime_error(message), line(line_), column(column_) {}

std::vector<Cidr> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> cidrs;
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    ++line_number;
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    const size_t line_start = start;
    start = end + 1;
    if (line.size() > kMaxLineBytes)
      throw CidrListError(line_number, 1, fmt::format("line longer than {} bytes", kMaxLineBytes));
    if (size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos)
      continue;
    const size_t last = line.find_last_not_of(" \t\r");
    const std::string_view word = line.substr(first, last - first + 1);
    const size_t column = line.data() + first - (text.data() + line_start) + 1;
    if (word.find_first_of(" \t") != std::string_view::npos)
      throw CidrListError(line_number, column,
                          fmt::format("'{}': one CIDR a line", word.substr(0, 64)));
    std::string why;
    std::optional<Cidr> c = parse_cidr(word, &why);
    if (!c)
      throw CidrListError(line_number, column, why);
    cidrs.push_back(*c);
  }
  return cidrs;
}

CidrSet::CidrSet(std::span<const Cidr> cidrs) {
  std::vector<std::pair<Address128, Address128>> ranges;
  ranges.reserve(cidrs.size());
  for (const Cidr& c : cidrs)
    ranges.emplace_back(c.first(), c.last());
  std::sort(ranges.begin(), ranges.end());
  for (const auto& [first, last] : ranges) {
    if (!last_.empty()) {
      Address128 after = last_.back();
      // Overlapping or touching the range before (or that one ends at the last address).
      if (!increment(after) || first <= after) {
        last_.back() = std::max(last_.back(), last);
        continue;
      }
    }
    first_.push_back(first);
    last_.push_back(last);
  }
  first_.shrink_to_fit();
  last_.shrink_to_fit();
}

bool CidrSet::contains(const Address128& a) const {
  // The last range that starts at or before `a`, if `a` is within it.
  auto after = std::upper_bound(first_.begin(), first_.end(), a);
  if (after == first_.begin())
    return false;
  return a <= last_[static_cast<size_t>(after - first_.begin() - 1)];
}

bool CidrSet::contains(const sockaddr* address) const {
  std::optional<Address128> a = address_of(address);
  return a && contains(*a);
}

} // namespace hamba
