// Docker labels into frontends (discovery/labels.h): the label table, indexes, bad labels, and
// containers merged into frontends beside the configured ones.
#include "discovery/labels.h"

#include <doctest/doctest.h>

using namespace hamba;
using namespace hamba::discovery;

namespace {

// A running container; by default its address is its own (from its name: two containers of a
// test never share one, as on one Docker network).
Container running(std::string name, Labels labels, std::string ip = "",
                  std::vector<int> ports = {80}) {
  if (ip.empty())
    ip = "172.17." + std::to_string(name.size()) + "." +
         std::to_string(static_cast<unsigned char>(name.back()));
  Container c;
  c.id = name + "-id";
  c.name = std::move(name);
  c.labels = std::move(labels);
  c.networks = {{"bridge", std::move(ip)}};
  c.exposed_ports = std::move(ports);
  c.state = "running";
  return c;
}

} // namespace

TEST_CASE("labels: the plain form, with defaults") {
  auto w = decode_labels({{"hamba.frontend", "8001"}, {"other", "x"}}, {80});
  REQUIRE(w.size() == 1);
  CHECK(w[0].frontend.port == 8001);
  CHECK(w[0].frontend.host.empty());
  CHECK(w[0].port == 80); // the one exposed port
  CHECK(w[0].weight == 1);
  CHECK(w[0].backend.empty());
  CHECK(!w[0].check);
  CHECK(!w[0].balance);
  CHECK(decode_labels({{"com.example", "1"}}, {80}).empty());
  CHECK(decode_labels({{"hamba.network", "front"}}, {80}).empty());
}

TEST_CASE("labels: every field") {
  auto w = decode_labels({{"hamba.frontend", "127.0.0.1:8443"},
                          {"hamba.port", "8443"},
                          {"hamba.backend", "web"},
                          {"hamba.weight", "7"},
                          {"hamba.check", "http:/health"},
                          {"hamba.send_proxy", "v2"},
                          {"hamba.sni", "A.test, *.b.test"},
                          {"hamba.balance", "leastconn"}},
                         {});
  REQUIRE(w.size() == 1);
  CHECK(config::format_endpoint(w[0].frontend) == "127.0.0.1:8443");
  CHECK(w[0].port == 8443);
  CHECK(w[0].backend == "web");
  CHECK(w[0].weight == 7);
  CHECK(*w[0].check == "http:/health");
  CHECK(*w[0].send_proxy == config::ProxyProtocol::v2);
  CHECK(w[0].sni == std::vector<std::string>{"a.test", "*.b.test"});
  CHECK(*w[0].balance == config::Balance::leastconn);
}

TEST_CASE("labels: indexed frontends take the unindexed keys as defaults") {
  auto w = decode_labels({{"hamba.0.frontend", "8001"},
                          {"hamba.0.port", "80"},
                          {"hamba.1.frontend", "8002"},
                          {"hamba.1.port", "81"},
                          {"hamba.1.weight", "3"},
                          {"hamba.weight", "2"}},
                         {80, 81});
  REQUIRE(w.size() == 2);
  CHECK(w[0].frontend.port == 8001);
  CHECK(w[0].port == 80);
  CHECK(w[0].weight == 2);
  CHECK(w[1].frontend.port == 8002);
  CHECK(w[1].port == 81);
  CHECK(w[1].weight == 3);
  // With both forms, the unindexed frontend is one more.
  CHECK(decode_labels({{"hamba.frontend", "8000"}, {"hamba.0.frontend", "8001"}}, {80}).size() ==
        2);
}

