// The intrusive list, the timing wheel and the run queue: the containers the worker loop keeps
// its connections, deadlines and deferred work in.
#include "base/intrusive_list.h"
#include "base/timer_wheel.h"

#include <doctest/doctest.h>
#include <memory>
#include <vector>

using namespace hamba::base;

namespace {
struct Item : TimerWheel::Entry {
  int id;
  ListLink link;
  explicit Item(int i) : id(i) {}
};
using List = IntrusiveList<Item, &Item::link>;

std::vector<int> ids(const List& list) {
  std::vector<int> out;
  for (Item* i = list.front(); i; i = list.next(*i))
    out.push_back(i->id);
  return out;
}
} // namespace

TEST_CASE("an intrusive list keeps order, and an element leaves it in O(1) from anywhere") {
  Item a(1), b(2), c(3);
  List list;
  list.push_back(a);
  list.push_back(b);
  list.push_front(c);
  CHECK(ids(list) == std::vector<int>{3, 1, 2});
  a.link.unlink();
  CHECK(ids(list) == std::vector<int>{3, 2});
  CHECK_FALSE(a.link.linked());
  a.link.unlink(); // harmless when in no list
  CHECK(list.pop_front() == &c);
  CHECK(list.size() == 1);
  List other;
  other.push_back(a);
  other.push_back(c);
  list.splice_back(other);
  CHECK(other.empty());
  CHECK(ids(list) == std::vector<int>{2, 1, 3});
  {
    Item gone(9);
    list.push_back(gone);
  } // its link's destructor takes it out
  CHECK(ids(list) == std::vector<int>{2, 1, 3});
}

TEST_CASE("the wheel fires each entry at its tick, and only the ones due") {
  TimerWheel wheel(100);
  Item a(1), b(2), c(3);
  wheel.schedule(a, 103);
  wheel.schedule(b, 101);
  wheel.schedule(c, 100 + TimerWheel::kSlots + 3); // same slot as a, a turn later
  std::vector<int> fired;
  auto fire = [&](TimerWheel::Entry& e) { fired.push_back(static_cast<Item&>(e).id); };
  wheel.advance(102, fire);
  CHECK(fired == std::vector<int>{2});
  wheel.advance(103, fire);
  CHECK(fired == std::vector<int>{2, 1});
  CHECK(c.scheduled()); // passed over: its turn has not come
  wheel.advance(100 + TimerWheel::kSlots + 2, fire);
  CHECK(fired.size() == 2);
  wheel.advance(100 + TimerWheel::kSlots + 3, fire);
  CHECK(fired == std::vector<int>{2, 1, 3});
  CHECK(wheel.empty());
}

TEST_CASE("a cancelled or rescheduled entry fires once, at its last deadline") {
  TimerWheel wheel(0);
  Item a(1), b(2);
  wheel.schedule(a, 5);
  wheel.schedule(b, 5);
  b.cancel();
  wheel.schedule(a, 9); // pushed back before it fired
  std::vector<int> fired;
  auto fire = [&](TimerWheel::Entry& e) { fired.push_back(static_cast<Item&>(e).id); };
  wheel.advance(8, fire);
  CHECK(fired.empty());
  wheel.advance(20, fire);
  CHECK(fired == std::vector<int>{1});
}

TEST_CASE("a fired entry may schedule itself again or cancel another due in the same tick") {
  TimerWheel wheel(0);
  Item a(1), b(2);
  wheel.schedule(a, 3);
  wheel.schedule(b, 3);
  std::vector<int> fired;
  wheel.advance(3, [&](TimerWheel::Entry& e) {
    auto* item = &static_cast<Item&>(e);
    fired.push_back(item->id);
    if (item->id == 1) {
      b.cancel();            // the other one due now: no longer fires
      wheel.schedule(e, 10); // and this one again, later
    }
  });
  CHECK(fired == std::vector<int>{1});
  CHECK(a.scheduled());
  wheel.advance(10, [&](TimerWheel::Entry& e) { fired.push_back(static_cast<Item&>(e).id); });
  CHECK(fired == std::vector<int>{1, 1});
}

TEST_CASE("a stall of more than one turn fires everything that came due") {
  TimerWheel wheel(0);
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < 50; ++i) {
    items.push_back(std::make_unique<Item>(i));
    wheel.schedule(*items.back(), static_cast<uint64_t>(i) * 97 + 1);
  }
  size_t fired = 0;
  wheel.advance(10 * TimerWheel::kSlots, [&](TimerWheel::Entry&) { ++fired; });
  CHECK(fired == 50);
  CHECK(wheel.empty());
}
