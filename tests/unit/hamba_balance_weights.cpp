// Weights: smooth weighted round robin, leastconn divided by weight, and slow start's ramp.
#include "balance/slow_start.h"
#include "balance/weights.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace hamba::balance;
using namespace std::chrono_literals;

namespace {
// The sequence of picks as letters: index 0 is 'A'.
std::string sequence(SmoothWeighted& rr, const std::vector<uint32_t>& weights, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    size_t k = rr.pick(weights);
    REQUIRE(k != kNoPick);
    out += static_cast<char>('A' + k);
  }
  return out;
}
} // namespace

TEST_CASE("smooth weighted round robin interleaves: 3:1 gives A A B A, not A A A B") {
  SmoothWeighted rr;
  CHECK(sequence(rr, {3, 1}, 8) == "AABAAABA");
}

TEST_CASE("smooth weighted round robin: 5:1:1 gives A A B A C A A (nginx's example)") {
  SmoothWeighted rr;
  CHECK(sequence(rr, {5, 1, 1}, 14) == "AABACAAAABACAA");
}

TEST_CASE("40 picks over weights 3 and 1 land 30 and 10; scaling every weight changes nothing") {
  SmoothWeighted a, b;
  std::string plain = sequence(a, {3, 1}, 40);
  CHECK(std::count(plain.begin(), plain.end(), 'A') == 30);
  CHECK(std::count(plain.begin(), plain.end(), 'B') == 10);
  CHECK(sequence(b, {3 * kWeightScale, 1 * kWeightScale}, 40) == plain);
}

TEST_CASE("equal weights are plain round robin") {
  SmoothWeighted rr;
  CHECK(sequence(rr, {1, 1, 1}, 6) == "ABCABC");
}

TEST_CASE("a zero weight (down, full, draining) is skipped; the others keep their shares") {
  SmoothWeighted rr;
  std::vector<uint32_t> w{2, 1, 1};
  CHECK(sequence(rr, w, 4) == "ABCA");
  w[0] = 0; // A is down for a while
  CHECK(sequence(rr, w, 4) == "BCBC");
  w[0] = 2;
  std::string back = sequence(rr, w, 400);
  CHECK(std::count(back.begin(), back.end(), 'A') == 200);
  CHECK(std::count(back.begin(), back.end(), 'B') == 100);
  CHECK(rr.pick(std::vector<uint32_t>{0, 0, 0}) == kNoPick);
  CHECK(rr.pick(std::vector<uint32_t>{}) == kNoPick);
}

TEST_CASE("a change of list length starts the scores again") {
  SmoothWeighted rr;
  CHECK(sequence(rr, {1, 1}, 1) == "A");
  CHECK(sequence(rr, {1, 1, 1}, 3) == "ABC");
  rr.reset();
  CHECK(sequence(rr, {1, 1, 1}, 1) == "A");
}

TEST_CASE("leastconn divides by weight: long connections spread 3:1 over weights 3 and 1") {
  std::vector<Load> loads{{0, 3}, {0, 1}};
  size_t start = 0;
  for (int i = 0; i < 40; ++i) {
    size_t k = pick_least_loaded(loads, start);
    REQUIRE(k != kNoPick);
    ++loads[k].current; // connections that stay open
    start = k + 1;
  }
  CHECK(loads[0].current == 30);
  CHECK(loads[1].current == 10);
}

TEST_CASE("leastconn: the heavier idle server first; equals take turns from `start`") {
  std::vector<Load> loads{{0, 1}, {0, 2}};
  CHECK(pick_least_loaded(loads, 0) == 1);
  std::vector<Load> equal{{4, 1}, {4, 1}, {4, 1}};
  CHECK(pick_least_loaded(equal, 0) == 0);
  CHECK(pick_least_loaded(equal, 1) == 1);
  CHECK(pick_least_loaded(equal, 2) == 2);
  CHECK(pick_least_loaded(equal, 3) == 0);
}

TEST_CASE("leastconn: fewest sessions per weight wins; weight 0 is never picked") {
  std::vector<Load> loads{{10, 2}, {4, 1}, {0, 0}};
  CHECK(pick_least_loaded(loads, 0) == 1); // 5/1 < 11/2
  loads[1].current = 6;                    // 7/1 > 11/2
  CHECK(pick_least_loaded(loads, 0) == 0);
  std::vector<Load> none{{0, 0}, {0, 0}};
  CHECK(pick_least_loaded(none, 0) == kNoPick);
}

TEST_CASE("slow start ramps a server's weight from almost 0 to full over the window") {
  SlowStart::Clock::time_point t0{}; // a fake clock: nothing here reads the real one
  SlowStart s(30s);
  CHECK(s.effective_weight(4, t0) == 4 * kWeightScale); // not started: full weight
  s.started(t0);
  CHECK(s.ramping(t0));
  CHECK(s.effective_weight(4, t0) == 1);           // never 0
  CHECK(s.effective_weight(4, t0 + 1ms) == 1);     // 64 * 1/30000 rounds down to 0
  CHECK(s.effective_weight(4, t0 + 7500ms) == 16); // a quarter
  CHECK(s.effective_weight(4, t0 + 15s) == 32);    // half
  CHECK(s.effective_weight(4, t0 + 29999ms) == 63);
  CHECK(s.effective_weight(4, t0 + 30s) == 4 * kWeightScale); // done
  CHECK_FALSE(s.ramping(t0 + 30s));
  CHECK(s.effective_weight(4, t0 + 1h) == 4 * kWeightScale);
  // Every step of the ramp is at least the one before.
  uint32_t last = 0;
  for (auto t = t0; t <= t0 + 31s; t += 250ms) {
    uint32_t w = s.effective_weight(1, t);
    CHECK(w >= last);
    CHECK(w >= 1);
    last = w;
  }
  CHECK(last == kWeightScale);
}

TEST_CASE("slow start: a window of 0 is off; finish() ends a ramp; started() starts it again") {
  SlowStart::Clock::time_point t0{};
  SlowStart off;
  off.started(t0);
  CHECK_FALSE(off.ramping(t0));
  CHECK(off.effective_weight(2, t0) == 2 * kWeightScale);

  SlowStart s(10s);
  s.started(t0);
  CHECK(s.effective_weight(1, t0 + 5s) == kWeightScale / 2);
  s.finish();
  CHECK(s.effective_weight(1, t0 + 5s) == kWeightScale);
  s.started(t0 + 20s);
  CHECK(s.effective_weight(1, t0 + 25s) == kWeightScale / 2);
}

TEST_CASE("slow start with smooth round robin: the new server's share grows with the ramp") {
  SlowStart::Clock::time_point t0{};
  SlowStart fresh(20s);
  fresh.started(t0);
  SmoothWeighted rr;
  auto share = [&](std::chrono::milliseconds at) {
    int got = 0;
    for (int i = 0; i < 320; ++i) {
      uint32_t w[] = {kWeightScale, fresh.effective_weight(1, t0 + at)};
      got += rr.pick(w) == 1;
    }
    return got;
  };
  CHECK(share(0ms) == 19);  // weight 1 against 16: 1 / 17 of 320 picks
  CHECK(share(5s) == 64);   // weight 4 of 20
  CHECK(share(10s) == 107); // 8 of 24
  CHECK(share(20s) == 160); // even
}