TEST_CASE("labels: a bad label names itself") {
  auto fails = [](Labels labels, const char* words, std::vector<int> ports = {80}) {
    CHECK_THROWS_WITH_AS(decode_labels(labels, ports), doctest::Contains(words), LabelError);
  };
  fails({{"hamba.frontend", "80x"}}, "hamba.frontend=\"80x\"");
  fails({{"hamba.frontend", "0"}}, "hamba.frontend");
  fails({{"hamba.frontend", "web:80"}}, "must be an IP address");
  fails({{"hamba.frontend", "80"}, {"hamba.weight", "0"}}, "hamba.weight=\"0\": not a number");
  fails({{"hamba.frontend", "80"}, {"hamba.weight", "257"}}, "hamba.weight");
  fails({{"hamba.frontend", "80"}, {"hamba.port", "70000"}}, "hamba.port");
  fails({{"hamba.frontend", "80"}, {"hamba.check", "ping"}}, "hamba.check=\"ping\"");
  fails({{"hamba.frontend", "80"}, {"hamba.send_proxy", "v3"}}, "hamba.send_proxy");
  fails({{"hamba.frontend", "80"}, {"hamba.balance", "random"}}, "hamba.balance");
  fails({{"hamba.frontend", "80"}, {"hamba.sni", "a..b"}}, "hamba.sni");
  fails({{"hamba.frontend", "80"}, {"hamba.backend", "a b"}}, "hamba.backend");
  fails({{"hamba.frontend", "80"}, {"hamba.wieght", "2"}}, "hamba.wieght=\"2\": unknown label");
  fails({{"hamba.x.frontend", "80"}}, "unknown label");
  fails({{"hamba.1frontend", "80"}}, "hamba.1frontend");
  fails({{"hamba.100.frontend", "80"}}, "N from 0 to 99");
  fails({{"hamba.weight", "2"}}, "no hamba.frontend");
  fails({{"hamba.0.port", "80"}}, "no hamba.0.frontend");
  fails({{"hamba.frontend", "80"}}, "exposes 2 TCP ports", {80, 443});
  fails({{"hamba.frontend", "80"}}, "exposes 0 TCP ports", {});
}

TEST_CASE("discover: containers of one port share one frontend") {
  std::vector<Container> cs = {
      running("rng-2", {{"hamba.frontend", "8001"}}, "172.17.0.3"),
      running("rng-1", {{"hamba.frontend", "8001"}, {"hamba.weight", "2"}}, "172.17.0.2"),
      running("web", {{"hamba.frontend", "8002"}, {"hamba.port", "81"}}, "172.17.0.4", {80, 81}),
  };
  Discovery d = discover(cs, "", {});
  CHECK(d.problems.empty());
  REQUIRE(d.frontends.size() == 2);
  const config::Frontend& rng = d.frontends[0];
  CHECK(rng.name == "8001");
  CHECK(rng.provider == "docker");
  REQUIRE(rng.servers.size() == 2);
  CHECK(rng.servers[0].name == "rng-1"); // by name, whatever order Docker lists them in
  CHECK(config::format_endpoint(rng.servers[0].address) == "172.17.0.2:80");
  CHECK(rng.servers[0].weight == 2);
  CHECK(rng.servers[1].name == "rng-2");
  CHECK(config::format_endpoint(d.frontends[1].servers[0].address) == "172.17.0.4:81");
  config::Config config;
  config.frontends = d.frontends;
  CHECK_NOTHROW(config::validate(config));
}

TEST_CASE("discover: not running, starting or unhealthy containers are not served") {
  std::vector<Container> cs = {
      running("a", {{"hamba.frontend", "8001"}}), running("b", {{"hamba.frontend", "8001"}}),
      running("c", {{"hamba.frontend", "8001"}}), running("d", {{"hamba.frontend", "8001"}})};
  cs[0].health = Health::starting;
  cs[1].health = Health::unhealthy;
  cs[2].state = "exited";
  cs[3].health = Health::healthy;
  Discovery d = discover(cs, "", {});
  REQUIRE(d.frontends.size() == 1);
  REQUIRE(d.frontends[0].servers.size() == 1);
  CHECK(d.frontends[0].servers[0].name == "d");
}

TEST_CASE("discover: a bad container is one problem, the others are served") {
  std::vector<Container> cs = {running("bad", {{"hamba.frontend", "8001"}, {"hamba.weight", "x"}}),
                               running("good", {{"hamba.frontend", "8001"}})};
  Discovery d = discover(cs, "", {});
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("container bad skipped: label hamba.weight=\"x\"") != std::string::npos);
  REQUIRE(d.frontends.size() == 1);
  CHECK(d.frontends[0].servers.size() == 1);
}

TEST_CASE("discover: a configured port is refused, and leaves no trace of the container") {
  config::Frontend configured;
  configured.name = "80";
  configured.bind = config::parse_endpoint("80");
  std::vector<Container> cs = {
      running("web", {{"hamba.0.frontend", "8001"}, {"hamba.1.frontend", "80"}})};
  Discovery d = discover(cs, "", {configured});
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("container web skipped: frontend :80 refused: the configuration has "
                           "frontend \"80\"") != std::string::npos);
  CHECK(d.frontends.empty());
}

