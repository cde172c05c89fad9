// The per-source table; see source_table.h for the layout and why it is exact.
#include "engine/source_table.h"

#include "base/bit_mix.h"
#include "engine/admission.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>

namespace hamba::engine {

namespace {

constexpr uint64_t kCountBits = 20;
constexpr uint64_t kCountMask = (1ULL << kCountBits) - 1;
constexpr uint64_t kWindowMask = (1ULL << 24) - 1;
// IPv4 ids: a block no routable IPv6 /64 uses (0:ffff::/32), so the two families never meet.
constexpr uint64_t kV4Id = 0x0000ffff00000000ULL;

std::atomic_ref<uint64_t> atomic(uint64_t& word) {
  return std::atomic_ref<uint64_t>(word);
}
uint64_t load(const uint64_t& word) { // for stats, on the main loop
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(word)).load(std::memory_order_relaxed);
}

uint64_t window_of(uint64_t now_ms, uint64_t window_ms) {
  return (now_ms / std::max<uint64_t>(window_ms, 1)) & kWindowMask;
}

} // namespace

void SourceTable::Free::operator()(void* p) const {
  std::free(p);
}

size_t SourceTable::slots_for(size_t table_size) {
  return (std::max<size_t>(table_size, 1) + kWays - 1) / kWays * kWays;
}

SourceTable::SourceTable(size_t table_size, unsigned ipv6_prefix)
    : buckets_(slots_for(table_size) / kWays), ipv6_prefix_(std::clamp(ipv6_prefix, 1u, 128u)) {
  // Zeroed by the allocator: a large table is fresh pages, touched only as sources arrive.
  memory_.reset(std::calloc(1, buckets_ * sizeof(Bucket) + kAlignSlack));
  if (!memory_)
    throw std::bad_alloc();
  void* start = memory_.get();
  size_t space = buckets_ * sizeof(Bucket) + kAlignSlack;
  table_ =
      static_cast<Bucket*>(std::align(alignof(Bucket), buckets_ * sizeof(Bucket), start, space));
  std::random_device random;
  key_ = (static_cast<uint64_t>(random()) << 32) ^ random();
}

uint64_t SourceTable::id_of(const Address128& source) const {
  if (source.v4())
    return kV4Id | (source.lo & 0xffffffff);
  const Address128 group = source.prefix(ipv6_prefix_);
  if (ipv6_prefix_ <= 64)
    return group.hi;
  return bit_mix(group.hi ^ bit_mix(group.lo)); // longer prefixes: 64 bits of a hash
}

Address128 SourceTable::address_of_id(uint64_t id) const {
  if ((id & 0xffffffff00000000ULL) == kV4Id)
    return Address128{0, 0xffff00000000ULL | (id & 0xffffffff)};
  return Address128{id, 0}; // the group's first address (its first 64 bits beyond /64)
}

SourceTable::Place SourceTable::place_of(uint64_t id) const {
  const uint64_t h = bit_mix(id ^ key_);
  // The bucket comes from the top bits (a multiply, not a modulo: any number of buckets), the
  // tags from the low ones, so two sources in one bucket differ in their tags as much as any.
  const uint64_t bucket = ((h >> 32) * buckets_) >> 32;
  return {static_cast<uint32_t>(bucket), (h & ((1ULL << 44) - 1)) | 1, (h >> 28) & 0xffff};
}

SourceTable::Found SourceTable::scan(Bucket& b, uint64_t tag44) {
  Found f;
  uint64_t oldest = UINT64_MAX;
  for (unsigned w = 0; w < kWays; ++w) {
    const uint64_t state = atomic(b.state[w]).load(std::memory_order_seq_cst);
    if ((state >> kCountBits) == tag44)
      return {static_cast<int>(w), -1, state};
    if ((state & kCountMask) != 0)
      continue;                                             // a connection open: its owner stays
    const uint64_t seen = state == 0 ? 0 : load(b.seen[w]); // a free slot before any owner's
    if (f.victim < 0 || seen < oldest) {
      oldest = seen;
      f.victim = static_cast<int>(w);
      f.state = state;
    }
  }
  return f;
}

bool SourceTable::alone(Bucket& b, unsigned way, uint64_t tag44) {
  for (unsigned w = 0; w < kWays; ++w) {
    if (w == way)
      continue;
    uint64_t state = atomic(b.state[w]).load(std::memory_order_seq_cst);
    while ((state >> kCountBits) == tag44) {
      if ((state & kCountMask) != 0)
        return false; // counted there too: this admission gives way
      if (atomic(b.state[w]).compare_exchange_weak(state, 0, std::memory_order_seq_cst))
        break; // a stale twin with nothing open: freed
    }
  }
  return true;
}

void SourceTable::give_way(Bucket& b, unsigned way) {
  // Takes back this admission's +1; a slot left with nothing open is freed, not kept as a twin.
  uint64_t state = atomic(b.state[way]).load(std::memory_order_seq_cst);
  for (;;) {
    const uint64_t next = (state & kCountMask) == 1 ? 0 : state - 1;
    if (atomic(b.state[way]).compare_exchange_weak(state, next, std::memory_order_seq_cst))
      return;
  }
}

