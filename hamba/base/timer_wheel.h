// Deadlines for many objects at a cost that follows what expires, not how many wait: a hashed
// timing wheel (Varghese and Lauck), as HAProxy and the kernel keep their timers.
//
// Time is counted in ticks (the owner picks the tick, e.g. 100 ms of loop time). Each waiting
// object holds a TimerWheel::Entry; schedule() puts it in the slot of its deadline tick, and
// advance() visits only the slots whose ticks have passed. An entry whose deadline is more than
// one turn of the wheel away is passed over (one comparison) each turn until its tick comes.
// A deadline that only moves later (an idle timeout pushed back by traffic) need not be
// rescheduled on each read: the owner keeps its own "last activity" and, when the entry fires
// early, schedules it again for the time left. Cost: O(1) to schedule or cancel, and per tick
// O(entries in one slot).
//
//     TimerWheel wheel;                        // tick 0 = now
//     wheel.schedule(conn.deadline, wheel.now() + 50);
//     ... each tick: wheel.advance(tick_now, [](TimerWheel::Entry& e) { ... });
//
// An entry fired by advance() has left the wheel before its callback runs; the callback may
// schedule it again, cancel or schedule other entries, or destroy the object (its Entry's
// destructor cancels). Not thread-safe: one loop owns a wheel.
#pragma once

#include "base/intrusive_list.h"

#include <cstdint>
#include <vector>

namespace hamba::base {

class TimerWheel {
public:
  static constexpr uint64_t kSlots = 1024; // a power of two

  class Entry {
  public:
    // The object a deadline is for derives from Entry; the fire callback casts back to it.
    bool scheduled() const { return link_.linked(); }
    void cancel() { link_.unlink(); }
    uint64_t deadline() const { return deadline_; }

  private:
    friend class TimerWheel;
    ListLink link_;
    uint64_t deadline_ = 0; // in ticks
  };

  explicit TimerWheel(uint64_t now = 0) : now_(now), slots_(kSlots) {}

  uint64_t now() const { return now_; }
  // Sets the current tick of a wheel that holds nothing yet.
  void start_at(uint64_t now) { now_ = now; }
  // (Re)schedules `entry` to fire at tick `deadline` (a past one fires at the next advance).
  void schedule(Entry& entry, uint64_t deadline) {
    entry.cancel();
    entry.deadline_ = deadline;
    uint64_t at = deadline > now_ ? deadline : now_ + 1;
    slots_[at & (kSlots - 1)].push_back(entry);
  }
  // The first tick after now whose slot holds an entry (it may be one due a turn later: the
  // wheel then only passes over it), or 0 when none does. O(slots).
  uint64_t next_busy_tick() const {
    for (uint64_t tick = now_ + 1; tick <= now_ + kSlots; ++tick)
      if (!slots_[tick & (kSlots - 1)].empty())
        return tick;
    return 0;
  }
  bool empty() const {
    for (const auto& s : slots_)
      if (!s.empty())
        return false;
    return true;
  }
  // Moves time on to tick `now`, firing every entry whose deadline is at or before it, in
  // deadline order by slot. `fire(Entry&)` is called with the entry already unscheduled.
  template <typename Fire> void advance(uint64_t now, Fire&& fire) {
    // More than one turn behind (a long stall): every slot is visited once.
    uint64_t from = now - now_ > kSlots ? now - kSlots : now_;
    for (uint64_t tick = from + 1; tick <= now; ++tick) {
      Slot due;
      due.splice_back(slots_[tick & (kSlots - 1)]);
      now_ = tick;
      while (Entry* e = due.pop_front()) {
        if (e->deadline_ > now) // a later turn of the wheel: back into its slot
          slots_[e->deadline_ & (kSlots - 1)].push_back(*e);
        else
          fire(*e);
      }
    }
    now_ = now;
  }

private:
  using Slot = IntrusiveList<Entry, &Entry::link_>;
  uint64_t now_;
  std::vector<Slot> slots_;
};

} // namespace hamba::base
