// The configuration model: durations, endpoints, validation and the YAML printout.
#include "config/config.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

using namespace hamba::config;

TEST_CASE("durations") {
  CHECK(parse_duration("250ms") == Duration(250));
  CHECK(parse_duration("5s") == Duration(5000));
  CHECK(parse_duration("2m") == Duration(120000));
  CHECK(parse_duration("1h") == Duration(3600000));
  CHECK(parse_duration("1500") == Duration(1500));
  CHECK_THROWS_AS(parse_duration(""), ConfigError);
  CHECK_THROWS_AS(parse_duration("s"), ConfigError);
  CHECK_THROWS_AS(parse_duration("5 s"), ConfigError);
  CHECK_THROWS_AS(parse_duration("-1s"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_duration("5days"), doctest::Contains("5days"), ConfigError);
  CHECK(format_duration(Duration(250)) == "250ms");
  CHECK(format_duration(Duration(5000)) == "5s");
  CHECK(format_duration(Duration(120000)) == "2m");
  CHECK(format_duration(Duration(3600000)) == "1h");
  CHECK(format_duration(Duration(1500)) == "1500ms");
  CHECK(format_duration(Duration(0)) == "0ms");
  for (long long ms : {1LL, 999LL, 1000LL, 61000LL, 7200000LL})
    CHECK(parse_duration(format_duration(Duration(ms))) == Duration(ms));
}

TEST_CASE("endpoints") {
  CHECK(parse_endpoint("rng:80") == Endpoint{"rng", 80});
  CHECK(parse_endpoint("80") == Endpoint{"", 80});
  CHECK(parse_endpoint(":80") == Endpoint{"", 80});
  CHECK(parse_endpoint("[::1]:6379") == Endpoint{"::1", 6379});
  CHECK(parse_endpoint("10.0.0.1:65535") == Endpoint{"10.0.0.1", 65535});
  CHECK_THROWS_WITH_AS(parse_endpoint("rng"), doctest::Contains("\"rng\" has no port"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_endpoint("rng:"), doctest::Contains("rng:"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_endpoint("rng:0"), doctest::Contains("out of range"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_endpoint("rng:65536"), doctest::Contains("65536"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_endpoint("rng:http"), doctest::Contains("\"http\""), ConfigError);
  CHECK_THROWS_AS(parse_endpoint("[::1]"), ConfigError);
  CHECK_THROWS_AS(parse_endpoint("[::1:80"), ConfigError);
  CHECK_THROWS_AS(parse_endpoint("[rng]:80"), ConfigError);
  CHECK_THROWS_AS(parse_endpoint("::1:80"), ConfigError);
  CHECK(parse_endpoint("my_app-web.1.example:80") == Endpoint{"my_app-web.1.example", 80});
  CHECK_THROWS_WITH_AS(parse_endpoint("a}b:80"), doctest::Contains("\"a}b\" in \"a}b:80\""),
                       ConfigError);
  CHECK_THROWS_AS(parse_endpoint("caf\xc3\xa9:80"), ConfigError); // printed differently in YAML
  CHECK_THROWS_AS(parse_endpoint("a b:80"), ConfigError);
  CHECK(format_endpoint({"rng", 80}) == "rng:80");
  CHECK(format_endpoint({"::1", 80}) == "[::1]:80");
  CHECK(format_endpoint({"", 80}) == ":80");
}

namespace {
Config one_frontend() {
  Config c;
  Frontend f;
  f.name = "80";
  f.bind = {"", 80};
  f.servers.push_back(Server{{"rng1", 80}});
  f.servers.push_back(Server{{"rng2", 80}});
  c.frontends.push_back(f);
  return c;
}
} // namespace

TEST_CASE("validate") {
  CHECK_NOTHROW(validate(Config{}));
  CHECK_NOTHROW(validate(one_frontend()));
  auto bad = [](auto change) {
    Config c = one_frontend();
    change(c);
    return c;
  };
  CHECK_THROWS_WITH_AS(validate(bad([](Config& c) { c.frontends[0].bind.port = 0; })),
                       doctest::Contains("port 0"), ConfigError);
  CHECK_THROWS_WITH_AS(validate(bad([](Config& c) { c.frontends[0].servers.clear(); })),
                       doctest::Contains("no server"), ConfigError);
  CHECK_THROWS_WITH_AS(
      validate(bad([](Config& c) { c.frontends[0].servers[1] = c.frontends[0].servers[0]; })),
      doctest::Contains("rng1:80"), ConfigError);
  CHECK_THROWS_WITH_AS(validate(bad([](Config& c) { c.frontends.push_back(c.frontends[0]); })),
                       doctest::Contains("\"80\""), ConfigError);
  CHECK_THROWS_WITH_AS(validate(bad([](Config& c) {
                         c.frontends.push_back(c.frontends[0]);
                         c.frontends[1].name = "other";
                       })),
                       doctest::Contains("port 80"), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.maxconn = 0; })), ConfigError);
  CHECK_THROWS_WITH_AS(validate(bad([](Config& c) { c.threads = -1; })),
                       doctest::Contains("threads -1"), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.threads = 0; })), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.threads = kMaxThreads + 1; })), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.frontends[0].servers[0].maxconn = 0; })),
                  ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.frontends[0].retries = -1; })), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.frontends[0].retries = 101; })), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.frontends[0].check.rise = 0; })), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.frontends[0].connect_timeout = Duration(0); })),
                  ConfigError);
  CHECK_THROWS_WITH_AS(validate(bad([](Config& c) { c.frontends[0].bind.host = "myhost"; })),
                       doctest::Contains("\"myhost\""), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.admin = "nowhere"; })), ConfigError);
  CHECK_THROWS_AS(validate(bad([](Config& c) { c.frontends[0].servers[0].address.host = ""; })),
                  ConfigError);
}

