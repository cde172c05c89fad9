// The per-source table; see source_table.h for the layout and why it is exact.
#include "engine/source_table.h"

#include "engine/admission.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>
#include <random>

namespace hamba::engine {

namespace {

constexpr uint64_t kCountBits = 20;
constexpr uint64_t kCountMask = (1ULL << kCountBits) - 1;
constexpr uint64_t kWindowMask = (1ULL << 24) - 1;
// IPv4 ids: a block no routable IPv6 /64 uses (0:ffff::/32), so the two families never meet.
constexpr uint64_t kV4Id = 0x0000ffff00000000ULL;

uint64_t mix(uint64_t x) { // splitmix64's finalizer: every input bit moves every output bit
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

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

void SourceTable::Free::operator()(Slot* p) const {
  std::free(p);
}

SourceTable::SourceTable(size_t table_size, unsigned ipv6_prefix)
    : mask_(std::bit_ceil(std::max<size_t>(table_size, 1)) - 1),
      ipv6_prefix_(std::clamp(ipv6_prefix, 1u, 128u)) {
  // Zeroed by the allocator: a large table is fresh pages, touched only as sources arrive.
  slots_.reset(static_cast<Slot*>(std::calloc(mask_ + 1, sizeof(Slot))));
  if (!slots_)
    throw std::bad_alloc();
  std::random_device random;
  key_ = (static_cast<uint64_t>(random()) << 32) ^ random();
}

uint64_t SourceTable::id_of(const Address128& source) const {
  if (source.v4())
    return kV4Id | (source.lo & 0xffffffff);
  const Address128 group = source.prefix(ipv6_prefix_);
  if (ipv6_prefix_ <= 64)
    return group.hi;
  return mix(group.hi ^ mix(group.lo)); // longer prefixes: 64 bits of a hash
}

Address128 SourceTable::address_of_id(uint64_t id) const {
  if ((id & 0xffffffff00000000ULL) == kV4Id)
    return Address128{0, 0xffff00000000ULL | (id & 0xffffffff)};
  return Address128{id, 0}; // the group's first address (its first 64 bits beyond /64)
}

SourceTable::Place SourceTable::place_of(uint64_t id) const {
  const uint64_t h = mix(id ^ key_);
  return {static_cast<uint32_t>(h & mask_), (h >> kCountBits) | 1, (h >> 4) & 0xffff};
}

SourceTable::Admission SourceTable::admit(const Address128& source, uint64_t now_ms,
                                          const Limits& limits) {
  const uint64_t id = id_of(source);
  const Place p = place_of(id);
  Slot& s = slots_[p.slot];
  const uint64_t window = window_of(now_ms, limits.window_ms);
  const uint32_t maxconn = limits.maxconn ? std::min(limits.maxconn, kMaxConn) : kMaxConn;

  uint64_t state = atomic(s.state).load(std::memory_order_acquire);
  for (;;) {
    const uint64_t count = state & kCountMask;
    if ((state >> kCountBits) == p.tag44) { // its own slot
      if (count >= maxconn)
        return {Refusal::source_maxconn, kNoSlot};
      if (atomic(s.state).compare_exchange_weak(state, state + 1, std::memory_order_acq_rel))
        break;
      continue;
    }
    // Free, or another source's: taken only when that one has nothing left to count.
    const uint64_t rate = atomic(s.rate).load(std::memory_order_acquire);
    const bool window_running = limits.rate > 0 && ((rate >> 24) & kWindowMask) == window;
    if (state != 0 && (count > 0 || window_running)) {
      untracked_.fetch_add(1, std::memory_order_relaxed);
      return {};
    }
    if (atomic(s.state).compare_exchange_weak(state, p.tag44 << kCountBits | 1,
                                              std::memory_order_acq_rel)) {
      atomic(s.id).store(id, std::memory_order_relaxed);
      break;
    }
  }

  if (limits.rate > 0) {
    uint64_t rate = atomic(s.rate).load(std::memory_order_acquire);
    for (;;) {
      uint64_t next;
      if ((rate >> 48) != p.tag16 || ((rate >> 24) & kWindowMask) != window) {
        next = p.tag16 << 48 | window << 24 | 1; // a new window, or a new owner
      } else if ((rate & kWindowMask) >= std::min(limits.rate, kMaxRate)) {
        release(p.slot);
        return {Refusal::source_rate, kNoSlot};
      } else {
        next = rate + 1;
      }
      if (atomic(s.rate).compare_exchange_weak(rate, next, std::memory_order_acq_rel))
        break;
    }
  }
  return {std::nullopt, p.slot};
}

void SourceTable::release(uint32_t slot) {
  if (slot == kNoSlot)
    return;
  atomic(slots_[slot].state).fetch_sub(1, std::memory_order_acq_rel);
}

std::vector<SourceTable::Top> SourceTable::top_by_current(size_t n) const {
  std::vector<Top> all;
  for (size_t i = 0; i <= mask_; ++i) {
    const uint64_t state = load(slots_[i].state);
    if (const uint32_t count = static_cast<uint32_t>(state & kCountMask); count > 0)
      all.push_back({address_of_id(load(slots_[i].id)), count, 0});
  }
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
  for (size_t i = 0; i <= mask_; ++i) {
    const uint64_t rate = load(slots_[i].rate);
    if (rate == 0 || ((rate >> 24) & kWindowMask) != window)
      continue;
    const uint64_t state = load(slots_[i].state);
    all.push_back({address_of_id(load(slots_[i].id)), static_cast<uint32_t>(state & kCountMask),
                   static_cast<uint32_t>(rate & kWindowMask)});
  }
  const size_t k = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const Top& a, const Top& b) { return a.in_window > b.in_window; });
  all.resize(k);
  return all;
}

size_t SourceTable::used_slots() const {
  size_t used = 0;
  for (size_t i = 0; i <= mask_; ++i)
    used += load(slots_[i].state) != 0;
  return used;
}

} // namespace hamba::engine
