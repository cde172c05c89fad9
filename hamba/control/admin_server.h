// The admin endpoints (ADMIN=ADDR:PORT or --admin): the stats page at /, Prometheus metrics at
// /metrics and JSON at /stats.json, served by the project's one small HTTP server
// (base/http_server.h). Nothing listens unless an address is configured.
//
//     AdminServer admin(loop, [&] { return collect_stats(engine); });
//     admin.listen("127.0.0.1:8404");      // throws naming the address when it cannot bind
#pragma once

#include "control/stats_snapshot.h"

#include <functional>
#include <memory>
#include <string>
#include <uv.h>

namespace http {
class HttpServer;
}

namespace hamba::control {

class AdminServer {
public:
  using Collect = std::function<StatsSnapshot()>; // called on the loop, once per request

  AdminServer(uv_loop_t* loop, Collect collect);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Serves on `address` ("127.0.0.1:8404", ":8404", "[::1]:8404"; numeric hosts only), or
  // stops serving when it is empty. Moving to another address closes the old listener first.
  // Throws std::runtime_error naming the address; the previous one is then closed too.
  void listen(const std::string& address);
  const std::string& address() const { return address_; }
  int port() const; // the bound port, 0 when not serving

private:
  uv_loop_t* loop_;
  Collect collect_;
  std::string address_;
  std::unique_ptr<http::HttpServer> server_;
};

} // namespace hamba::control
