// Balancing: the policies, server health (rise/fall) and the backend's choices (the pool).
#include "balance/backend.h"
#include "balance/policy.h"
#include "balance/resolver.h"

#include <doctest/doctest.h>
#include <map>

using namespace hamba;
using namespace hamba::balance;

namespace {
ServerPtr make_server(const std::string& ip, uint16_t port, int maxconn = 32) {
  sockaddr_storage a;
  REQUIRE(ip_literal_sockaddr(ip, port, a));
  return std::make_shared<Server>(config::Endpoint{ip, port}, reinterpret_cast<sockaddr*>(&a),
                                  maxconn);
}

std::vector<ServerPtr> three() {
  return {make_server("10.0.0.1", 80), make_server("10.0.0.2", 80), make_server("10.0.0.3", 80)};
}

// Picks as a worker does: from a snapshot of `servers` as they are now (the main loop publishes
// one after every change). The slot taken is given back at once (a connection that ends before
// the next one starts) unless `keep`.
struct TestPicker {
  config::Balance balance = config::Balance::roundrobin;
  std::shared_ptr<std::atomic<uint64_t>> turn = std::make_shared<std::atomic<uint64_t>>(0);
  Picker picker;
  Server* pick(const std::vector<ServerPtr>& servers, const Server* avoid = nullptr,
               bool keep = false) {
    auto pool = make_snapshot(servers, balance, turn, SlowStart::Clock::now());
    const PoolSnapshot::Entry* e = picker.pick(*pool, avoid);
    if (!e)
      return nullptr;
    if (!keep)
      e->server->release();
    return e->server.get();
  }
};

// Simulates sequential connections that end before the next one starts.
std::map<std::string, int> sequential(TestPicker& p, const std::vector<ServerPtr>& servers, int n) {
  std::map<std::string, int> count;
  for (int i = 0; i < n; ++i) {
    Server* s = p.pick(servers);
    REQUIRE(s);
    ++count[s->address()];
  }
  return count;
}

void take_down(Server& s) {
  for (int i = 0; i < 3; ++i)
    s.record_check(false, "ECONNREFUSED", 2, 3, 1);
}
} // namespace

TEST_CASE("roundrobin is strict: 30 sequential connections over 3 servers land 10/10/10") {
  auto servers = three();
  TestPicker p{config::Balance::roundrobin};
  auto count = sequential(p, servers, 30);
  CHECK(count["10.0.0.1:80"] == 10);
  CHECK(count["10.0.0.2:80"] == 10);
  CHECK(count["10.0.0.3:80"] == 10);
  // In order, too.
  CHECK(p.pick(servers) == servers[0].get());
  CHECK(p.pick(servers) == servers[1].get());
}

TEST_CASE("roundrobin skips servers that are down, disabled, draining, vanished or full") {
  auto servers = three();
  take_down(*servers[1]);
  CHECK_FALSE(servers[1]->up());
  TestPicker p;
  auto count = sequential(p, servers, 20);
  CHECK(count["10.0.0.1:80"] == 10);
  CHECK(count["10.0.0.3:80"] == 10);
  CHECK(count.count("10.0.0.2:80") == 0);

  servers[0]->set_state(config::ServerState::disabled);
  servers[2]->set_state(config::ServerState::drain);
  // No server up that may take it: the enabled one that is down is tried rather than none.
  CHECK(p.pick(servers) == servers[1].get());
  servers[1]->set_state(config::ServerState::disabled);
  CHECK(p.pick(servers) == nullptr);
  servers[2]->set_state(config::ServerState::enabled);
  servers[2]->set_vanished(true);
  CHECK(p.pick(servers) == nullptr);
  servers[2]->set_vanished(false);
  servers[2]->counters.current = 32; // full
  CHECK(p.pick(servers) == nullptr);
  servers[2]->counters.current = 31;
  CHECK(p.pick(servers) == servers[2].get());
}

TEST_CASE("a server that just failed is avoided unless it is the only one") {
  auto servers = three();
  TestPicker p;
  for (int i = 0; i < 6; ++i)
    CHECK(p.pick(servers, servers[1].get()) != servers[1].get());
  std::vector<ServerPtr> one{servers[0]};
  CHECK(p.pick(one, servers[0].get()) == servers[0].get());
}

TEST_CASE("leastconn picks the server with the fewest sessions, taking turns among equals") {
  auto servers = three();
  TestPicker p{config::Balance::leastconn};
  servers[0]->counters.current = 5;
  servers[1]->counters.current = 2;
  servers[2]->counters.current = 7;
  CHECK(p.pick(servers) == servers[1].get());
  // Equal counts: turns, like roundrobin.
  for (auto& s : servers)
    s->counters.current = 0;
  auto count = sequential(p, servers, 30);
  CHECK(count["10.0.0.1:80"] == 10);
  CHECK(count["10.0.0.2:80"] == 10);
  CHECK(count["10.0.0.3:80"] == 10);
  // Long sessions accumulate: each new one goes to the least loaded.
  for (int i = 0; i < 9; ++i)
    p.pick(servers, nullptr, true);
  for (auto& s : servers)
    CHECK(s->counters.current == 3);
}

