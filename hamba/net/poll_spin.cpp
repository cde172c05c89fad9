// Bounded polling before the loop sleeps; see poll_spin.h.
#include "net/poll_spin.h"

#include <sys/epoll.h>

namespace hamba::net {

PollSpin::PollSpin(uv_loop_t* loop) {
  uvx::check(prepare_.init([&](uv_prepare_t* p) { return uv_prepare_init(loop, p); }),
             "uv_prepare_init");
  // Prepare handles run right before the poll phase. Unreferenced: this alone does not keep
  // the loop running.
  uvx::check(uv_prepare_start(prepare_.get(), before_poll), "uv_prepare_start");
  uv_unref(prepare_.base());
}

void PollSpin::before_poll(uv_prepare_t* prepare) {
  uv_loop_t* loop = prepare->loop;
  // libuv polls without blocking anyway (pending callbacks, closing handles, a due timer).
  if (uv_backend_timeout(loop) == 0)
    return;
  int fd = uv_backend_fd(loop);
  // libuv registers its sockets level-triggered, so looking at one ready event here leaves it
  // in the ready list for libuv's own epoll_wait right after.
  epoll_event event;
  uint64_t start = uv_hrtime();
  do {
    if (epoll_wait(fd, &event, 1, 0) != 0)
      return; // ready (or an error, which libuv's own poll reports)
  } while (uv_hrtime() - start < kBudgetNs);
}

} // namespace hamba::net
