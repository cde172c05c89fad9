// Unit tests for engine/source_table.h: per-source maxconn and rate, exact across threads, the
// bound and what is forgotten, IPv6 grouping, and the top lists.
#include "engine/admission.h"
#include "engine/source_table.h"

#include <atomic>
#include <doctest/doctest.h>
#include <thread>
#include <vector>

using namespace hamba;
using namespace hamba::engine;

namespace {

Address128 v4(uint32_t n) {
  return Address128{0, 0xffff00000000ULL | n};
}

Address128 v6(uint64_t hi, uint64_t lo) {
  return Address128{hi, lo};
}

SourceTable::Limits limits(uint32_t maxconn, uint32_t rate = 0, uint64_t window_ms = 1000) {
  return {maxconn, rate, window_ms};
}

} // namespace

TEST_CASE("source table: maxconn per source, given back on release") {
  SourceTable t(1024, 64);
  std::vector<uint32_t> held;
  for (int i = 0; i < 3; ++i) {
    auto a = t.admit(v4(0x0a000001), 0, limits(3));
    REQUIRE(!a.refusal);
    REQUIRE(a.slot != SourceTable::kNoSlot);
    held.push_back(a.slot);
  }
  CHECK(t.admit(v4(0x0a000001), 0, limits(3)).refusal == Refusal::source_maxconn);
  CHECK(!t.admit(v4(0x0a000002), 0, limits(3)).refusal); // another source
  t.release(held.back());
  held.pop_back();
  auto again = t.admit(v4(0x0a000001), 0, limits(3));
  CHECK(!again.refusal);
  auto top = t.top_by_current(1);
  REQUIRE(top.size() == 1);
  CHECK(format_address(top[0].source) == "10.0.0.1");
  CHECK(top[0].current == 3);
}

TEST_CASE("source table: the rate holds within a window and starts again in the next") {
  SourceTable t(1024, 64);
  for (int i = 0; i < 5; ++i) {
    auto a = t.admit(v4(7), 1000, limits(0, 5, 1000));
    REQUIRE(!a.refusal);
    t.release(a.slot); // closed at once: only the rate counts
  }
  CHECK(t.admit(v4(7), 1999, limits(0, 5, 1000)).refusal == Refusal::source_rate);
  CHECK(t.admit(v4(7), 1500, limits(0, 5, 1000)).refusal == Refusal::source_rate);
  auto next = t.admit(v4(7), 2000, limits(0, 5, 1000));
  CHECK(!next.refusal);
  auto top = t.top_by_rate(3, 2000, 1000);
  REQUIRE(top.size() == 1);
  CHECK(top[0].in_window == 1);
}

TEST_CASE("source table: IPv6 sources are grouped by their prefix") {
  SourceTable t(1024, 64);
  auto a = t.admit(v6(0x20010db800000001ULL, 1), 0, limits(2));
  auto b = t.admit(v6(0x20010db800000001ULL, 0xffff), 0, limits(2));
  CHECK(!a.refusal);
  CHECK(!b.refusal);
  CHECK(t.admit(v6(0x20010db800000001ULL, 77), 0, limits(2)).refusal == Refusal::source_maxconn);
  CHECK(!t.admit(v6(0x20010db800000002ULL, 1), 0, limits(2)).refusal); // the next /64
  CHECK(format_address(t.top_by_current(1).at(0).source) == "2001:db8:0:1::");

  SourceTable exact(1024, 128);
  CHECK(!exact.admit(v6(1, 1), 0, limits(1)).refusal);
  CHECK(!exact.admit(v6(1, 2), 0, limits(1)).refusal);
  CHECK(exact.admit(v6(1, 1), 0, limits(1)).refusal == Refusal::source_maxconn);
}

TEST_CASE("source table: bounded; an idle source is forgotten for a new one, an active one kept") {
  SourceTable t(16, 64); // 16 slots
  CHECK(t.slots() == 16);
  CHECK(t.bytes() >= 16 * 24);
  // 10 000 sources pass through, each closing at once: the table never holds more than 16.
  for (uint32_t i = 1; i <= 10000; ++i) {
    auto a = t.admit(v4(i), i, limits(1));
    CHECK(!a.refusal);
    t.release(a.slot);
  }
  CHECK(t.used_slots() <= 16);
  // Sources with a connection open keep their slots: newcomers that land there are admitted
  // untracked (never refused for another's count).
  std::vector<uint32_t> open;
  for (uint32_t i = 1; i <= 64; ++i) {
    auto a = t.admit(v4(100000 + i), 0, limits(1));
    CHECK(!a.refusal);
    if (a.slot != SourceTable::kNoSlot)
      open.push_back(a.slot);
  }
  CHECK(open.size() <= 16);
  CHECK(t.untracked() == 64 - open.size());
  for (uint32_t slot : open)
    t.release(slot);
}

TEST_CASE("source table: maxconn is exact across threads racing on one source") {
  SourceTable t(1024, 64);
  constexpr int kThreads = 4;
  constexpr uint32_t kMax = 10;
  std::atomic<int> holding{0};
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int n = 0; n < kThreads; ++n)
    threads.emplace_back([&] {
      // Each thread keeps up to 5 open (4 x 5 > 10: the threads meet at the limit all along).
      std::vector<uint32_t> mine;
      for (int i = 0; i < 20000; ++i) {
        if (mine.size() == 5 || (i % 3 == 0 && !mine.empty())) {
          holding.fetch_sub(1);
          t.release(mine.front());
          mine.erase(mine.begin());
        }
        auto a = t.admit(v4(42), 0, limits(kMax));
        if (a.refusal)
          continue;
        int now = holding.fetch_add(1) + 1;
        if (now > static_cast<int>(kMax))
          over = true;
        mine.push_back(a.slot);
      }
      for (uint32_t slot : mine) {
        holding.fetch_sub(1);
        t.release(slot);
      }
    });
  for (auto& th : threads)
    th.join();
  CHECK(!over);
  CHECK(t.top_by_current(1).empty()); // all given back
}

TEST_CASE("source place: given back once, on release or at destruction") {
  auto t = std::make_shared<SourceTable>(64, 64);
  {
    SourcePlace p(t, t->admit(v4(9), 0, limits(1)).slot);
    CHECK(p.held());
    CHECK(t->admit(v4(9), 0, limits(1)).refusal == Refusal::source_maxconn);
    SourcePlace moved = std::move(p);
    CHECK(!p.held());
    moved.release();
    moved.release();
    CHECK(!moved.held());
    SourcePlace q(t, t->admit(v4(9), 0, limits(1)).slot);
  }
  CHECK(!t->admit(v4(9), 0, limits(1)).refusal);
}
