// Server weights, and the two policies that use them: smooth weighted round robin and leastconn
// divided by weight. Pure algorithms over plain numbers (no Server, no clock), so each can be
// tested alone and each worker loop can run its own copy over the same snapshot.
//
//     SmoothWeighted rr;
//     uint32_t w[] = {3, 1};           // effective weights; 0 = cannot take a connection now
//     rr.pick(w);                      // 0, 0, 1, 0, 0, 0, 1, 0, ...  (A A B A, not A A A B)
//
// Configured weights are 1..256 (default 1). Policies see *effective* weights: the configured
// weight times kWeightScale, lowered while a server is in slow start (slow_start.h), so a ramp
// has 16 steps even for weight 1. Scaling every weight alike changes no policy's choices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace hamba::balance {

inline constexpr int kMinWeight = 1;
inline constexpr int kMaxWeight = 256;
inline constexpr int kDefaultWeight = 1;
inline constexpr uint32_t kWeightScale = 16;
inline constexpr size_t kNoPick = static_cast<size_t>(-1);

// nginx's smooth weighted round robin: every pick, each candidate's running score grows by its
// weight; the highest score wins and pays back the total. Over one cycle of sum(weights) picks
// every candidate gets exactly its weight, spread out (5:1:1 gives A A B A C A A).
//
// Scores belong to positions in the list: after the caller's list changes (a server added,
// removed or reordered), call reset(). A zero weight skips a candidate for this pick and leaves
// its score alone, so a server that is full or down for a moment resumes where it was.
class SmoothWeighted {
public:
  // The index of the chosen candidate, or kNoPick when every weight is 0.
  size_t pick(std::span<const uint32_t> weights);
  void reset() { scores_.clear(); }

private:
  std::vector<int64_t> scores_;
};

// One candidate for leastconn: its sessions now and its effective weight (0 = cannot take one).
struct Load {
  uint64_t current = 0;
  uint32_t weight = 0;
};

// leastconn divided by weight: the candidate with the smallest (current + 1) / weight, i.e. the
// one whose share would stay lowest after taking this connection (HAProxy's rule; the "+ 1"
// makes a heavier idle server win over a lighter idle one). Ties go to the first candidate at
// or after `start`, so equals take turns when the caller advances it. kNoPick when no weight
// is above 0.
size_t pick_least_loaded(std::span<const Load> loads, size_t start);

} // namespace hamba::balance
