// A few microseconds of polling before the loop sleeps (adaptive polling, as KVM's halt-polling
// or the kernel's busy-poll, bounded).
//
// Why: hamba's loop is lean. After a round of request/response relaying it reaches epoll_wait
// before the answers to what it just sent are back, goes to sleep, and is woken microseconds
// later: on the bench's Redis GET line hamba slept 127-154 times per 1000 requests where
// HAProxy (whose loop does more per round) slept 65-80 times. On a VM every sleep and wakeup
// is expensive (an idle vCPU halts), for hamba and for the process that wakes it. Looking for
// ready events for up to kBudget before sleeping brings hamba's sleeps to HAProxy's level:
// bench A/B +3-4% on Redis GET and +7% on 1 MiB bodies, the other lines within noise, for
// 3-5% more CPU per request on small messages (bench/README.md).
//
// The wait ends as soon as the poller has an event ready, so it never delays work; it only
// runs before a poll that would block, so an idle hamba pays it once per wakeup (its timers:
// a few per second).
#pragma once

#include "base/uv_handle.h"

#include <cstdint>

namespace hamba::net {

class PollSpin {
public:
  static constexpr uint64_t kBudgetNs = 3000;

  explicit PollSpin(uv_loop_t* loop);

private:
  static void before_poll(uv_prepare_t* prepare);

  uvx::Handle<uv_prepare_t> prepare_;
};

} // namespace hamba::net
