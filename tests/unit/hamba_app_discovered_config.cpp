// Configured and discovered frontends side by side (app/discovered_config.h), and the one line
// per change the control plane logs.
#include "app/discovered_config.h"

#include <doctest/doctest.h>

using namespace hamba;

namespace {

config::Frontend frontend(uint16_t port, std::vector<std::pair<std::string, std::string>> servers,
                          std::string provider = "docker") {
  config::Frontend f;
  f.name = std::to_string(port);
  f.bind = config::parse_endpoint(std::to_string(port));
  f.provider = std::move(provider);
  for (auto& [name, address] : servers) {
    config::Server s;
    s.name = name;
    s.address = config::parse_endpoint(address);
    f.servers.push_back(s);
  }
  return f;
}

} // namespace

TEST_CASE("discovered config: configured and discovered parts") {
  config::Config running;
  running.frontends = {frontend(80, {{"", "web:80"}}, ""), frontend(8001, {{"a", "10.0.0.2:80"}})};
  CHECK(app::configured_part(running).frontends.size() == 1);
  CHECK(app::configured_part(running).frontends[0].bind.port == 80);
  CHECK(app::discovered_part(running).size() == 1);
  CHECK(app::discovered_part(running)[0].bind.port == 8001);
}

TEST_CASE("discovered config: a drained server stays drained over the next list") {
  config::Config running;
  running.frontends = {frontend(8001, {{"a", "10.0.0.2:80"}, {"b", "10.0.0.3:80"}})};
  running.frontends[0].servers[1].state = config::ServerState::drain;
  config::Config configured;
  auto next = app::with_discovered(
      configured,
      {frontend(8001, {{"a", "10.0.0.2:80"}, {"b", "10.0.0.3:80"}, {"c", "10.0.0.4:80"}})},
      running);
  REQUIRE(next.frontends.size() == 1);
  CHECK(next.frontends[0].servers[0].state == config::ServerState::enabled);
  CHECK(next.frontends[0].servers[1].state == config::ServerState::drain);
  CHECK(next.frontends[0].servers[2].state == config::ServerState::enabled);
}

TEST_CASE("discovered config: one line per change") {
  auto before =
      std::vector<config::Frontend>{frontend(8001, {{"a", "10.0.0.2:80"}, {"b", "10.0.0.3:80"}}),
                                    frontend(8002, {{"c", "10.0.0.4:80"}})};
  auto after =
      std::vector<config::Frontend>{frontend(8001, {{"a", "10.0.0.2:80"}, {"d", "10.0.0.5:80"}}),
                                    frontend(8003, {{"e", "10.0.0.6:80"}})};
  auto lines = app::discovered_changes(before, after);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "d (10.0.0.5:80) joins frontend 8001");
  CHECK(lines[1] == "b (10.0.0.3:80) leaves frontend 8001");
  CHECK(lines[2] == "frontend 8003 opened on :8003 for e (10.0.0.6:80)");
  CHECK(lines[3] == "frontend 8002 on :8002 closes: no container is labelled for it");
  CHECK(app::discovered_changes(after, after).empty());
}
