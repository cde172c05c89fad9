// The active health check of one server, every interval: a TCP connect, then, for the http and
// redis types, a request and the first line of the reply (balance/check_protocol.h judges it).
// With server_tls the probe speaks TLS as traffic does (net/tls_transport.h): a tcp check is a
// full handshake (a certificate the CA does not verify fails it, and says why), and the http and
// redis checks run inside it.
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
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

#include <functional>
#include <memory>

namespace hamba::balance {

class HealthCheck final : net::TransportHandler {
public:
  using Callback = std::function<void(Server& server)>; // the server went up or down
  // `tls`: server_tls's context, or nullptr (plain TCP).
  HealthCheck(uv_loop_t* loop, ServerPtr server, const config::HealthCheck& params,
              Callback on_change, std::shared_ptr<const net::TlsClientContext> tls = nullptr);
  ~HealthCheck();
  HealthCheck(const HealthCheck&) = delete;
  HealthCheck& operator=(const HealthCheck&) = delete;

  void set_params(const config::HealthCheck& params) { params_ = params; }
  // The next probes use it (a reconfigure loaded the files again).
  void set_tls(std::shared_ptr<const net::TlsClientContext> tls) { tls_context_ = std::move(tls); }

private:
  void arm(uint64_t delay_ms); // the timer fires on_timer() once, after delay_ms
  void on_timer();
  void start_probe();
  // --- the probe's transports ---
  void on_connected(net::Transport& t, int status) override;
  void on_read(net::Transport& from, const char* data, size_t len) override;
  void on_eof(net::Transport& from) override;
  void on_error(net::Transport& from, int error) override;
  void on_drained(net::Transport&) override {}
  void on_shut(net::Transport&) override {}
  void send_request(net::Transport& io);
  void judge(Verdict v);
  void stop_probe();                              // closes the probe, arms the next one
  void finish_probe(bool ok, std::string detail); // by value: it may be the protocol's, freed here
  void abandon_probe(int status);                 // hamba's own failure: no result
  std::unique_ptr<CheckProtocol> make_protocol() const;

  uv_loop_t* loop_;
  ServerPtr server_;
  config::HealthCheck params_;
  Callback on_change_;
  uvx::Timer timer_; // next probe, or the running probe's timeout
  // The probe's connection (kept, closed, until the next probe replaces it: a transport is
  // never destroyed inside its own callback), and TLS over it with server_tls.
  std::unique_ptr<net::TcpTransport> tcp_;
  std::unique_ptr<net::TlsTransport> tls_;
  std::shared_ptr<const net::TlsClientContext> tls_context_;
  bool probing_ = false;
  // Probes not run because hamba itself was short of descriptors or memory (never counted
  // against the server), and the loop time of the last line logged about them (one a second).
  uint64_t local_errors_ = 0;
  uint64_t last_local_log_ = 0;
  std::unique_ptr<CheckProtocol> protocol_; // the running probe's judge
};

} // namespace hamba::balance
