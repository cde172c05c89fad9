// Smooth weighted round robin and weighted leastconn; see weights.h.
#include "balance/weights.h"

namespace hamba::balance {

size_t SmoothWeighted::pick(std::span<const uint32_t> weights) {
  if (scores_.size() != weights.size())
    scores_.assign(weights.size(), 0);
  int64_t total = 0;
  size_t best = kNoPick;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0)
      continue;
    scores_[i] += weights[i];
    total += weights[i];
    if (best == kNoPick || scores_[i] > scores_[best])
      best = i;
  }
  if (best != kNoPick)
    scores_[best] -= total;
  return best;
}

size_t pick_least_loaded(std::span<const Load> loads, size_t start) {
  size_t n = loads.size();
  size_t best = kNoPick;
  for (size_t k = 0; k < n; ++k) {
    size_t i = (start + k) % n;
    const Load& c = loads[i];
    if (c.weight == 0)
      continue;
    if (best == kNoPick) {
      best = i;
      continue;
    }
    // (c.current + 1) / c.weight < (b.current + 1) / b.weight, without division. Both
    // products fit: sessions are far below 2^40 and weights below 2^13.
    const Load& b = loads[best];
    if ((c.current + 1) * b.weight < (b.current + 1) * c.weight)
      best = i;
  }
  return best;
}

} // namespace hamba::balance
