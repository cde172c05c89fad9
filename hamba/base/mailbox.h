// Messages from other threads to one libuv loop: closures queued under a mutex and run on the
// loop's thread, woken by a uv_async_t (libuv coalesces wakeups, so a burst costs one).
//
//     uvx::Mailbox<Worker> inbox;            // a member of Worker
//     inbox.init(loop, this);                // on the loop's thread
//     inbox.post([](Worker& w) { ... });     // from any thread; runs on the loop, in order
//     inbox.close();                         // on the loop's thread; later posts are dropped
//
// The mutex is taken once per message on each side: messages carry configuration and rare
// reports (a failed connect, a freed slot), never bytes, so the data path takes no lock.
#pragma once

#include "base/uv_handle.h"

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace uvx {

template <typename Owner> class Mailbox {
public:
  using Message = std::function<void(Owner&)>;

  void init(uv_loop_t* loop, Owner* owner) {
    owner_ = owner;
    check(async_.init([&](uv_async_t* a) {
      return uv_async_init(loop, a, [](uv_async_t* h) {
        if (auto* self = Handle<uv_async_t>::owner<Mailbox>(h))
          self->deliver();
      });
    }),
          "uv_async_init");
    async_.set_data(this);
    std::lock_guard lock(mutex_);
    open_ = true;
  }

  // From any thread. False when the mailbox is closed (the message is dropped).
  bool post(Message message) {
    std::lock_guard lock(mutex_);
    if (!open_)
      return false;
    queue_.push_back(std::move(message));
    if (queue_.size() == 1)
      uv_async_send(async_.get()); // under the lock: close() cannot free the handle meanwhile
    return true;
  }

  // The mailbox keeps the loop alive while open; a worker loop that must end when its work is
  // done unrefs it.
  void unref() { uv_unref(async_.base()); }

  // On the loop's thread. Messages still queued are dropped.
  void close() {
    {
      std::lock_guard lock(mutex_);
      open_ = false;
      queue_.clear();
    }
    async_.close();
  }

private:
  void deliver() {
    std::vector<Message> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(queue_);
    }
    for (Message& m : batch)
      m(*owner_);
  }

  Owner* owner_ = nullptr;
  Handle<uv_async_t> async_;
  std::mutex mutex_;
  std::vector<Message> queue_;
  bool open_ = false;
};

} // namespace uvx
