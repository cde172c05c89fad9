// TCP-connect health checks; see health_check.h.
#include "balance/health_check.h"

#include "base/descriptors.h"
#include "base/log.h"

#include <chrono>

namespace hamba::balance {

namespace {
int64_t unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}
} // namespace

HealthCheck::HealthCheck(uv_loop_t* loop, ServerPtr server, const config::HealthCheck& params,
                         Callback on_change)
    : loop_(loop), server_(std::move(server)), params_(params), on_change_(std::move(on_change)) {
  timer_.init(loop_, this);
  // The first probe soon, spread a little so many servers are not checked in one burst.
  arm(reinterpret_cast<uintptr_t>(this) / 64 % 100);
}

HealthCheck::~HealthCheck() = default; // connect_ detaches: its callback only frees it

void HealthCheck::arm(uint64_t delay_ms) {
  timer_.start<&HealthCheck::on_timer>(delay_ms);
}

void HealthCheck::on_timer() {
  if (probe_)
    finish_probe(false, "timeout"); // the timer was the probe's timeout
  else
    start_probe();
}

void HealthCheck::start_probe() {
  int rc = probe_.init([&](uv_tcp_t* h) { return uv_tcp_init(loop_, h); });
  if (rc == 0)
    rc = connect_.start<&HealthCheck::on_connected>(this, [&](uv_connect_t* req, auto done) {
      return uv_tcp_connect(req, probe_.get(), server_->sockaddr_ptr(), done);
    });
  if (rc == 0) {
    arm(static_cast<uint64_t>(params_.timeout.count()));
    return;
  }
  if (is_local_error(rc)) {
    // hamba's own shortage (no descriptor, no memory), not the server's: no verdict, and the
    // next probe comes at the next interval.
    probe_.close();
    ++local_errors_;
    uint64_t now = uv_now(loop_);
    if (now - last_local_log_ >= 1000 || last_local_log_ == 0) {
      log::warn("health check of server {} not run: hamba is short of descriptors or memory "
                "({}), not the server; {} check(s) skipped so far",
                server_->label(), uvx::error_text(rc), local_errors_);
      last_local_log_ = now;
    }
    arm(static_cast<uint64_t>(params_.interval.count()));
    return;
  }
  // Could not even start for another reason: a failure, like a refused connect.
  finish_probe(false, uvx::error_text(rc));
}

void HealthCheck::on_connected(int status) {
  if (is_local_error(status)) { // ours (ENOBUFS...), not the server's: no verdict
    connect_.detach();
    probe_.close();
    arm(static_cast<uint64_t>(params_.interval.count()));
    return;
  }
  finish_probe(status == 0, status == 0 ? std::string() : uvx::error_text(status));
}

void HealthCheck::finish_probe(bool ok, const std::string& error) {
  connect_.detach(); // a timeout: the connect's callback (ECANCELED, after the close) is ignored
  probe_.close();
  arm(static_cast<uint64_t>(params_.interval.count()));
  if (server_->record_check(ok, error, params_.rise, params_.fall, unix_ms()))
    on_change_(*server_); // last: the callback may destroy this check
}

} // namespace hamba::balance
