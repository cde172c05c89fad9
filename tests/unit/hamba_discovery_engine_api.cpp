// The Engine API's JSON (discovery/engine_api.h): the container list and events as Docker 20.10
// (API 1.41) writes them.
#include "discovery/engine_api.h"

#include <doctest/doctest.h>

using namespace hamba::discovery;

TEST_CASE("engine api: a container list") {
  const char* body = R"json([
    {"Id":"abc123","Names":["/web/db","/rng-1"],"Image":"rng","State":"running",
     "Status":"Up 3 seconds (healthy)",
     "Labels":{"hamba.frontend":"8001","n":"1"},
     "Ports":[{"PrivatePort":80,"Type":"tcp"},{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,
              "Type":"tcp"},{"PrivatePort":53,"Type":"udp"},{"PrivatePort":22,"Type":"tcp"}],
     "NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2","GlobalIPv6Address":""},
                                    "none":{"IPAddress":""}}},
     "Future":{"x":[1,2]}},
    {"Names":["/no-id"]},
    {"Id":"def456","Names":["/plain"],"State":"exited","Status":"Exited (0) 2 minutes ago",
     "Labels":null,"Ports":[],"NetworkSettings":{"Networks":{"v6":{"IPAddress":"",
     "GlobalIPv6Address":"fd00::2"}}}},
    7
  ])json";
  auto list = parse_container_list(body);
  REQUIRE(list.size() == 2);
  CHECK(list[0].id == "abc123");
  CHECK(list[0].name == "rng-1");
  CHECK(list[0].labels.at("hamba.frontend") == "8001");
  CHECK(list[0].exposed_ports == std::vector<int>{22, 80});
  CHECK(list[0].networks == std::map<std::string, std::string>{{"bridge", "172.17.0.2"}});
  CHECK(list[0].health == Health::healthy);
  CHECK(list[0].state == "running");
  CHECK(list[1].name == "plain");
  CHECK(list[1].labels.empty());
  CHECK(list[1].networks.at("v6") == "fd00::2");
  CHECK(list[1].health == Health::none);
  CHECK(parse_container_list("[]").empty());
  CHECK_THROWS_AS(parse_container_list("{}"), ApiError);
  CHECK_THROWS_AS(parse_container_list("[{"), ApiError);
  CHECK_THROWS_AS(parse_container_list(""), ApiError);
}

TEST_CASE("engine api: health from the status text") {
  CHECK(health_from_status("Up 2 seconds (health: starting)") == Health::starting);
  CHECK(health_from_status("Up 2 minutes (unhealthy)") == Health::unhealthy);
  CHECK(health_from_status("Up 2 minutes") == Health::none);
}

TEST_CASE("engine api: events") {
  auto e = parse_event(
      R"({"status":"start","id":"abc","from":"rng","Type":"container","Action":"start",)"
      R"("Actor":{"ID":"abc","Attributes":{"image":"rng","name":"rng-1"}},"scope":"local",)"
      R"("time":1700000000,"timeNano":1700000000000000000})");
  REQUIRE(e);
  CHECK(e->type == "container");
  CHECK(e->action == "start");
  CHECK(e->id == "abc");
  CHECK(e->name == "rng-1");
  e = parse_event(
      R"({"Type":"container","Action":"kill","Actor":{"ID":"abc","Attributes":{"signal":"15"}}})");
  REQUIRE(e);
  CHECK(e->signal == "15");
  e = parse_event(R"({"Type":"container","Action":"health_status: unhealthy","Actor":{}})");
  REQUIRE(e);
  CHECK(e->action == "health_status: unhealthy");
  CHECK(!parse_event("[1]"));
  CHECK(!parse_event("{}"));
  CHECK(!parse_event(R"({"Type":7})"));
  CHECK_THROWS_AS(parse_event("{\"Type\":"), ApiError);
}
