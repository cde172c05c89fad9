// Work posted to a loop's next turn: "wake, do not run". A callback that frees a slot, or ends
// a connection, must not serve a queue or accept the next client inline: that re-enters other
// objects halfway through their own callbacks and, repeated, recurses one stack level per
// client. It posts a Task here instead; the loop runs it after the current phase.
//
//     base::RunQueue runs;                    // a member of the loop's owner
//     runs.init(loop);
//     base::RunQueue::Task serve_task{[](void* self) { static_cast<Owner*>(self)->serve(); },
//     this}; runs.post(serve);                       // once: posting a posted task does nothing
//
// Tasks are intrusive (the object holds its own Task, so posting allocates nothing) and run in
// the order posted, from a uv_check handle (after the loop's I/O callbacks). Tasks posted while
// the queue runs wait for the next turn, and an idle handle keeps that turn from blocking in
// the poll meanwhile. A task's object must cancel it (or outlive its run); Task's destructor
// does. One loop owns a RunQueue.
#pragma once

#include "base/intrusive_list.h"
#include "base/uv_handle.h"

namespace hamba::base {

class RunQueue {
public:
  class Task {
  public:
    using Run = void (*)(void* owner);
    Task(Run run, void* owner) : run_(run), owner_(owner) {}
    bool posted() const { return link_.linked(); }
    void cancel() { link_.unlink(); }

  private:
    friend class RunQueue;
    ListLink link_;
    Run run_;
    void* owner_;
  };

  void init(uv_loop_t* loop) {
    uvx::check(check_.init([&](uv_check_t* c) { return uv_check_init(loop, c); }), "uv_check_init");
    check_.set_data(this);
    uvx::check(idle_.init([&](uv_idle_t* i) { return uv_idle_init(loop, i); }), "uv_idle_init");
    idle_.set_data(this);
  }
  void close() {
    tasks_.clear();
    check_.close();
    idle_.close();
  }
  void post(Task& task) {
    if (task.posted() || !check_)
      return;
    bool was_empty = tasks_.empty();
    tasks_.push_back(task);
    if (was_empty) {
      uv_check_start(check_.get(), [](uv_check_t* c) {
        if (auto* self = uvx::Handle<uv_check_t>::owner<RunQueue>(c))
          self->run();
      });
      // No blocking poll while tasks wait (one posted from a check runs at the next turn).
      uv_idle_start(idle_.get(), [](uv_idle_t*) {});
    }
  }
  bool empty() const { return tasks_.empty(); }

private:
  void run() {
    IntrusiveList<Task, &Task::link_> now;
    now.splice_back(tasks_);
    while (Task* t = now.pop_front())
      t->run_(t->owner_);
    if (tasks_.empty() && check_) {
      uv_check_stop(check_.get());
      uv_idle_stop(idle_.get());
    }
  }

  IntrusiveList<Task, &Task::link_> tasks_;
  uvx::Handle<uv_check_t> check_;
  uvx::Handle<uv_idle_t> idle_;
};

} // namespace hamba::base
