// The engine's apply(): listeners kept, rebound or closed; a failed apply changes nothing;
// admin states by address.
#include "engine/engine.h"
#include "engine_support.h"
#include "net/listener.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace hamba;
using engine_support::free_port;
using engine_support::shut_down;

namespace {

// Whether something listens on 127.0.0.1:port (a bind attempt fails with EADDRINUSE).
bool listening(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool taken = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  close(fd);
  return taken;
}

config::Config one(uint16_t port, std::vector<std::string> backends) {
  config::Config c;
  config::Frontend f;
  f.name = std::to_string(port);
  f.bind = {"127.0.0.1", port};
  f.check.enabled = false;
  for (auto& b : backends)
    f.servers.push_back(config::Server{config::parse_endpoint(b)});
  c.frontends.push_back(f);
  return c;
}
// The workers close a removed listener when its message reaches them: a moment later.
template <typename F> bool eventually(F&& f) {
  for (int i = 0; i < 200; ++i) {
    if (f())
      return true;
    usleep(10'000);
  }
  return false;
}
} // namespace

TEST_CASE("engine: apply keeps, rebinds and closes listeners; failures change nothing") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    engine::Engine engine(&loop);
    uint16_t p1 = free_port(), p2 = free_port();
    engine.apply(one(p1, {"127.0.0.1:1001", "127.0.0.1:1002"}));
    CHECK(listening(p1));
    REQUIRE(engine.frontends().size() == 1);
    auto first = engine.frontends()[0];
    CHECK(first->backend().servers().size() == 2);

    // Same bind, other backends: the same frontend object (its listener stays), updated.
    engine.apply(one(p1, {"127.0.0.1:1003"}));
    REQUIRE(engine.frontends().size() == 1);
    CHECK(engine.frontends()[0] == first);
    CHECK(first->backend().servers().size() == 1);
    CHECK(first->backend().servers()[0]->address() == "127.0.0.1:1003");

    // A port that is taken: refused, the running config stays.
    int blocker = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(p2);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(blocker, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(blocker, 1) == 0);
    CHECK_THROWS_AS(engine.apply(one(p2, {"127.0.0.1:1004"})), net::ListenError);
    CHECK(engine.frontends()[0] == first);
    CHECK(engine.config().frontends[0].bind.port == p1);
    CHECK(listening(p1));
    close(blocker);

    // An invalid config: refused too.
    CHECK_THROWS_AS(engine.apply(one(p2, {})), config::ConfigError);
    CHECK(engine.config().frontends[0].bind.port == p1);

    // Another port: the new one listens, the old one is closed.
    engine.apply(one(p2, {"127.0.0.1:1004"}));
    CHECK(listening(p2));
    CHECK(eventually([&] { return !listening(p1); }));

    // Admin state by address, reflected in the running config.
    CHECK(engine.set_server_state("127.0.0.1:1004", config::ServerState::drain) == 1);
    CHECK(engine.config().frontends[0].servers[0].state == config::ServerState::drain);
    CHECK(engine.frontends()[0]->backend().servers()[0]->state() == config::ServerState::drain);
    CHECK(engine.set_server_state("10.9.9.9:1", config::ServerState::disabled) == 0);

    // Shutdown with no session: done as soon as every worker says so.
    shut_down(engine, loop);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("engine: weight and admin state reach a server that only an SNI route has") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    engine::Engine engine(&loop);
    config::Config c = one(free_port(), {"127.0.0.1:1001"});
    config::Route route;
    route.name = "a";
    route.sni = {"a.test"};
    route.servers.push_back(config::Server{config::parse_endpoint("127.0.0.1:1002")});
    c.frontends[0].routes.push_back(route);
    engine.apply(c);
    REQUIRE(engine.frontends().size() == 1);
    const auto& frontend = *engine.frontends()[0];
    REQUIRE(frontend.routes().size() == 1);
    const auto& routed = frontend.routes()[0]->backend.servers();
    REQUIRE(routed.size() == 1);

    CHECK(engine.set_server_weight("127.0.0.1:1002", 5) == 1);
    CHECK(routed[0]->weight() == 5);
    CHECK(engine.config().frontends[0].routes[0].servers[0].weight == 5); // showconfig
    CHECK(frontend.backend().servers()[0]->weight() == 1); // the default route's server stays

    CHECK(engine.set_server_state("127.0.0.1:1002", config::ServerState::drain) == 1);
    CHECK(routed[0]->state() == config::ServerState::drain);
    CHECK(engine.config().frontends[0].routes[0].servers[0].state == config::ServerState::drain);

    shut_down(engine, loop);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
