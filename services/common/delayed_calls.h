// Runs functions after a delay on the loop, any number at once, each with its own uv timer:
// the services' simulated work ("sleep 0.1 s") without ever blocking the loop.
//
//     services::DelayedCalls delays(loop);
//     delays.after(100, [reply = std::move(reply)] { reply(...); });
//     delays.cancel_all();   // e.g. on SIGTERM: the functions are dropped, not called
#pragma once

#include "base/uv_handle.h"

#include <cstdint>
#include <functional>
#include <list>
#include <uv.h>

namespace services {

class DelayedCalls {
public:
  explicit DelayedCalls(uv_loop_t* loop) : loop_(loop) {}
  DelayedCalls(const DelayedCalls&) = delete;
  DelayedCalls& operator=(const DelayedCalls&) = delete;

  void after(std::uint64_t ms, std::function<void()> fn);
  void cancel_all() { pending_.clear(); }
  std::size_t size() const { return pending_.size(); }

private:
  struct Call {
    uvx::Handle<uv_timer_t> timer;
    std::function<void()> fn;
    DelayedCalls* owner = nullptr;
    std::list<Call>::iterator self;
  };
  uv_loop_t* loop_;
  std::list<Call> pending_;
};

} // namespace services