TEST_CASE("health: down after fall failures, up after rise successes") {
  auto s = make_server("10.0.0.1", 80);
  CHECK(s->up());
  CHECK_FALSE(s->record_check(false, "ECONNREFUSED", 2, 3, 1));
  CHECK_FALSE(s->record_check(false, "ECONNREFUSED", 2, 3, 2));
  CHECK(s->up());
  CHECK(s->record_check(false, "ECONNREFUSED", 2, 3, 3));
  CHECK_FALSE(s->up());
  CHECK(s->last_check_error() == "ECONNREFUSED");
  CHECK(s->last_check_time_ms() == 3);
  CHECK_FALSE(s->record_check(true, "", 2, 3, 4));
  CHECK_FALSE(s->up());
  CHECK_FALSE(s->record_check(false, "x", 2, 3, 5)); // resets the successes
  CHECK_FALSE(s->record_check(true, "", 2, 3, 6));
  CHECK(s->record_check(true, "", 2, 3, 7));
  CHECK(s->up());
  CHECK(s->last_check_ok());
  // A success in between resets the failures.
  s->record_check(false, "x", 2, 3, 8);
  s->record_check(false, "x", 2, 3, 9);
  s->record_check(true, "", 2, 3, 10);
  s->record_check(false, "x", 2, 3, 11);
  CHECK(s->up());
  CHECK(s->counters.checks_failed == 7);
}

namespace {
// A pick from the backend's pool as it is now.
ServerPtr pick_from(const Backend& set) {
  auto pool =
      make_snapshot(set.servers(), config::Balance::roundrobin, nullptr, SlowStart::Clock::now());
  Picker picker;
  const PoolSnapshot::Entry* e = picker.pick(*pool);
  if (!e)
    return nullptr;
  e->server->release();
  return e->server;
}

config::Frontend frontend_of(std::vector<std::string> servers) {
  config::Frontend f;
  f.name = "test";
  f.bind = {"", 80};
  f.check.enabled = false;
  for (auto& b : servers)
    f.servers.push_back(config::Server{config::parse_endpoint(b)});
  return f;
}
} // namespace

TEST_CASE("backend: literal addresses, update keeps servers, admin states, all-down fallback") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    int available = 0;
    Backend set(&loop, frontend_of({"127.0.0.1:1001", "127.0.0.1:1002"}),
                [&](Urgency) { ++available; });
    set.start();
    REQUIRE(set.servers().size() == 2);
    CHECK(set.servers()[0]->address() == "127.0.0.1:1001");
    CHECK(available > 0);
    ServerPtr first = set.servers()[0];
    first->counters.total = 42;

    // A new configuration: 1001 stays (with its counters), 1002 goes, 1003 comes.
    set.update(frontend_of({"127.0.0.1:1001", "127.0.0.1:1003"}));
    REQUIRE(set.servers().size() == 2);
    CHECK(set.servers()[0] == first);
    CHECK(set.servers()[0]->counters.total == 42);
    CHECK(set.servers()[1]->address() == "127.0.0.1:1003");

    // drain by address: no new sessions there.
    CHECK(set.set_state("127.0.0.1:1001", config::ServerState::drain) == 1);
    for (int i = 0; i < 4; ++i)
      CHECK(pick_from(set)->address() == "127.0.0.1:1003");
    CHECK(set.set_state("127.0.0.1:9999", config::ServerState::drain) == 0);
    CHECK(set.set_state("127.0.0.1:1001", config::ServerState::enabled) == 1);

    // Every server down: try them anyway rather than refuse everyone.
    for (auto& s : set.servers())
      take_down(*s);
    CHECK(pick_from(set) != nullptr);
    // ...but never a disabled one.
    for (auto& s : set.servers())
      s->set_state(config::ServerState::disabled);
    CHECK(pick_from(set) == nullptr);

    auto names = set.names();
    REQUIRE(names.size() == 2);
    CHECK(names[0].resolved);
    CHECK(names[0].addresses == 1);
    set.stop();
  }
  uv_run(&loop, UV_RUN_DEFAULT); // runs the close callbacks
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("a server without maxconn always has room") {
  ServerPtr s = make_server("127.0.0.1", 1, 0);
  s->counters.current = 1'000'000;
  CHECK(s->has_room());
  ServerPtr limited = make_server("127.0.0.1", 2, 2);
  limited->counters.current = 2;
  CHECK(!limited->has_room());
}

TEST_CASE("backend: a server removed and added again while a session holds it takes it back") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    auto with = [](std::vector<std::string> servers) {
      config::Frontend f = frontend_of(std::move(servers));
      for (auto& s : f.servers)
        s.maxconn = 1;
      return f;
    };
    Backend set(&loop, with({"127.0.0.1:1001", "127.0.0.1:1002"}), [](Urgency) {});
    set.start();
    REQUIRE(set.servers().size() == 2);
    ServerPtr held = set.servers()[0]; // as a session holds its server
    REQUIRE(held->address() == "127.0.0.1:1001");
    REQUIRE(held->try_acquire(held->maxconn()));
    held->counters.total = 7;

    set.update(with({"127.0.0.1:1002"}));
    REQUIRE(set.servers().size() == 1);
    CHECK(held->vanished()); // a worker's older view must not pick it any more

    set.update(with({"127.0.0.1:1001", "127.0.0.1:1002"}));
    REQUIRE(set.servers().size() == 2);
    ServerPtr back = set.servers()[0];
    REQUIRE(back->address() == "127.0.0.1:1001");
    CHECK(back == held);
    CHECK(!back->vanished());
    CHECK(back->counters.total == 7);
    CHECK(!back->has_room()); // maxconn 1, and the session is still open
    for (int i = 0; i < 4; ++i)
      CHECK(pick_from(set)->address() == "127.0.0.1:1002");

    // Once nothing holds it, a server removed and added again starts afresh.
    back.reset();
    held->release();
    held.reset();
    set.update(with({"127.0.0.1:1002"}));
    set.update(with({"127.0.0.1:1001", "127.0.0.1:1002"}));
    REQUIRE(set.servers().size() == 2);
    CHECK(set.servers()[0]->counters.total == 0);
    CHECK(set.servers()[0]->has_room());
    set.stop();
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}