bool SourceTable::count_rate(Bucket& b, unsigned way, const Place& p, uint64_t window,
                             uint32_t limit) {
  uint64_t rate = atomic(b.rate[way]).load(std::memory_order_acquire);
  for (;;) {
    uint64_t next;
    if ((rate >> 48) != p.tag16 || ((rate >> 24) & kWindowMask) != window)
      next = p.tag16 << 48 | window << 24 | 1; // a new window, or a new owner
    else if ((rate & kWindowMask) >= std::min(limit, kMaxRate))
      return false;
    else
      next = rate + 1;
    if (atomic(b.rate[way]).compare_exchange_weak(rate, next, std::memory_order_acq_rel))
      return true;
  }
}

SourceTable::Admission SourceTable::admit(const Address128& source, uint64_t now_ms,
                                          const Limits& limits) {
  const uint64_t id = id_of(source);
  const Place p = place_of(id);
  Bucket& b = table_[p.bucket];
  const uint64_t window = window_of(now_ms, limits.window_ms);
  const uint32_t maxconn = limits.maxconn ? std::min(limits.maxconn, kMaxConn) : kMaxConn;

  for (unsigned attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const Found f = scan(b, p.tag44);
    step(Step::scanned);
    unsigned way;
    if (f.own >= 0) { // its own slot: +1 unless at maxconn
      way = static_cast<unsigned>(f.own);
      uint64_t state = f.state;
      while ((state >> kCountBits) == p.tag44 && (state & kCountMask) < maxconn &&
             !atomic(b.state[way])
                  .compare_exchange_weak(state, state + 1, std::memory_order_seq_cst)) {
      }
      if ((state >> kCountBits) != p.tag44)
        continue; // freed as a twin meanwhile: scan again
      if ((state & kCountMask) >= maxconn) {
        atomic(b.seen[way]).store(now_ms, std::memory_order_relaxed);
        return {Refusal::source_maxconn, kNoSlot};
      }
    } else if (f.victim >= 0) { // a free slot, or the least recently seen idle one's
      way = static_cast<unsigned>(f.victim);
      uint64_t expected = f.state;
      if (!atomic(b.state[way])
               .compare_exchange_strong(expected, p.tag44 << kCountBits | 1,
                                        std::memory_order_seq_cst))
        continue; // taken, or its owner came back: scan again
      atomic(b.id[way]).store(id, std::memory_order_relaxed);
      // A new owner's window starts empty: the last owner's count is not inherited even when
      // its 16-bit tag is the same (1 claim in 65 536). A connection of this source counted in
      // the instant between the claim and this store (another worker) is forgotten: the rate
      // may admit one more then, never refuse one too many.
      if (limits.rate > 0)
        atomic(b.rate[way]).store(p.tag16 << 48 | window << 24, std::memory_order_release);
    } else { // every slot has a connection open
      break;
    }
    step(Step::counted);
    if (!alone(b, way, p.tag44)) {
      give_way(b, way);
      continue;
    }
    atomic(b.seen[way]).store(now_ms, std::memory_order_relaxed);
    if (limits.rate > 0 && !count_rate(b, way, p, window, limits.rate)) {
      release(p.bucket * kWays + way);
      return {Refusal::source_rate, kNoSlot};
    }
    return {std::nullopt, p.bucket * kWays + way};
  }
  untracked_.fetch_add(1, std::memory_order_relaxed);
  return {};
}

void SourceTable::release(uint32_t slot) {
  if (slot == kNoSlot)
    return;
  atomic(table_[slot / kWays].state[slot % kWays]).fetch_sub(1, std::memory_order_acq_rel);
}

template <typename Each> void SourceTable::for_each_slot(Each each) const {
  for (size_t i = 0; i < buckets_; ++i)
    for (unsigned w = 0; w < kWays; ++w)
      each(load(table_[i].state[w]), load(table_[i].rate[w]), table_[i].id[w]);
}

std::vector<SourceTable::Top> SourceTable::top_by_current(size_t n) const {
  std::vector<Top> all;
  for_each_slot([&](uint64_t state, uint64_t, const uint64_t& id) {
    if (const uint32_t count = static_cast<uint32_t>(state & kCountMask); count > 0)
      all.push_back({address_of_id(load(id)), count, 0});
  });
  const size_t k = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const Top& a, const Top& b) { return a.current > b.current; });
  all.resize(k);
  return all;
}

std::vector<SourceTable::Top> SourceTable::top_by_rate(size_t n, uint64_t now_ms,
                                                       uint64_t window_ms) const {
  const uint64_t window = window_of(now_ms, window_ms);
  std::vector<Top> all;
  for_each_slot([&](uint64_t state, uint64_t rate, const uint64_t& id) {
    if (state == 0 || rate == 0 || ((rate >> 24) & kWindowMask) != window)
      return;
    all.push_back({address_of_id(load(id)), static_cast<uint32_t>(state & kCountMask),
                   static_cast<uint32_t>(rate & kWindowMask)});
  });
  const size_t k = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const Top& a, const Top& b) { return a.in_window > b.in_window; });
  all.resize(k);
  return all;
}

size_t SourceTable::used_slots() const {
  size_t used = 0;
  for_each_slot([&](uint64_t state, uint64_t, const uint64_t&) { used += state != 0; });
  return used;
}

} // namespace hamba::engine
