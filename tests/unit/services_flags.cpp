// services::Flags (flag, environment, default; errors naming the bad word), HOST:PORT parsing,
// and the two crypto helpers against known values.
#include "base/endpoint.h"
#include "common/crypto.h"
#include "common/flags.h"

#include <doctest/doctest.h>
#include <map>

namespace {
services::Flags make_flags() {
  services::Flags f("svc", "test");
  f.add("listen", "0.0.0.0:80", "where");
  f.add("delay-ms", "100", "delay");
  f.add_switch("debug", "debug");
  return f;
}
services::Flags::Getenv env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
} // namespace

TEST_CASE("flags: command line over environment over default") {
  auto f = make_flags();
  REQUIRE(f.parse({"--delay-ms=5"}, env({{"DELAY_MS", "7"}, {"LISTEN", "127.0.0.1:9"}})));
  CHECK(f.number("delay-ms", 0, 1000) == 5);
  CHECK(f.get("listen") == "127.0.0.1:9");
  CHECK(f.host_port("listen").port == 9);
  CHECK(!f.on("debug"));

  auto g = make_flags();
  REQUIRE(g.parse({"--listen", "[::1]:80"}, env({{"DEBUG", "y"}})));
  CHECK(g.host_port("listen").host == "::1");
  CHECK(g.number("delay-ms", 0, 1000) == 100);
  CHECK(g.on("debug"));
  CHECK(!make_flags().parse({"--help"}, env({})));
}

TEST_CASE("flags: bad words are named") {
  auto expect_error = [](std::vector<std::string> args, std::string word) {
    auto f = make_flags();
    try {
      f.parse(args, env({}));
      f.number("delay-ms", 0, 1000);
      f.host_port("listen");
      FAIL("no error for " << word);
    } catch (const services::UsageError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(word) != std::string::npos, e.what());
    }
  };
  expect_error({"--nope"}, "--nope");
  expect_error({"--delay-ms"}, "needs a value");
  expect_error({"--delay-ms", "abc"}, "'abc'");
  expect_error({"--delay-ms", "1001"}, "'1001'");
  expect_error({"--listen", "host:99999"}, "host:99999");
  expect_error({"stray"}, "stray");
  expect_error({"--debug=1"}, "takes no value");
  CHECK(services::Flags::env_name("retry-wait") == "RETRY_WAIT");
}

TEST_CASE("host_port: the accepted forms") {
  CHECK(hamba::parse_endpoint("rng:80").host == "rng");
  CHECK(hamba::parse_endpoint("8000").host.empty());
  CHECK(hamba::parse_endpoint(":8000").port == 8000);
  CHECK(hamba::parse_endpoint("[::]:80").host == "::");
  CHECK(hamba::parse_endpoint(":0", 0).port == 0);
  CHECK_THROWS_AS(hamba::parse_endpoint("::1:80"), hamba::EndpointError);
  CHECK_THROWS_AS(hamba::parse_endpoint("rng:"), hamba::EndpointError);
  CHECK_THROWS_AS(hamba::parse_endpoint("rng:80x"), hamba::EndpointError);
  CHECK(hamba::format_endpoint({"::1", 6379}) == "[::1]:6379");
}

TEST_CASE("crypto: sha256 like sha256sum, random bytes of the asked length") {
  CHECK(services::sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(services::sha256_hex("hello") ==
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK(services::random_bytes(0).empty());
  auto a = services::random_bytes(32), b = services::random_bytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);
}
