// The run queue: posted work runs at the loop's next turn, once, in order, never inside the
// call that posted it.
#include "base/run_queue.h"

#include <doctest/doctest.h>
#include <utility>
#include <vector>

using namespace hamba::base;

namespace {
struct Counter {
  std::vector<int>* log;
  int id;
  RunQueue* again = nullptr; // posts itself once more from its run
  RunQueue::Task task{[](void* self) { static_cast<Counter*>(self)->run(); }, this};
  void run() {
    log->push_back(id);
    if (again) {
      RunQueue* q = std::exchange(again, nullptr);
      q->post(task);
    }
  }
};
} // namespace

TEST_CASE("posted tasks run at the next turn, once each, in order") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<int> log;
  {
    RunQueue runs;
    runs.init(&loop);
    Counter a{&log, 1}, b{&log, 2};
    runs.post(a.task);
    runs.post(b.task);
    runs.post(a.task);  // already posted: nothing more
    CHECK(log.empty()); // nothing runs inside post()
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(log == std::vector<int>{1, 2});
    // A task posted while the queue runs waits for the next turn, which does not block.
    a.again = &runs;
    runs.post(a.task);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(log == std::vector<int>{1, 2, 1});
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(log == std::vector<int>{1, 2, 1, 1});
    Counter c{&log, 3};
    runs.post(c.task);
    c.task.cancel();
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(log.size() == 4);
    runs.close();
  }
  uv_run(&loop, UV_RUN_DEFAULT); // close callbacks
  CHECK(uv_loop_close(&loop) == 0);
}
