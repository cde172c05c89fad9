// Backup servers (the set a snapshot puts in use) and balance: first, over snapshots as the
// workers pick from them.
#include "balance/policy.h"

#include <doctest/doctest.h>
#include <map>
#include <thread>

using namespace hamba;
using namespace hamba::balance;

namespace {
ServerPtr server(int n, int maxconn = 0, bool backup = false) {
  sockaddr_storage a;
  std::string ip = "10.0.0." + std::to_string(n);
  REQUIRE(ip_literal_sockaddr(ip, 80, a));
  auto s =
      std::make_shared<Server>(config::Endpoint{ip, 80}, reinterpret_cast<sockaddr*>(&a), maxconn);
  s->set_backup(backup);
  return s;
}

void take_down(Server& s) {
  for (int i = 0; i < 3; ++i)
    s.record_check(false, "ECONNREFUSED", 2, 3, 1);
}

void bring_up(Server& s) {
  for (int i = 0; i < 2; ++i)
    s.record_check(true, "", 2, 3, 1);
}

// The servers `n` sequential connections land on (each ends before the next starts).
std::map<std::string, int> land(const std::vector<ServerPtr>& servers, config::Balance balance,
                                int n, bool allbackups = false) {
  auto pool =
      make_snapshot(servers, balance, nullptr, SlowStart::Clock::now(), nullptr, {}, allbackups);
  Picker picker;
  std::map<std::string, int> count;
  for (int i = 0; i < n; ++i) {
    const PoolSnapshot::Entry* e = picker.pick(*pool, nullptr, static_cast<uint64_t>(i) * 7919);
    if (!e) {
      ++count["none"];
      continue;
    }
    ++count[e->server->address()];
    e->server->release();
  }
  return count;
}

constexpr config::Balance kEvery[] = {config::Balance::roundrobin, config::Balance::leastconn,
                                      config::Balance::source, config::Balance::first};
} // namespace

TEST_CASE("backup: no connection while a normal server is up, under every policy") {
  for (config::Balance b : kEvery) {
    CAPTURE(config::balance_name(b));
    std::vector<ServerPtr> s = {server(1), server(2), server(3, 0, true)};
    auto count = land(s, b, 40);
    CHECK(count.count("10.0.0.3:80") == 0);
    take_down(*s[0]);
    count = land(s, b, 40);
    CHECK(count["10.0.0.2:80"] == 40); // the last normal server up takes everything
  }
}

TEST_CASE("backup: the first backup up takes over when the last normal server goes down, and "
          "gives back when one returns") {
  for (config::Balance b : kEvery) {
    CAPTURE(config::balance_name(b));
    std::vector<ServerPtr> s = {server(1), server(2, 0, true), server(3, 0, true)};
    take_down(*s[0]);
    auto pool = make_snapshot(s, b, nullptr, SlowStart::Clock::now());
    CHECK(pool->on_backup);
    CHECK(land(s, b, 30)["10.0.0.2:80"] == 30); // the first backup only, as HAProxy
    take_down(*s[1]);
    CHECK(land(s, b, 30)["10.0.0.3:80"] == 30); // the next backup up
    bring_up(*s[0]);
    CHECK(land(s, b, 30)["10.0.0.1:80"] == 30);
    CHECK_FALSE(make_snapshot(s, b, nullptr, SlowStart::Clock::now())->on_backup);
  }
}

TEST_CASE("backup: allbackups spreads over every backup up") {
  std::vector<ServerPtr> s = {server(1), server(2, 0, true), server(3, 0, true)};
  take_down(*s[0]);
  auto count = land(s, config::Balance::roundrobin, 30, true);
  CHECK(count["10.0.0.2:80"] == 15);
  CHECK(count["10.0.0.3:80"] == 15);
}

TEST_CASE("backup: a normal server drained or disabled counts as not up") {
  std::vector<ServerPtr> s = {server(1), server(2, 0, true)};
  s[0]->set_state(config::ServerState::drain);
  CHECK(land(s, config::Balance::roundrobin, 10)["10.0.0.2:80"] == 10);
  s[0]->set_state(config::ServerState::disabled);
  CHECK(land(s, config::Balance::roundrobin, 10)["10.0.0.2:80"] == 10);
  s[0]->set_state(config::ServerState::enabled);
  CHECK(land(s, config::Balance::roundrobin, 10)["10.0.0.1:80"] == 10);
}

TEST_CASE("backup: normal servers full queue the client; the backup does not take it") {
  std::vector<ServerPtr> s = {server(1, 1), server(2, 0, true)};
  auto pool = make_snapshot(s, config::Balance::roundrobin, nullptr, SlowStart::Clock::now());
  Picker picker;
  const PoolSnapshot::Entry* first = picker.pick(*pool);
  REQUIRE(first);
  CHECK(first->server == s[0]);
  CHECK(picker.pick(*pool) == nullptr); // queued, as HAProxy queues for a full active server
  s[0]->release();
}

TEST_CASE("backup: with every server down, the normal ones are tried first, then the backups") {
  std::vector<ServerPtr> s = {server(1), server(2, 0, true)};
  take_down(*s[0]);
  take_down(*s[1]);
  CHECK(land(s, config::Balance::roundrobin, 10)["10.0.0.1:80"] == 10);
  s[0]->set_state(config::ServerState::disabled);
  CHECK(land(s, config::Balance::roundrobin, 10)["10.0.0.2:80"] == 10);
}

TEST_CASE("first: fills the first server to its maxconn, then the next, and comes back") {
  std::vector<ServerPtr> s = {server(1, 3), server(2, 3), server(3, 3)};
  auto pool = make_snapshot(s, config::Balance::first, nullptr, SlowStart::Clock::now());
  Picker picker;
  std::vector<const PoolSnapshot::Entry*> held;
  for (int i = 0; i < 5; ++i)
    held.push_back(picker.pick(*pool));
  for (int i = 0; i < 3; ++i)
    CHECK(held[i]->server == s[0]);
  CHECK(held[3]->server == s[1]);
  CHECK(held[4]->server == s[1]);
  CHECK(s[2]->counters.current == 0);
  held[0]->server->release(); // a slot on the first server: the next connection goes there
  CHECK(picker.pick(*pool)->server == s[0]);
  for (auto* e : held)
    if (e != held[0])
      e->server->release();
  s[0]->release();
}

TEST_CASE("first: weights play no part; a server down passes to the next by order") {
  std::vector<ServerPtr> s = {server(1), server(2), server(3)};
  s[1]->set_weight(100);
  CHECK(land(s, config::Balance::first, 20)["10.0.0.1:80"] == 20);
  take_down(*s[0]);
  CHECK(land(s, config::Balance::first, 20)["10.0.0.2:80"] == 20);
}

TEST_CASE("first: exact across threads, no server past its maxconn") {
  // maxconn 1 on the first two: two threads race for the same slot on every pick.
  std::vector<ServerPtr> s = {server(1, 1), server(2, 1), server(3, 1000)};
  auto pool = make_snapshot(s, config::Balance::first, nullptr, SlowStart::Clock::now());
  std::atomic<int> over{0}, picked{0};
  auto work = [&] {
    Picker picker;
    for (int i = 0; i < 100000; ++i) {
      const PoolSnapshot::Entry* e = picker.pick(*pool);
      if (!e)
        continue;
      ++picked;
      if (e->server->counters.current.load() > static_cast<uint64_t>(e->maxconn))
        ++over;
      e->server->release();
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  CHECK(picked == 200000);
  CHECK(over == 0);
  for (auto& x : s)
    CHECK(x->counters.current == 0);
}
