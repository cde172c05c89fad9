// Unit tests for engine/source_table.h: per-source maxconn and rate, exact across threads, the
// bound and what is forgotten (the least recently seen idle source of a bucket), the race of two
// workers admitting one new source into two slots (replayed step by step), IPv6 grouping, and
// the top lists.
#include "engine/admission.h"
#include "engine/source_table.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <doctest/doctest.h>
#include <functional>
#include <mutex>
#include <random>
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

// The sources that have a running rate window in the table (at `now`, windows of `window_ms`).
std::vector<std::string> tracked(const SourceTable& t, uint64_t now, uint64_t window_ms) {
  std::vector<std::string> out;
  for (const auto& top : t.top_by_rate(100, now, window_ms))
    out.push_back(format_address(top.source));
  std::sort(out.begin(), out.end());
  return out;
}

// How many slots count `source` (for the race tests: one at most, once admissions are done).
size_t slots_counting(const SourceTable& t, const std::string& source) {
  size_t n = 0;
  for (const auto& top : t.top_by_current(100))
    n += format_address(top.source) == source;
  return n;
}

// Replays a race between threads step by step. The script lists, in order, the steps
// (SourceTable::Step) at which the threads must arrive; a thread that arrives at its entry
// waits there until the next entry's thread has arrived at that one (the last one goes on at
// once), so that everything between two entries happens while the others are held. `then`
// runs at the arrival. Once the script is done, everyone passes freely. `thread_id` says who is
// calling (-1: not in the script).
struct Script {
  struct Entry {
    int thread;
    SourceTable::Step step;
    std::function<void()> then = {};
  };
  std::vector<Entry> entries;
  size_t reached = 0;
  std::mutex mutex;
  std::condition_variable changed;
  bool stuck = false;
  static thread_local int thread_id;

  static void hook(SourceTable::Step step, void* arg) {
    auto* s = static_cast<Script*>(arg);
    std::unique_lock lock(s->mutex);
    if (thread_id < 0)
      return;
    auto give_up = [&] { // the admission did not go the way the script expects
      s->stuck = true;
      s->reached = s->entries.size();
      s->changed.notify_all();
    };
    const bool mine = s->changed.wait_for(lock, std::chrono::seconds(10), [&] {
      return s->reached >= s->entries.size() ||
             (s->entries[s->reached].thread == thread_id && s->entries[s->reached].step == step);
    });
    if (!mine)
      return give_up();
    if (s->reached >= s->entries.size())
      return;
    const size_t at = s->reached++;
    if (s->entries[at].then)
      s->entries[at].then();
    s->changed.notify_all();
    if (!s->changed.wait_for(lock, std::chrono::seconds(10),
                             [&] { return s->reached >= std::min(at + 2, s->entries.size()); }))
      give_up();
  }
};
thread_local int Script::thread_id = -1;

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
  SourceTable t(16, 64); // 16 slots: 4 buckets of 4
  CHECK(t.slots() == 16);
  CHECK(t.bytes() >= 4 * 128);
  CHECK(SourceTable::slots_for(100000) == 100000);
  CHECK(SourceTable::slots_for(5) == 8);
  // 10 000 sources pass through, each closing at once: the table never holds more than 16.
  for (uint32_t i = 1; i <= 10000; ++i) {
    auto a = t.admit(v4(i), i, limits(1));
    CHECK(!a.refusal);
    CHECK(a.slot != SourceTable::kNoSlot); // an idle source always gives way
    t.release(a.slot);
  }
  CHECK(t.used_slots() <= 16);
  CHECK(t.untracked() == 0);
  // Sources with a connection open keep their slots: newcomers to a bucket whose slots all
  // have a connection open are admitted untracked (never refused for another's count).
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

