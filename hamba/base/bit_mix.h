// A 64-bit mixing function for hash tables and hashing balancers.
#pragma once

#include <cstdint>

namespace hamba {

// The 64-bit finalizer of SplitMix64 (Steele, Lea and Flood): every input bit flips about half
// of the output bits, which FNV-1a alone does not give for short keys, nor a table index taken
// from an address's low bits.
constexpr uint64_t bit_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

} // namespace hamba