TEST_CASE("to_yaml prints every field in the documented form") {
  Config c = one_frontend();
  c.admin = "127.0.0.1:8404";
  c.frontends[0].balance = Balance::leastconn;
  c.frontends[0].servers[1].state = ServerState::drain;
  c.frontends[0].servers[1].address = {"::1", 81};
  std::string text = to_yaml(c);
  YAML::Node n = YAML::Load(text);
  // Limits left unset (derived at start, or none per server) are not printed.
  CHECK(!n["maxconn"]);
  CHECK(!n["threads"]);
  CHECK(n["grace"].as<std::string>() == "5s");
  CHECK(n["admin"].as<std::string>() == "127.0.0.1:8404");
  YAML::Node f = n["frontends"][0];
  CHECK(f["name"].as<std::string>() == "80");
  CHECK(f["bind"].as<std::string>() == ":80");
  CHECK(f["balance"].as<std::string>() == "leastconn");
  CHECK(f["connect_timeout"].as<std::string>() == "5s");
  CHECK(f["idle_timeout"].as<std::string>() == "50s");
  CHECK(f["retries"].as<int>() == 3);
  CHECK(f["resolve_interval"].as<std::string>() == "5s");
  CHECK(f["check"]["interval"].as<std::string>() == "2s");
  CHECK(f["check"]["rise"].as<int>() == 2);
  CHECK(f["check"]["fall"].as<int>() == 3);
  CHECK(f["servers"][0]["address"].as<std::string>() == "rng1:80");
  CHECK(!f["servers"][0]["maxconn"]);
  CHECK(f["servers"][0]["state"].as<std::string>() == "enabled");
  CHECK(f["servers"][1]["address"].as<std::string>() == "[::1]:81");
  CHECK(f["servers"][1]["state"].as<std::string>() == "drain");
  c.maxconn = 256;
  c.threads = 2;
  c.frontends[0].servers[0].maxconn = 32;
  YAML::Node set = YAML::Load(to_yaml(c));
  CHECK(set["maxconn"].as<int>() == 256);
  CHECK(set["threads"].as<int>() == 2);
  CHECK(set["frontends"][0]["servers"][0]["maxconn"].as<int>() == 32);
  YAML::Node empty = YAML::Load(to_yaml(Config{}));
  CHECK(empty["frontends"].IsSequence());
  CHECK(empty["frontends"].size() == 0);
}
