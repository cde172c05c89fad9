// Consistent hashing for `balance: source`: the same client address lands on the same server,
// and a change of servers moves as few clients as it can.
//
//     MaglevTable table(keys, weights);          // keys: stable server names ("10.0.0.1:80")
//     size_t i = table.pick(hash_client(addr), [&](size_t s) { return usable(s); });
//
// The table is Maglev's (Eisenbud et al., NSDI 2016): a prime number of slots, each holding a
// server; every server fills the slots in the order of its own pseudo-random permutation, taking
// turns (in proportion to weight), until all are taken. A lookup is one hash and one array
// read. Adding or removing one of N servers moves about 1/N of the clients (plus a little: the
// table measured against a ring in bench/source_hash.cpp and bench/README.md).
//
// Servers that are down, draining or full stay in the table; a client whose slot holds one
// walks on to the next slots until it finds a usable server. The others' clients do not move,
// and the stranded clients spread over the rest as evenly as the table does (the next slot
// holds a pseudo-random server). With maxconn as the bound this is consistent hashing with
// bounded loads (Mirrokni et al., 2016): a full server passes its new clients on.
//
// Build the table again only when the set of servers or their weights change; up/down and
// admin state need no rebuild. Immutable once built: worker loops may share one.
#pragma once

#include "balance/weights.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace hamba::balance {

// A 64-bit hash of `bytes` (FNV-1a, then a strong finalizer), stable across runs and builds so
// that a restarted or reconfigured hamba sends each client where it went before.
uint64_t hash_bytes(std::string_view bytes, uint64_t seed = 0);

// The hash of a client's IP address (not its port). An IPv4-mapped IPv6 address (an IPv4
// client of a dual-stack listener) hashes as the IPv4 address it is.
uint64_t hash_client(const sockaddr* address);

class MaglevTable {
public:
  // Slots: a fixed prime, the paper's 65537, so that adding or removing a server never changes
  // the table's size (a new size would move nearly every client). 128 KiB per table; each
  // server's share is within about N / 65537 of its weight's.
  static constexpr size_t kSlots = 65537;

  MaglevTable() = default;
  // `keys` name the servers (index i of keys is server i); their order does not matter, the
  // same keys and weights give the same table. `weights` are configured weights (1..256);
  // empty means all 1. `slots` must be a prime above the number of servers.
  explicit MaglevTable(std::span<const std::string> keys, std::span<const int> weights = {},
                       size_t slots = kSlots);

  size_t servers() const { return servers_; }
  size_t slots() const { return slots_.size(); }

  // The server of `hash` when every server is usable (kNoPick for an empty table).
  size_t lookup(uint64_t hash) const {
    return slots_.empty() ? kNoPick : slots_[hash % slots_.size()];
  }

  // The server for `hash`: its own slot's if usable(server), else the next slot's that is.
  // kNoPick when none is (it gives up after walking the whole table).
  template <typename Usable> size_t pick(uint64_t hash, Usable&& usable) const {
    size_t n = slots_.size();
    if (n == 0)
      return kNoPick;
    size_t at = hash % n;
    for (size_t k = 0; k < n; ++k) {
      size_t server = slots_[at];
      if (usable(server))
        return server;
      at = at + 1 == n ? 0 : at + 1;
    }
    return kNoPick;
  }

  // How many slots each server holds (for tests and stats).
  std::vector<size_t> shares() const;

private:
  size_t servers_ = 0;
  std::vector<uint16_t> slots_; // server index per slot; at most 65535 servers
};

} // namespace hamba::balance
