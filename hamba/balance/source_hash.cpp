// Client address hashing and the Maglev lookup table; see source_hash.h.
#include "balance/source_hash.h"

#include "base/bit_mix.h"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>
#include <numeric>
#include <stdexcept>

namespace hamba::balance {

uint64_t hash_bytes(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ bit_mix(seed);
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return bit_mix(h);
}

uint64_t hash_client(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return hash_bytes({reinterpret_cast<const char*>(&in->sin_addr), sizeof in->sin_addr});
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    const auto* bytes = reinterpret_cast<const char*>(&in6->sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
      return hash_bytes({bytes + 12, 4});
    return hash_bytes({bytes, sizeof in6->sin6_addr});
  }
  return 0; // a Unix socket or something else without an address: all one client
}

MaglevTable::MaglevTable(std::span<const std::string> keys, std::span<const int> weights,
                         size_t slots) {
  servers_ = keys.size();
  if (servers_ == 0)
    return;
  if (servers_ >= slots || servers_ > 65535)
    throw std::invalid_argument("a source hash table needs more slots than servers (at most "
                                "65535 servers)");
  size_t m = slots;

  // Fill in the order of the keys, not of the caller's list, so the same servers give the same
  // table however the configuration or DNS lists them.
  std::vector<size_t> order(servers_);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });

  struct Filler {
    size_t server;
    uint64_t position, skip; // the next slot of its permutation: offset + j * skip (mod m)
    uint32_t weight, credit = 0;
    void advance(uint64_t m) {
      position += skip;
      if (position >= m)
        position -= m;
    }
  };
  std::vector<Filler> fillers;
  uint32_t max_weight = 1;
  for (size_t i : order) {
    uint32_t w = weights.empty() ? 1 : static_cast<uint32_t>(std::max(weights[i], 1));
    max_weight = std::max(max_weight, w);
    fillers.push_back({i, hash_bytes(keys[i], 1) % m, hash_bytes(keys[i], 2) % (m - 1) + 1, w});
  }

  constexpr uint16_t kEmpty = 0xffff;
  std::vector<uint16_t> table(m, kEmpty);
  size_t filled = 0;
  while (filled < m) {
    for (Filler& f : fillers) {
      // Weighted turns: each round a filler earns its weight and takes one slot per max_weight
      // earned, so the heaviest takes a slot every round and weight w one every max/w rounds.
      f.credit += f.weight;
      while (f.credit >= max_weight && filled < m) {
        f.credit -= max_weight;
        while (table[f.position] != kEmpty)
          f.advance(m);
        table[f.position] = static_cast<uint16_t>(f.server);
        f.advance(m);
        ++filled;
      }
      if (filled == m)
        break;
    }
  }
  slots_ = std::move(table);
}

std::vector<size_t> MaglevTable::shares() const {
  std::vector<size_t> out(servers_, 0);
  for (uint16_t s : slots_)
    ++out[s];
  return out;
}

} // namespace hamba::balance
