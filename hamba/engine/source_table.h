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
// random at start, which picks its BUCKET: kWays slots that share a cache line for what every
// admission touches. A slot is four words:
//
//   state: tag (44 bits) | connections open (20 bits)     -- maxconn; 0: a free slot
//   seen:  loop time of the owner's last admission         -- the least recently seen goes first
//   rate:  tag (16 bits) | window number (24) | count (24) -- rate, fixed windows
//   id:    the owner's source id                           -- for the stats
//
// Admission: a source uses its own slot in its bucket (the first that holds its tag); else it
// claims a free slot, or the least recently seen slot whose owner has no connection open (that
// owner is forgotten; if its rate window was still running, that count is lost: see below).
// When every slot of the bucket has a connection open, the newcomer is admitted untracked and
// counted (`untracked`): never refused for another source's count.
//
// Why maxconn is exact across workers without a lock. Every change of a `state` is one
// compare-and-swap of the whole word, and a slot changes owner only by a CAS from a count of 0,
// so a slot never changes owner under an open connection, and release() is a plain decrement.
// Within one slot, checking the count against maxconn and adding one is that one CAS: two
// workers at count maxconn-1 cannot both succeed. The danger is two slots: two workers admit
// the same new source at once, both find it absent, and claim two different slots (each saw a
// different slot free, as connections of other sources ended in between). So every admission,
// after its CAS (claim or +1) and before it counts as admitted, looks at the bucket's other
// slots: a slot with its tag and a count of 0 is freed (a stale twin: CAS to 0); one with its
// tag and a count above 0 makes it give way: it takes its +1 back (freeing the slot if the
// count was its own) and starts again, and the next scan finds the first slot with its tag.
// Two admissions A (in slot a) and B (in slot b) of one source cannot both succeed: A's
// write to a comes before its read of b, and B's write to b before its read of a (program
// order, all sequentially consistent). For both to pass, A's read of b comes before B's write
// to b (after it, b holds the tag and a count of at least 1 until B's connection ends), and
// likewise B's read of a before A's write to a: a cycle, impossible in the one total order of
// seq_cst operations. So the connections a source has open are all counted in ONE slot, and
// that slot's count is never above maxconn. Giving way costs a retry at most; two workers that
// both give way meet in one slot at the next scan (the unit tests replay that race step by
// step). A source still moving after kMaxAttempts (not seen in any test) is admitted untracked,
// and counted.
//
// The rate counts the connections admitted in fixed windows of rate_window (the window number
// is loop time / window): at most `rate` in any window, so at most 2 x rate in any span of one
// window that straddles a boundary ("exact within one window"). A connection refused for the
// rate is not counted (a source that slows down gets in again at the next window). A window
// still running is lost only when its source is evicted: when kWays sources seen more recently
// have taken its bucket; with a table sized for the sources active within a window, that is rare.
//
// The bound: table_size sources, in table_size / kWays buckets (rounded up), 32 bytes a source,
// allocated once and zeroed by the allocator (pages are touched as sources arrive). 100 000
// (the default): 25 000 buckets, 3.05 MiB. An attacker cannot aim at a bucket (the key is
// random), and being untracked only ever spares a source, never refuses one.
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
  static constexpr unsigned kWays = 4;         // slots a bucket
  static constexpr unsigned kMaxAttempts = 16; // admissions that give way before untracked

  // `table_size` sources at most (rounded up to a whole bucket), IPv6 grouped by `ipv6_prefix`.
  SourceTable(size_t table_size, unsigned ipv6_prefix);
  // The slots a table made for `table_size` has.
  static size_t slots_for(size_t table_size);
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

  size_t slots() const { return buckets_ * kWays; }
  // What the table takes in memory when every slot is in use (its one allocation and itself).
  size_t bytes() const { return buckets_ * sizeof(Bucket) + kAlignSlack + sizeof(*this); }
  unsigned ipv6_prefix() const { return ipv6_prefix_; }
  uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }
  // Slots that have an owner, busy or idle (for the memory test and stats).
  size_t used_slots() const;

  // For the unit tests alone (nullptr in hamba): called between the steps of an admission where
  // another worker may act, so that a test can replay a race step by step.
  enum class Step : uint8_t {
    scanned, // its bucket read: its own slot, or the one it will claim, chosen
    counted, // its CAS done (claimed, or +1), the bucket's other slots not looked at yet
  };
  void set_step_hook(void (*hook)(Step, void*), void* arg) {
    step_hook_ = hook;
    step_arg_ = arg;
  }

private:
  // kWays slots, as parallel words: the states and times every admission reads and writes share
  // the first cache line, the rate and ids the second. Zeroed by calloc (so a large table's
  // pages are touched only as sources arrive) and always accessed through std::atomic_ref.
  struct alignas(64) Bucket {
    uint64_t state[kWays]; // tag44 << 20 | connections open; 0: free
    uint64_t seen[kWays];  // loop time (ms) of the owner's last admission or refusal
    uint64_t rate[kWays];  // tag16 << 48 | window << 24 | admitted in that window
    uint64_t id[kWays];    // the owner's source id, for stats
  };
  static_assert(sizeof(Bucket) == 128);
  static constexpr size_t kAlignSlack = 64; // calloc aligns to 16: the buckets start further on
  struct Free {
    void operator()(void* p) const;
  };

  struct Place {
    uint32_t bucket;
    uint64_t tag44; // never 0 (0 marks a free slot)
    uint64_t tag16;
  };
  // The scan of a bucket: the source's own slot (the first with its tag), else the slot it
  // would claim (free, or idle and least recently seen), else neither (all busy).
  struct Found {
    int own = -1;
    int victim = -1;
    uint64_t state = 0; // what that slot held
  };
  uint64_t id_of(const Address128& source) const;
  Address128 address_of_id(uint64_t id) const;
  Place place_of(uint64_t id) const;
  static Found scan(Bucket& b, uint64_t tag44);
  static bool alone(Bucket& b, unsigned way, uint64_t tag44);
  static void give_way(Bucket& b, unsigned way);
  bool count_rate(Bucket& b, unsigned way, const Place& p, uint64_t window, uint32_t rate);
  void step(Step s) const {
    if (step_hook_) [[unlikely]]
      step_hook_(s, step_arg_);
  }
  template <typename Each> void for_each_slot(Each each) const;

  std::unique_ptr<void, Free> memory_;
  Bucket* table_ = nullptr;
  size_t buckets_ = 0;
  unsigned ipv6_prefix_ = 64;
  uint64_t key_ = 0;
  std::atomic<uint64_t> untracked_{0};
  void (*step_hook_)(Step, void*) = nullptr;
  void* step_arg_ = nullptr;
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
