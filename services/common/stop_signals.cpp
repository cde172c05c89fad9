// Graceful stop on SIGTERM/SIGINT with a hard deadline (see stop_signals.h).
#include "common/stop_signals.h"

#include "common/log.h"

namespace services {

StopSignals::StopSignals(uv_loop_t* loop, std::function<void()> on_stop, std::uint64_t grace_ms)
    : loop_(loop), on_stop_(std::move(on_stop)), grace_ms_(grace_ms) {
  for (auto [handle, signum] : {std::pair{&sigterm_, SIGTERM}, std::pair{&sigint_, SIGINT}}) {
    uvx::check(handle->init([&](uv_signal_t* s) { return uv_signal_init(loop_, s); }),
               "uv_signal_init");
    handle->set_data(this);
    uvx::check(uv_signal_start(
                   handle->get(),
                   [](uv_signal_t* s, int sig) {
                     auto* self = uvx::Handle<uv_signal_t>::owner<StopSignals>(s);
                     if (!self)
                       return;
                     log::info("{} received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                     self->stop();
                   },
                   signum),
               "uv_signal_start");
    uv_unref(handle->base()); // waiting for a signal alone must not keep the loop running
  }
}

void StopSignals::on_deadline() {
  uv_stop(loop_);
}

void StopSignals::stop() {
  if (std::exchange(stopping_, true))
    return;
  deadline_.init(loop_, this);
  deadline_.start<&StopSignals::on_deadline>(grace_ms_);
  deadline_.unref();
  sigterm_.close();
  sigint_.close();
  if (on_stop_)
    on_stop_();
}

void finish_loop(uv_loop_t* loop) {
  for (int i = 0; i < 4; ++i)
    uv_run(loop, UV_RUN_NOWAIT);
  uv_loop_close(loop);
}

} // namespace services
