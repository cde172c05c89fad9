// control/stats_collect.cpp against a running engine: every counter of a frontend and of its
// servers, routes' included, reaches the snapshot and /stats.json.
#include "control/stats_collect.h"
#include "control/stats_render.h"
#include "engine/engine.h"
#include "engine_support.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace hamba;
using engine_support::free_port;
using engine_support::shut_down;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
} // namespace

TEST_CASE("collect_stats: every frontend and server counter reaches the snapshot") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    engine::Engine engine(&loop);
    config::Config c;
    config::Frontend fc;
    uint16_t port = free_port();
    fc.name = "fe";
    fc.bind = {"127.0.0.1", port};
    fc.check.enabled = false;
    fc.servers.push_back(config::Server{config::parse_endpoint("127.0.0.1:1001")});
    config::Route route;
    route.name = "a";
    route.sni = {"a.test"};
    route.servers.push_back(config::Server{config::parse_endpoint("127.0.0.1:1002")});
    fc.routes.push_back(route);
    c.frontends.push_back(fc);
    engine.apply(c);
    REQUIRE(engine.frontends().size() == 1);
    const auto& frontend = *engine.frontends()[0];
    engine::FrontendCounters& counters = *frontend.shared_counters();
    counters.total = 2;
    counters.bytes_in = 3;
    counters.bytes_out = 4;
    counters.failed = 5;
    counters.timeouts = 7;
    counters.abandoned = 8;
    counters.proxy_header_errors = 9;
    counters.client_hello_errors = 10;
    for (size_t i = 0; i < 5; ++i)
      counters.accept_errors[i] = 11 + i;
    REQUIRE(frontend.routes().size() == 1);
    REQUIRE(frontend.routes()[0]->backend.servers().size() == 1);
    balance::ServerCounters& routed = frontend.routes()[0]->backend.servers()[0]->counters;
    routed.total = 21;
    routed.connect_errors = 22;
    routed.retries = 23;
    routed.checks_failed = 24;
    routed.traffic_failures = 25;
    routed.downs = 26;
    routed.resets_by_server = 27;
    routed.resets_by_client = 28;

    control::StatsSnapshot stats = control::collect_stats(engine, 0);
    REQUIRE(stats.frontends.size() == 1);
    const control::FrontendStats& f = stats.frontends[0];
    CHECK(f.total == 2);
    CHECK(f.errors == 5);
    CHECK(f.abandoned == 8);
    CHECK(f.accept_errors[4] == 15);
    REQUIRE(f.servers.size() == 2);
    CHECK(f.servers[1].backend == "a");
    CHECK(f.servers[1].downs == 26);
    CHECK(f.servers[1].resets_by_client == 28);

    std::string j = control::render_stats_json(stats);
    INFO(j);
    CHECK(has(j, "\"total\":2,\"bytes_in\":3,\"bytes_out\":4,\"errors\":5,\"timeouts\":7,"
                 "\"queued\":0,\"proxy_header_errors\":9,\"client_hello_errors\":10,"));
    CHECK(has(j, "\"abandoned\":8,"));
    CHECK(has(j, "\"accept_errors_emfile\":11,"));
    CHECK(has(j, "\"accept_errors_other\":15,"));
    CHECK(has(j, "\"connect_errors\":22,\"retries\":23,\"checks_failed\":24,"
                 "\"resets_by_server\":27,\"resets_by_client\":28,"));
    CHECK(has(j, "\"traffic_failures\":25,\"downs\":26,"));

    shut_down(engine, loop);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
