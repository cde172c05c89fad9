// Address ranges (CIDRs) and sets of them, for the allow and deny lists and the trusted PROXY
// senders (accept_proxy.from):
//
//     CidrSet set(parse_cidr_list("10.0.0.0/8\n2001:db8::/32  # lab\n"));
//     if (set.contains(peer_sockaddr)) ...   // O(log n): a binary search over merged ranges
//
// Every address is held as 128 bits: IPv6 as it is, IPv4 as its v4-mapped form
// (::ffff:a.b.c.d), so that "10.0.0.0/8" matches a client that reached a dual-stack socket as
// ::ffff:10.1.2.3, and a v4-mapped range written in the file ("::ffff:10.0.0.0/104") is the
// same range and prints as "10.0.0.0/8".
//
// A set is a sorted vector of disjoint, non-adjacent [first, last] ranges (overlapping and
// touching CIDRs merged when it is built): 32 bytes a range, whatever the prefixes, and one
// binary search a lookup. Immutable once built; shared read-only by every worker.
//
// No I/O here: the list file is read by config/ and its text given to parse_cidr_list(), which
// the fuzz target (tests/fuzz/fuzz_cidr_list.cpp) drives alone.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace hamba {

// An address as 128 bits, most significant word first; IPv4 as ::ffff:a.b.c.d.
struct Address128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  auto operator<=>(const Address128&) const = default;
  // Written IPv4 (v4-mapped) or IPv6 the usual way.
  bool v4() const { return hi == 0 && (lo >> 32) == 0xffff; }
  // The first `bits` bits kept, the others zero (bits 0-128).
  Address128 prefix(unsigned bits) const;
};

// The address of an AF_INET or AF_INET6 sockaddr; nullopt for any other family.
std::optional<Address128> address_of(const sockaddr* address);
// "10.1.2.3" for a v4-mapped address, "2001:db8::1" otherwise.
std::string format_address(const Address128& a);

struct Cidr {
  Address128 base;  // host bits zero
  uint8_t bits = 0; // prefix length in the 128-bit form: an IPv4 /8 is 104
  bool operator==(const Cidr&) const = default;
  Address128 first() const { return base; }
  Address128 last() const;
};

// "10.0.0.0/8", "10.1.2.3" (a /32), "2001:db8::/32", "::1" (a /128), "::ffff:10.0.0.0/104"
// (v4-mapped: the same as 10.0.0.0/8). Host bits set ("10.1.2.3/8") are an error, as is any
// blank inside. nullopt when `text` is none of these; `why` (when given) then says what is wrong.
std::optional<Cidr> parse_cidr(std::string_view text, std::string* why = nullptr);
// As written by an operator: "10.0.0.0/8", "10.1.2.3/32", "2001:db8::/32".
std::string format_cidr(const Cidr& c);

// A list file's content that is not a list of CIDRs: line and column count from 1.
class CidrListError : public std::runtime_error {
public:
  CidrListError(size_t line, size_t column, const std::string& message);
  size_t line;
  size_t column;
};

// One CIDR a line; blanks around it, empty lines and `#` comments (whole-line or after the
// CIDR) are ignored. Throws CidrListError at the first bad word. At most kMaxLineBytes a line.
std::vector<Cidr> parse_cidr_list(std::string_view text);
constexpr size_t kMaxLineBytes = 4096;

class CidrSet {
public:
  CidrSet() = default;
  explicit CidrSet(std::span<const Cidr> cidrs);

  bool contains(const Address128& a) const;
  // False for a family that is neither AF_INET nor AF_INET6.
  bool contains(const sockaddr* address) const;
  bool empty() const { return first_.empty(); }
  // Disjoint ranges after merging (at most the CIDRs given).
  size_t ranges() const { return first_.size(); }
  // What the ranges take in memory (the lookup's whole state).
  size_t bytes() const { return (first_.capacity() + last_.capacity()) * sizeof(Address128); }
  bool operator==(const CidrSet&) const = default;

private:
  // Kept apart so that the binary search walks only the starts (one cache line holds four).
  std::vector<Address128> first_;
  std::vector<Address128> last_;
};

} // namespace hamba
