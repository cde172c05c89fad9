// Slow start: a server that comes up (after being down, or added by DNS or a reconfigure) gets
// a share that ramps from almost nothing to its full weight over the backend's `slowstart`
// window, so a cold cache or a JIT is not flooded at once (HAProxy's `slowstart`).
//
// Pure arithmetic on a time the caller passes in, so tests step a fake clock:
//
//     SlowStart s{std::chrono::seconds(30)};
//     s.started(now);                       // the server just came up
//     s.effective_weight(4, now + 15s);     // half of 4 * kWeightScale = 32
//
// The ramp never gives 0 (that would mean "cannot take a connection"): at its start a server
// has 1 / kWeightScale of weight 1, so when it is the only server up it still takes everything.
#pragma once

#include "balance/weights.h"

#include <chrono>
#include <cstdint>

namespace hamba::balance {

class SlowStart {
public:
  using Clock = std::chrono::steady_clock;

  explicit SlowStart(std::chrono::milliseconds window = std::chrono::milliseconds(0))
      : window_(window) {}
  void set_window(std::chrono::milliseconds window) { window_ = window; }
  std::chrono::milliseconds window() const { return window_; }

  // The server came up at `at`: the ramp starts again.
  void started(Clock::time_point at) {
    since_ = at;
    ramping_ = window_.count() > 0;
  }
  // Ends the ramp at once (slow start turned off, or a server that starts with hamba).
  void finish() { ramping_ = false; }

  // `weight` (1..256) scaled by kWeightScale, times the elapsed fraction of the window. Const
  // and cheap (one subtraction once the ramp is over), so worker loops may call it on a shared
  // snapshot.
  uint32_t effective_weight(int weight, Clock::time_point now) const {
    uint32_t full = static_cast<uint32_t>(weight) * kWeightScale;
    if (!ramping_ || now - since_ >= window_)
      return full;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - since_);
    if (elapsed.count() <= 0)
      return 1;
    auto part = static_cast<uint64_t>(full) * static_cast<uint64_t>(elapsed.count()) /
                static_cast<uint64_t>(window_.count());
    return part == 0 ? 1 : static_cast<uint32_t>(part);
  }
  // Still below full weight at `now`.
  bool ramping(Clock::time_point now) const { return ramping_ && now - since_ < window_; }

private:
  std::chrono::milliseconds window_;
  Clock::time_point since_{};
  bool ramping_ = false;
};

} // namespace hamba::balance