TEST_CASE("discover: containers must agree on their frontend's settings") {
  std::vector<Container> cs = {
      running("a", {{"hamba.frontend", "8001"}, {"hamba.balance", "leastconn"}}),
      running("b", {{"hamba.frontend", "8001"}, {"hamba.balance", "source"}}),
      running("c", {{"hamba.frontend", "127.0.0.1:8001"}}),
      running("d", {{"hamba.frontend", "8001"}, {"hamba.check", "redis"}}),
      running("e", {{"hamba.frontend", "8001"}, {"hamba.check", "tcp"}}),
  };
  Discovery d = discover(cs, "", {});
  REQUIRE(d.problems.size() == 3);
  CHECK(d.problems[0].find("container b skipped: hamba.balance=source") != std::string::npos);
  CHECK(d.problems[1].find("container c skipped") != std::string::npos);
  CHECK(d.problems[2].find("container e skipped: hamba.check=tcp") != std::string::npos);
  REQUIRE(d.frontends.size() == 1);
  CHECK(d.frontends[0].balance == config::Balance::leastconn);
  CHECK(d.frontends[0].check.type == config::CheckType::redis);
  CHECK(d.frontends[0].servers.size() == 2);
}

TEST_CASE("discover: the backend names the frontend; SNI makes routes") {
  std::vector<Container> cs = {
      running("a", {{"hamba.frontend", "8443"}, {"hamba.backend", "tls"}}),
      running("b", {{"hamba.frontend", "8443"}, {"hamba.sni", "b.test"}}),
      running("c",
              {{"hamba.frontend", "8443"}, {"hamba.sni", "b.test"}, {"hamba.send_proxy", "v1"}}),
      running("d", {{"hamba.frontend", "9000"}, {"hamba.sni", "d.test"}}),
  };
  Discovery d = discover(cs, "", {});
  REQUIRE(d.frontends.size() == 1);
  const config::Frontend& f = d.frontends[0];
  CHECK(f.name == "tls");
  REQUIRE(f.routes.size() == 1);
  CHECK(f.routes[0].name == "b.test");
  CHECK(f.routes[0].servers.size() == 2);
  CHECK(f.routes[0].send_proxy == config::ProxyProtocol::v1);
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("frontend 9000 not opened: only SNI routes") != std::string::npos);
}

TEST_CASE("discover: the address on the shared network") {
  Container c = running("web", {{"hamba.frontend", "8001"}});
  c.networks = {{"front", "10.0.1.2"}, {"back", "10.0.2.2"}};
  Discovery d = discover({c}, "", {});
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("on 2 networks (back, front)") != std::string::npos);
  d = discover({c}, "front", {});
  REQUIRE(d.frontends.size() == 1);
  CHECK(d.frontends[0].servers[0].address.host == "10.0.1.2");
  c.labels["hamba.network"] = "back";
  d = discover({c}, "front", {});
  REQUIRE(d.frontends.size() == 1);
  CHECK(d.frontends[0].servers[0].address.host == "10.0.2.2");
  c.labels["hamba.network"] = "other";
  d = discover({c}, "", {});
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("not on network \"other\"") != std::string::npos);
}

TEST_CASE("discover: frontend names stay unique") {
  std::vector<Container> cs = {
      running("a", {{"hamba.frontend", "8001"}, {"hamba.backend", "web"}}),
      running("b", {{"hamba.frontend", "8002"}, {"hamba.backend", "web"}}),
      running("c", {{"hamba.frontend", "8003"}, {"hamba.backend", "8001"}}),
  };
  Discovery d = discover(cs, "", {});
  REQUIRE(d.frontends.size() == 3);
  CHECK(d.frontends[0].name == "web");
  CHECK(d.frontends[1].name == "8002");
  CHECK(d.frontends[2].name == "8001");
  config::Config config;
  config.frontends = d.frontends;
  CHECK_NOTHROW(config::validate(config));
  REQUIRE(d.problems.size() == 1);
  CHECK(d.problems[0].find("frontend 8002: named 8002") != std::string::npos);
}

TEST_CASE("discover: one address is served once, and a container listed twice once") {
  // Containers on two networks may share an address; a list may name one container twice.
  std::vector<Container> cs = {
      running("a", {{"hamba.frontend", "8001"}}, "10.0.0.2"),
      running("b", {{"hamba.frontend", "8001"}}, "10.0.0.2"),
      running("c", {{"hamba.frontend", "8001"}}),
      running("c", {{"hamba.frontend", "8001"}}),
  };
  Discovery d = discover(cs, "", {});
  REQUIRE(d.problems.size() == 2);
  CHECK(d.problems[0].find("container b skipped: its address 10.0.0.2:80 is a's") !=
        std::string::npos);
  CHECK(d.problems[1].find("container c skipped: listed twice") != std::string::npos);
  REQUIRE(d.frontends.size() == 1);
  CHECK(d.frontends[0].servers.size() == 2);
}
