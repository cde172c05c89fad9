// The active health check of one server, every interval: a TCP connect, then, for the http and
// redis types, a request and the first line of the reply (balance/check_protocol.h judges it).
// The whole probe has one timeout. Server::record_check turns results into up/down
// (rise/fall); on a change the callback runs (the Backend logs it and serves queued clients).
//
// A probe that hamba itself could not start or carry (no file descriptors, no memory:
// base/descriptors.h) is not a result at all: it is logged and tried again at the next
// interval, and never counts against the server.
#pragma once

#include "balance/check_protocol.h"
#include "balance/server.h"
#include "base/uv_handle.h"
#include "base/uv_request.h"

#include <functional>
#include <memory>

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
  void on_written(int status);
  void on_read(ssize_t nread);
  void stop_probe();                              // closes the probe, arms the next one
  void finish_probe(bool ok, std::string detail); // by value: it may be the protocol's, freed here
  void abandon_probe(int status);                 // hamba's own failure: no result
  std::unique_ptr<CheckProtocol> make_protocol() const;

  uv_loop_t* loop_;
  ServerPtr server_;
  config::HealthCheck params_;
  Callback on_change_;
  uvx::Timer timer_;            // next probe, or the running probe's timeout
  uvx::Handle<uv_tcp_t> probe_; // the probe's connection, if one runs
  uvx::Requests<uv_connect_t> connect_;
  // Probes not run because hamba itself was short of descriptors or memory (never counted
  // against the server), and the loop time of the last line logged about them (one a second).
  uint64_t local_errors_ = 0;
  uint64_t last_local_log_ = 0;
  uvx::Requests<uv_write_t, std::string> write_; // the request, with its bytes
  std::unique_ptr<CheckProtocol> protocol_;      // the running probe's judge
  char buffer_[512];                             // reads of the reply (bounded by the protocol)
};

} // namespace hamba::balance
