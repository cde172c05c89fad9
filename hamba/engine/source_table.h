// Per-source limits (per_source: maxconn, rate): one table per frontend, shared by every worker,
// lock-free. A connection takes a place at accept (or after its PROXY header) and gives it back
// when it ends:
//
//     SourceTable::Admission a = table.admit(address, now_ms, limits);
//     if (a.refusal) refuse;                     // source_maxconn or source_rate
//     ... later, once: table.release(a.slot);   // a.slot == kNoSlot: nothing to give back
//
// A source is an IPv4 address, or the first `ipv6_prefix` bits of an IPv6 one. Its id (64 bits:
// exact for IPv4 and for prefixes up to /64, hashed beyond) is mixed with a key chosen at
// random at start and picks ONE slot; the slot holds a tag of the id, and two words:
//
//   state: tag (44 bits) | connections open (20 bits)     -- maxconn
//   rate:  tag (16 bits) | window number (24) | count (24) -- rate, fixed windows
//
// Why maxconn is exact across workers without a lock: every change of a slot's `state` is one
// compare-and-swap of the whole word. Admitting checks the tag and the count and adds one in
// the same CAS, so two workers racing at count maxconn-1 cannot both succeed. A slot changes
// owner (a new tag) only by a CAS from count 0, so it never changes under an open connection,
// and release() is a plain decrement. Since a source has exactly one possible slot, no source
// can ever be counted in two places (the trouble with probing under concurrent inserts).
//
// The rate counts the connections admitted in fixed windows of rate_window (the window number
// is loop time / window): at most `rate` in any window, so at most 2 x rate in any span of one
// window that straddles a boundary ("exact within one window"). A connection refused for the
// rate is not counted (a source that slows down gets in again at the next window).
//
// The bound and eviction: the table has table_size slots rounded up to a power of two, allocated
// once (pages are touched as sources arrive). A new source takes its slot when the slot is free,
// or when its owner has no connection open and no rate window still running (it was last seen
// more than a window ago): that owner is forgotten, having nothing left to count. A slot whose
// owner is still active is kept, and the newcomer is not tracked: it is admitted, and counted
// in `untracked` (stats). With a table far larger than the sources active at once (the default:
// 131 072 slots, 24 bytes each, 3 MiB) that is rare; an attacker cannot aim at a slot (the key
// is random) and being untracked only ever spares a source, never refuses one.
#pragma once

#include "base/cidr.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace hamba::engine {

enum class Refusal : uint8_t;

class SourceTable {
public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  static constexpr uint32_t kMaxConn = (1u << 20) - 1; // the count's bits
  static constexpr uint32_t kMaxRate = (1u << 24) - 1;

  // `table_size` sources at most (rounded up to a power of two), IPv6 grouped by `ipv6_prefix`.
  SourceTable(size_t table_size, unsigned ipv6_prefix);
  SourceTable(const SourceTable&) = delete;
  SourceTable& operator=(const SourceTable&) = delete;

  struct Limits {
    uint32_t maxconn = 0; // 0: none
    uint32_t rate = 0;    // admitted per window; 0: none
    uint64_t window_ms = 1000;
  };
  struct Admission {
    std::optional<Refusal> refusal;
    uint32_t slot = kNoSlot; // admitted and tracked: give it back with release()
  };
  // Admits a connection from `source` at loop time `now_ms`, or says which limit refuses it.
  Admission admit(const Address128& source, uint64_t now_ms, const Limits& limits);
  // The connection admitted into `slot` ended (kNoSlot: nothing to do).
  void release(uint32_t slot);

  // For /stats.json: the sources with the most connections open, and with the most admitted in
  // their current window (read on the main loop while workers write: a moment's view).
  struct Top {
    Address128 source; // the group's first address for an IPv6 prefix
    uint32_t current = 0;
    uint32_t in_window = 0;
  };
  std::vector<Top> top_by_current(size_t n) const;
  std::vector<Top> top_by_rate(size_t n, uint64_t now_ms, uint64_t window_ms) const;

  size_t slots() const { return mask_ + 1; }
  // What the table takes in memory when every slot is in use.
  size_t bytes() const { return slots() * sizeof(Slot) + sizeof(*this); }
  unsigned ipv6_prefix() const { return ipv6_prefix_; }
  uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }
  // Slots that have had an owner since the start (for the memory test and stats).
  size_t used_slots() const;

private:
  // 24 bytes; the table is an array of them, zeroed by calloc (so its pages are touched only
  // as sources arrive) and always accessed through std::atomic_ref.
  struct Slot {
    uint64_t state; // tag44 << 20 | connections open; 0: never used
    uint64_t rate;  // tag16 << 48 | window << 24 | admitted in that window
    uint64_t id;    // the owner's source id, for stats
  };
  struct Free {
    void operator()(Slot* p) const;
  };

  struct Place {
    uint32_t slot;
    uint64_t tag44; // never 0 (0 marks a free slot)
    uint64_t tag16;
  };
  uint64_t id_of(const Address128& source) const;
  Address128 address_of_id(uint64_t id) const;
  Place place_of(uint64_t id) const;

  std::unique_ptr<Slot[], Free> slots_;
  size_t mask_ = 0;
  unsigned ipv6_prefix_ = 64;
  uint64_t key_ = 0;
  std::atomic<uint64_t> untracked_{0};
};

// A connection's place in a SourceTable: given back once, by release() or at destruction. Holds
// the table, so a place taken before a reconfigure replaced it goes back where it was taken.
class SourcePlace {
public:
  SourcePlace() = default;
  SourcePlace(std::shared_ptr<SourceTable> table, uint32_t slot)
      : table_(slot == SourceTable::kNoSlot ? nullptr : std::move(table)), slot_(slot) {}
  SourcePlace(SourcePlace&& other) noexcept
      : table_(std::move(other.table_)), slot_(std::exchange(other.slot_, SourceTable::kNoSlot)) {}
  SourcePlace& operator=(SourcePlace&& other) noexcept {
    if (this != &other) {
      release();
      table_ = std::move(other.table_);
      slot_ = std::exchange(other.slot_, SourceTable::kNoSlot);
    }
    return *this;
  }
  ~SourcePlace() { release(); }
  void release() {
    if (table_)
      table_->release(slot_);
    table_.reset();
    slot_ = SourceTable::kNoSlot;
  }
  bool held() const { return table_ != nullptr; }

private:
  std::shared_ptr<SourceTable> table_;
  uint32_t slot_ = SourceTable::kNoSlot;
};

} // namespace hamba::engine
