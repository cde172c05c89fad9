// hiredis event hooks on a uv_poll_t (see redis_uv_events.h).
#include "common/redis_uv_events.h"

#include "base/uv_handle.h"

#include <hiredis/async.h>

namespace services {

namespace {

// One per attached context; deleted by hiredis's cleanup hook.
struct PollEvents {
  redisAsyncContext* context = nullptr;
  uvx::Handle<uv_poll_t> poll;
  int events = 0;
  bool* freed_flag = nullptr; // points into on_poll's frame while it runs

  void update() {
    if (events)
      uv_poll_start(poll.get(), events, &on_poll);
    else
      uv_poll_stop(poll.get());
  }

  static void on_poll(uv_poll_t* handle, int status, int ready) {
    auto* self = uvx::Handle<uv_poll_t>::owner<PollEvents>(handle);
    if (!self)
      return;
    redisAsyncContext* ac = self->context;
    bool freed = false; // set by the cleanup hook if a handler frees the context (and `self`)
    self->freed_flag = &freed;
    if (status < 0) {
      // libuv stopped the poll; hiredis finds the error itself: a connect in progress through
      // its write handler (SO_ERROR), an established connection through its read handler.
      if (ac->c.flags & REDIS_CONNECTED)
        redisAsyncHandleRead(ac);
      else
        redisAsyncHandleWrite(ac);
    } else {
      if (ready & UV_READABLE)
        redisAsyncHandleRead(ac);
      if (!freed && (ready & UV_WRITABLE))
        redisAsyncHandleWrite(ac);
    }
    if (!freed)
      self->freed_flag = nullptr;
  }
};

PollEvents* events_of(void* privdata) {
  return static_cast<PollEvents*>(privdata);
}

} // namespace

bool attach_to_loop(redisAsyncContext* ac, uv_loop_t* loop) {
  if (ac->ev.data)
    return false;
  auto* ev = new PollEvents;
  ev->context = ac;
  if (ev->poll.init([&](uv_poll_t* p) { return uv_poll_init_socket(loop, p, ac->c.fd); }) < 0) {
    delete ev;
    return false;
  }
  ev->poll.set_data(ev);
  ac->ev.data = ev;
  ac->ev.addRead = [](void* p) {
    events_of(p)->events |= UV_READABLE;
    events_of(p)->update();
  };
  ac->ev.delRead = [](void* p) {
    events_of(p)->events &= ~UV_READABLE;
    events_of(p)->update();
  };
  ac->ev.addWrite = [](void* p) {
    events_of(p)->events |= UV_WRITABLE;
    events_of(p)->update();
  };
  ac->ev.delWrite = [](void* p) {
    events_of(p)->events &= ~UV_WRITABLE;
    events_of(p)->update();
  };
  ac->ev.cleanup = [](void* p) { // before hiredis closes the socket
    PollEvents* events = events_of(p);
    if (events->freed_flag)
      *events->freed_flag = true;
    delete events; // closes the poll handle
  };
  return true;
}

} // namespace services
