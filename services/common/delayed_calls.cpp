// DelayedCalls: one uv timer per pending call, freed when it fires (see delayed_calls.h).
#include "common/delayed_calls.h"

namespace services {

void DelayedCalls::after(std::uint64_t ms, std::function<void()> fn) {
  auto it = pending_.emplace(pending_.end());
  it->fn = std::move(fn);
  it->owner = this;
  it->self = it;
  uvx::check(it->timer.init([&](uv_timer_t* t) { return uv_timer_init(loop_, t); }),
             "uv_timer_init");
  it->timer.set_data(&*it);
  uv_timer_start(
      it->timer.get(),
      [](uv_timer_t* t) {
        auto* call = uvx::Handle<uv_timer_t>::owner<Call>(t);
        if (!call)
          return;
        std::function<void()> due = std::move(call->fn);
        call->owner->pending_.erase(call->self); // closes the timer; `call` is gone now
        due();
      },
      ms, 0);
}

} // namespace services
