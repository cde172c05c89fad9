// SIGTERM and SIGINT for a service: call `on_stop` once (it closes servers and clients so the
// loop can end), and make sure the process is gone within a second even if something lingers.
//
//     services::StopSignals stop(loop, [&] { server.close(); });
//     uv_run(loop, UV_RUN_DEFAULT);
//     ... (objects owning handles destroyed here)
//     services::finish_loop(loop);   // lets libuv free the closed handles, then closes the loop
#pragma once

#include "base/uv_handle.h"

#include <functional>
#include <uv.h>

namespace services {

// How long an HTTP service drains on SIGTERM (http::HttpServer::drain) before it exits anyway:
// well inside docker stop's 10 s, and long enough for a line of requests to rng.
constexpr std::uint64_t kDrainMs = 1500;

class StopSignals {
public:
  // `grace_ms`: how long after the signal the loop may still run before uv_stop ends it.
  StopSignals(uv_loop_t* loop, std::function<void()> on_stop, std::uint64_t grace_ms = 800);
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  bool stopping() const { return stopping_; }
  // Does what a signal does (for a service that decides to stop by itself).
  void stop();

private:
  void on_deadline(); // the grace is over: uv_stop

  uv_loop_t* loop_;
  std::function<void()> on_stop_;
  std::uint64_t grace_ms_;
  bool stopping_ = false;
  uvx::Handle<uv_signal_t> sigterm_;
  uvx::Handle<uv_signal_t> sigint_;
  uvx::Timer deadline_;
};

// Runs the loop a last few rounds so the handles closed by destructors are freed (no leak
// reports under AddressSanitizer), without waiting for anything else; then closes the loop.
void finish_loop(uv_loop_t* loop);

} // namespace services