TEST_CASE("source table: a bucket forgets its least recently seen idle source first") {
  SourceTable t(4, 64); // one bucket: every source meets every other
  const uint64_t kWindow = 1'000'000;
  auto rate1 = limits(0, 1, kWindow); // one a window: a source still tracked is refused
  for (uint32_t i = 1; i <= 4; ++i) {
    auto a = t.admit(v4(i), i, rate1); // seen at 1, 2, 3, 4
    REQUIRE(a.slot != SourceTable::kNoSlot);
    t.release(a.slot);
  }
  CHECK(tracked(t, 10, kWindow) ==
        std::vector<std::string>{"0.0.0.1", "0.0.0.2", "0.0.0.3", "0.0.0.4"});
  // 0.0.0.1 is seen again (refused for its rate: seen all the same): 0.0.0.2 is now the oldest.
  CHECK(t.admit(v4(1), 5, rate1).refusal == Refusal::source_rate);
  auto five = t.admit(v4(5), 6, rate1);
  CHECK(!five.refusal);
  t.release(five.slot);
  CHECK(tracked(t, 10, kWindow) ==
        std::vector<std::string>{"0.0.0.1", "0.0.0.3", "0.0.0.4", "0.0.0.5"});
  // A source with a connection open is never the one forgotten, however long ago it was seen.
  auto three = t.admit(v4(3), 7, limits(1, 0)); // no rate: 0.0.0.3's window stays as it was
  CHECK(three.refusal == std::nullopt);
  t.release(three.slot);
  auto held = t.admit(v4(4), 8, limits(1, 0)); // 0.0.0.4 keeps a connection open
  REQUIRE(held.slot != SourceTable::kNoSlot);
  // Oldest first: 0.0.0.1 (seen at 5), then 0.0.0.5 (6), then 0.0.0.3 (7); never 0.0.0.4.
  for (uint32_t i = 6; i <= 8; ++i) {
    auto a = t.admit(v4(i), 10 + i, rate1);
    REQUIRE(a.slot != SourceTable::kNoSlot);
    t.release(a.slot);
  }
  CHECK(tracked(t, 20, kWindow) ==
        std::vector<std::string>{"0.0.0.4", "0.0.0.6", "0.0.0.7", "0.0.0.8"});
  CHECK(t.untracked() == 0);
  // All four slots with a connection open: a newcomer is admitted untracked, and counted.
  std::vector<uint32_t> open{held.slot};
  for (uint32_t i = 6; i <= 8; ++i)
    open.push_back(t.admit(v4(i), 30, limits(1, 0)).slot);
  auto newcomer = t.admit(v4(9), 31, rate1);
  CHECK(!newcomer.refusal);
  CHECK(newcomer.slot == SourceTable::kNoSlot);
  CHECK(t.untracked() == 1);
  // One ends: the newcomer takes that slot.
  t.release(open.back());
  open.pop_back();
  auto later = t.admit(v4(9), 32, rate1);
  CHECK(later.slot != SourceTable::kNoSlot);
  t.release(later.slot);
  CHECK(tracked(t, 40, kWindow) ==
        std::vector<std::string>{"0.0.0.4", "0.0.0.6", "0.0.0.7", "0.0.0.9"});
  for (uint32_t slot : open)
    t.release(slot);
}

TEST_CASE("source table: two workers claiming one slot for one new source: one CAS wins") {
  // Worker B admits the source completely between worker A's scan and A's claim, in the slot A
  // chose: A's claim fails, A scans again and counts itself in B's slot (maxconn 1: refused).
  SourceTable t(4, 64);
  struct Nested {
    SourceTable* table;
    SourceTable::Admission b;
    bool done = false;
  } nested{&t, {}};
  t.set_step_hook(
      [](SourceTable::Step step, void* arg) {
        auto* n = static_cast<Nested*>(arg);
        if (step != SourceTable::Step::scanned || n->done)
          return;
        n->done = true;
        n->b = n->table->admit(v4(77), 0, limits(1)); // runs its own steps: passes through
      },
      &nested);
  auto a = t.admit(v4(77), 0, limits(1));
  t.set_step_hook(nullptr, nullptr);
  CHECK(!nested.b.refusal);
  CHECK(nested.b.slot != SourceTable::kNoSlot);
  CHECK(a.refusal == Refusal::source_maxconn);
  CHECK(slots_counting(t, "0.0.0.77") == 1);
  CHECK(t.untracked() == 0);
}

