// A route's servers in the stats: /metrics gives them a backend label (the frontend's own
// servers keep theirs unchanged), /stats.json names each server's backend, and the frontend's
// PROXY header and ClientHello error counters are shown.
#include "control/stats_render.h"

#include <doctest/doctest.h>

using namespace hamba::control;

namespace {

StatsSnapshot with_route() {
  StatsSnapshot s;
  s.version = "test";
  FrontendStats f;
  f.name = "tls";
  f.bind = ":443";
  f.balance = "roundrobin";
  f.proxy_header_errors = 4;
  f.client_hello_errors = 7;
  ServerStats own;
  own.name = own.address = "127.0.0.1:9000";
  ServerStats routed;
  routed.backend = "a";
  routed.name = routed.address = "127.0.0.1:9001";
  routed.total = 3;
  f.servers = {own, routed};
  s.frontends.push_back(f);
  return s;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("stats: a route's servers carry their backend, the error counters are shown") {
  std::string m = render_metrics(with_route());
  CHECK(has(m, "hamba_server_connections_total{frontend=\"tls\",server=\"127.0.0.1:9000\","
               "address=\"127.0.0.1:9000\"} 0\n"));
  CHECK(has(m, "hamba_server_connections_total{frontend=\"tls\",backend=\"a\",server=\"127.0.0.1:"
               "9001\",address=\"127.0.0.1:9001\"} 3\n"));
  CHECK(has(m, "hamba_server_admin_state{frontend=\"tls\",backend=\"a\","));
  CHECK(has(m, "hamba_frontend_proxy_header_errors_total{frontend=\"tls\"} 4\n"));
  CHECK(has(m, "hamba_frontend_client_hello_errors_total{frontend=\"tls\"} 7\n"));
  std::string j = render_stats_json(with_route());
  CHECK(has(j, "\"proxy_header_errors\":4,\"client_hello_errors\":7"));
  CHECK(has(j, "{\"backend\":\"default\",\"name\":\"127.0.0.1:9000\""));
  CHECK(has(j, "{\"backend\":\"a\",\"name\":\"127.0.0.1:9001\""));
  CHECK(has(render_stats_html(with_route(), 2), "a: 127.0.0.1:9001"));
}
