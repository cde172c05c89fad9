// Measures what admission adds to each new connection: an allow-list lookup in a set of 10,
// 1 000, 10 000 and 100 000 CIDRs (base/cidr.h: a binary search over merged ranges, so the cost
// should grow with log n, not n), and a per-source admit + release (engine/source_table.h: two
// atomic operations on the source's slot), for one hot source and for sources spread over the
// table.
//
//     cmake --build build --target bench_admission && build/bin/bench_admission
//
// A benchmark: nothing fails. bench/README.md keeps the figures.
#include "base/cidr.h"
#include "engine/source_table.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

using namespace hamba;
using Clock = std::chrono::steady_clock;

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
  for (const char* what : {"one source", "100 000 sources"}) {
    const bool spread = what[0] != 'o';
    auto start = Clock::now();
    for (size_t i = 0; i < kLookups; ++i) {
      auto a =
          table.admit(spread ? v4(static_cast<uint32_t>(0x0a000000 + i % 100000)) : v4(0x7f000001),
                      i / 1000, limits);
      table.release(a.slot);
    }
    auto took = Clock::now() - start;
    std::printf("%-28s %10.1f\n", what, ns_per(took, kLookups));
  }
  std::printf("table: %zu slots, %zu KiB\n", table.slots(), table.bytes() / 1024);
  return 0;
}
