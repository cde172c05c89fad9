// The health check of one server: a TCP connect every interval (HAProxy's default check).
// A connect that succeeds within the timeout is a success; refused, unreachable or too slow is
// a failure. Server::record_check turns results into up/down (rise/fall); on a change the
// callback runs (the backend logs it and serves queued clients).
#pragma once

#include "balance/server.h"
#include "base/uv_handle.h"
#include "base/uv_request.h"

#include <functional>

namespace hamba::balance {

class HealthCheck {
public:
  using Callback = std::function<void(Server& server)>; // the server went up or down
  HealthCheck(uv_loop_t* loop, ServerPtr server, const config::HealthCheck& params,
              Callback on_change);
  ~HealthCheck();
  HealthCheck(const HealthCheck&) = delete;
  HealthCheck& operator=(const HealthCheck&) = delete;

  void set_params(const config::HealthCheck& params) { params_ = params; }

private:
  void arm(uint64_t delay_ms); // the timer fires on_timer() once, after delay_ms
  void on_timer();
  void start_probe();
  void on_connected(int status);
  void finish_probe(bool ok, const std::string& error);

  uv_loop_t* loop_;
  ServerPtr server_;
  config::HealthCheck params_;
  Callback on_change_;
  uvx::Timer timer_;            // next probe, or the running probe's timeout
  uvx::Handle<uv_tcp_t> probe_; // the connect in progress, if any
  uvx::Requests<uv_connect_t> connect_;
  // Probes not run because hamba itself was short of descriptors or memory (never counted
  // against the server), and the loop time of the last line logged about them (one a second).
  uint64_t local_errors_ = 0;
  uint64_t last_local_log_ = 0;
};

} // namespace hamba::balance
