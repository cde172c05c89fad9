// Measures what admission adds to each new connection: an allow-list lookup in a set of 10,
// 1 000, 10 000 and 100 000 CIDRs (base/cidr.h: a binary search over merged ranges, so the cost
// should grow with log n, not n), and a per-source admit + release (engine/source_table.h: a
// compare-and-swap on the source's slot, a look at the 3 other slots of its bucket, the
// decrement), for one hot source, for 100 000 sources that the table of 100 000 holds, and for
// 400 000 sources that keep evicting the least recently seen (each one claims a slot).
//
//     cmake --build build --target bench_admission && build/bin/bench_admission
//
// A benchmark: nothing fails. bench/README.md keeps the figures. Times are the thread's CPU
// time, not the wall clock's: on a shared machine, time spent waiting for a core is not counted
// (caches shared with the others still are).
#include "base/cidr.h"
#include "engine/source_table.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

using namespace hamba;
// The calling thread's CPU time.
struct Clock {
  using duration = std::chrono::nanoseconds;
  static duration now() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  }
};

namespace {

Address128 v4(uint32_t n) {
  return Address128{0, 0xffff00000000ULL | n};
}

double ns_per(Clock::duration d, size_t n) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
         static_cast<double>(n);
}

} // namespace

int main() {
  std::mt19937_64 rng(1);
  constexpr size_t kLookups = 4'000'000;
  std::vector<Address128> probes(kLookups);
  for (auto& p : probes)
    p = v4(static_cast<uint32_t>(rng()));

  std::printf("%-28s %10s %10s %12s\n", "allow list", "ranges", "ns/lookup", "memory");
  for (size_t n : {10u, 1000u, 10000u, 100000u}) {
    std::vector<Cidr> cidrs;
    for (size_t i = 0; i < n; ++i) {
      unsigned bits = 96 + 16 + static_cast<unsigned>(rng() % 17); // IPv4 /16 to /32
      cidrs.push_back(
          Cidr{v4(static_cast<uint32_t>(rng())).prefix(bits), static_cast<uint8_t>(bits)});
    }
    CidrSet set(cidrs);
    size_t hits = 0;
    auto start = Clock::now();
    for (const Address128& a : probes)
      hits += set.contains(a);
    auto took = Clock::now() - start;
    std::printf("%-28s %10zu %10.1f %9zu KiB   (%zu hits)\n",
                (std::to_string(n) + " CIDRs").c_str(), set.ranges(), ns_per(took, kLookups),
                set.bytes() / 1024, hits);
  }

  std::printf("\n%-28s %10s\n", "per_source admit + release", "ns/conn");
  engine::SourceTable table(100000, 64);
  const engine::SourceTable::Limits limits{1'000'000, 16'000'000, 1000};
  for (size_t sources : {size_t{1}, size_t{100000}, size_t{400000}}) {
    const uint64_t untracked = table.untracked();
    auto start = Clock::now();
    size_t next = 0; // the sources in turn (no division in the loop)
    for (size_t i = 0; i < kLookups; ++i) {
      auto a = table.admit(v4(static_cast<uint32_t>(0x0a000000 + next)), i / 1000, limits);
      table.release(a.slot);
      if (++next == sources)
        next = 0;
    }
    auto took = Clock::now() - start;
    std::printf("%-28s %10.1f   (%llu untracked)\n",
                (std::to_string(sources) + (sources == 1 ? " source" : " sources")).c_str(),
                ns_per(took, kLookups),
                static_cast<unsigned long long>(table.untracked() - untracked));
  }
  std::printf("table: %zu slots, %zu KiB, %zu in use\n", table.slots(), table.bytes() / 1024,
              table.used_slots());
  return 0;
}