TEST_CASE("source table: two workers claiming two slots for one new source: one gives way") {
  // The race a set-associative table must settle: A and B admit one new source S at once. A's
  // scan sees one idle slot (3); then another source's connection ends, and B's scan sees an
  // older idle slot (1). A claims 3, B claims 1: S is counted in two slots for a moment. Each
  // then looks at the bucket's other slots before it counts as admitted, and one gives way.
  for (uint32_t maxconn : {1u, 2u}) {
    CAPTURE(maxconn);
    SourceTable t(4, 64);
    std::vector<uint32_t> busy; // ways 0..3 owned by sources 1..4, each with one connection
    for (uint32_t i = 1; i <= 4; ++i)
      busy.push_back(t.admit(v4(i), i, limits(1)).slot);
    t.release(busy[3]); // 0.0.0.4 (seen at 4) idle: the only slot free to claim
    size_t counted_twice = 0;
    std::atomic<bool> b_may_start{false}; // B scans only once A has scanned
    Script script;
    script.entries = {
        {0, SourceTable::Step::scanned,
         [&] {
           t.release(busy[0]); // 0.0.0.1 (seen at 1) idle: older than 0.0.0.4
           b_may_start = true;
         }},
        {1, SourceTable::Step::scanned},
        {0, SourceTable::Step::counted},
        {1, SourceTable::Step::counted,
         [&] { counted_twice = slots_counting(t, "0.0.0.99"); }}, // both claimed, none checked
    };
    t.set_step_hook(&Script::hook, &script);
    SourceTable::Admission got[2];
    std::vector<std::thread> workers;
    for (int w = 0; w < 2; ++w)
      workers.emplace_back([&, w] {
        Script::thread_id = w;
        while (w == 1 && !b_may_start)
          std::this_thread::yield();
        got[w] = t.admit(v4(99), 10, limits(maxconn));
      });
    for (auto& th : workers)
      th.join();
    t.set_step_hook(nullptr, nullptr);
    REQUIRE(!script.stuck);
    CHECK(counted_twice == 2); // the race happened as scripted
    const int admitted =
        (got[0].slot != SourceTable::kNoSlot) + (got[1].slot != SourceTable::kNoSlot);
    CHECK(admitted == static_cast<int>(maxconn)); // exact: 1 of 2, or both in one slot
    CHECK(slots_counting(t, "0.0.0.99") == 1);
    CHECK(t.top_by_current(1).at(0).current == maxconn);
    CHECK(t.untracked() == 0);
    if (maxconn == 2)
      CHECK(got[0].slot == got[1].slot);
  }
}

TEST_CASE("source table: maxconn stays exact while threads claim and evict in one bucket") {
  // 8 sources share one bucket of 4 slots; 4 threads admit and release them at random. A source
  // is claimed, forgotten and claimed again all the time; its tracked connections never exceed
  // maxconn, and no source is ever counted in two slots once everyone is done.
  SourceTable t(4, 64);
  constexpr uint32_t kSources = 8, kMax = 2;
  std::atomic<int> holding[kSources] = {};
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n)
    threads.emplace_back([&, n] {
      std::mt19937 rng(static_cast<unsigned>(n));
      std::vector<std::pair<uint32_t, uint32_t>> mine; // source, slot
      for (int i = 0; i < 20000; ++i) {
        if (mine.size() >= 3 || (rng() % 2 && !mine.empty())) {
          const auto [source, slot] = mine[rng() % mine.size()];
          holding[source].fetch_sub(1);
          t.release(slot);
          mine.erase(std::find(mine.begin(), mine.end(), std::pair{source, slot}));
        }
        const uint32_t source = rng() % kSources;
        auto a = t.admit(v4(1000 + source), static_cast<uint64_t>(i), limits(kMax));
        if (a.refusal || a.slot == SourceTable::kNoSlot)
          continue;
        if (holding[source].fetch_add(1) + 1 > static_cast<int>(kMax))
          over = true;
        mine.emplace_back(source, a.slot);
      }
      for (auto [source, slot] : mine) {
        holding[source].fetch_sub(1);
        t.release(slot);
      }
    });
  for (auto& th : threads)
    th.join();
  CHECK(!over);
  CHECK(t.top_by_current(1).empty()); // all given back, to the slots they were counted in
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
