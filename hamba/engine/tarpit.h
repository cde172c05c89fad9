// per_source action tarpit: connections over a limit are held, unread, for a while and then
// closed, so that a client that retries at once is slowed down rather than told at once. One per
// WorkerFrontend, on its loop:
//
//     if (!tarpit.hold(listener.take(), delay_ms)) listener-style reset instead;
//
// It holds raw descriptors (no libuv handle, no read: what the client sends stays in the kernel),
// at most kMaxHeld at once per worker and frontend; beyond that, hold() refuses and the caller
// resets. Released in order of arrival by one timer; closed with a FIN.
#pragma once

#include "base/uv_handle.h"

#include <cstdint>
#include <deque>

namespace hamba::engine {

class Tarpit {
public:
  static constexpr size_t kMaxHeld = 1024;

  explicit Tarpit(uv_loop_t* loop);
  ~Tarpit(); // closes what it holds
  Tarpit(const Tarpit&) = delete;
  Tarpit& operator=(const Tarpit&) = delete;

  // Takes `fd` and closes it `delay_ms` from now; false (fd not taken) when full.
  bool hold(int fd, uint64_t delay_ms);
  size_t held() const { return held_.size(); }
  // Closes everything now (the frontend goes).
  void release_all();

private:
  void on_timer();
  void arm();

  struct Held {
    int fd;
    uint64_t until_ms;
  };
  uv_loop_t* loop_;
  std::deque<Held> held_; // by arrival; a shorter delay given later waits for those before it
  uvx::Timer timer_;
};

} // namespace hamba::engine
