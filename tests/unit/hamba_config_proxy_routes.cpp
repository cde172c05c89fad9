// The PROXY protocol and SNI routing keys of the configuration: accept_proxy, send_proxy,
// preread_timeout and routes, as the YAML file gives them, as to_yaml prints them, and the
// errors that name the bad word and where it is.
#include "config/config.h"

#include <doctest/doctest.h>
#include <string>

using namespace hamba::config;
using namespace std::chrono_literals;

namespace {

std::string error_of(const std::string& text) {
  try {
    load_yaml_text(text, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("no error for:\n" << text);
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kHead = "frontends:\n  - bind: ':443'\n    servers: [default:443]\n";

} // namespace

TEST_CASE("routes: the example reads into the model, names lower-cased, defaults filled") {
  Config c = load_yaml_text(kHead + R"(    accept_proxy: true
    send_proxy: v2
    preread_timeout: 2s
    routes:
      - name: a
        sni: [A.Test, "*.a.test"]
        send_proxy: v1
        servers: ["127.0.0.1:9001", {address: "127.0.0.1:9002", maxconn: 4}]
      - sni: b.test
        servers: [b:443]
)",
                            "t.yaml");
  const Frontend& f = c.frontends.at(0);
  CHECK(f.accept_proxy);
  CHECK(f.send_proxy == ProxyProtocol::v2);
  CHECK(f.preread_timeout == 2s);
  REQUIRE(f.routes.size() == 2);
  CHECK(f.routes[0].name == "a");
  CHECK(f.routes[0].sni == std::vector<std::string>{"a.test", "*.a.test"});
  CHECK(f.routes[0].send_proxy == ProxyProtocol::v1);
  CHECK(f.routes[0].servers.at(1).maxconn == 4);
  CHECK(f.routes[1].name == "b.test");
  CHECK(f.routes[1].send_proxy == ProxyProtocol::none);

  Frontend plain = load_yaml_text(kHead, "t.yaml").frontends.at(0);
  CHECK_FALSE(plain.accept_proxy);
  CHECK(plain.send_proxy == ProxyProtocol::none);
  CHECK(plain.preread_timeout == 5s);
  CHECK(plain.routes.empty());

  CHECK(load_yaml_text(to_yaml(c), "printed") == c);
  CHECK(contains(to_yaml(c), "send_proxy: v2"));
  CHECK(contains(to_yaml(c), "sni: [\"a.test\", \"*.a.test\"]"));
}

TEST_CASE("routes: bad words are named with their place") {
  CHECK(
      contains(error_of(kHead + "    send_proxy: v3\n"), "t.yaml:4:17: send_proxy \"v3\" is not"));
  CHECK(contains(error_of(kHead + "    accept_proxy: maybe\n"), "t.yaml:4:19: accept_proxy"));
  CHECK(contains(error_of(kHead + "    routes: [{sni: [a..test], servers: [x:1]}]\n"),
                 "t.yaml:4:21: sni \"a..test\" is not a host name"));
  for (const char* bad : {"\"*.\"", "\"*\"", "\"a.*.test\"", "\"*.*.test\"", "a_b!", "\".a\""})
    CHECK(contains(error_of(kHead + "    routes: [{sni: [" + bad + "], servers: [x:1]}]\n"),
                   "is not a host name or a wildcard"));
  CHECK(contains(error_of(kHead + "    routes: [{servers: [x:1]}]\n"), "route without 'sni'"));
  CHECK(contains(error_of(kHead + "    routes: [{sni: a.test}]\n"), "route without 'servers'"));
  CHECK(contains(error_of(kHead + "    routes: [{sni: a.test, servers: [x:1], port: 1}]\n"),
                 "unknown key 'port' in route"));
  CHECK(contains(error_of(kHead + "    routes: [{sni: a.test, servers: [x:1]}, "
                                  "{sni: [b.test, a.test], servers: [y:1]}]\n"),
                 "sni \"a.test\" is in two routes"));
  CHECK(contains(error_of(kHead + "    routes: [{name: r, sni: a.test, servers: [x:1]}, "
                                  "{name: r, sni: b.test, servers: [y:1]}]\n"),
                 "route name \"r\" is used twice"));
  CHECK(contains(error_of(kHead + "    routes: [{name: default, sni: a.test, servers: [x:1]}]\n"),
                 "kept for the frontend's own servers"));
  CHECK(contains(error_of(kHead + "    routes: [{sni: a.test, servers: [x:1, x:1]}]\n"),
                 "route \"a.test\": server \"x:1\" is listed twice"));
  CHECK(contains(error_of(kHead + "    preread_timeout: 0s\n"), "preread_timeout must be more"));
}

TEST_CASE("sni patterns: exact names, and a wildcard for exactly one label") {
  CHECK(sni_matches("a.test", "a.test"));
  CHECK_FALSE(sni_matches("a.test", "b.test"));
  CHECK_FALSE(sni_matches("a.test", "x.a.test"));
  CHECK(sni_matches("*.example.com", "www.example.com"));
  CHECK_FALSE(sni_matches("*.example.com", "a.b.example.com"));
  CHECK_FALSE(sni_matches("*.example.com", "example.com"));
  CHECK_FALSE(sni_matches("*.example.com", ".example.com"));
  CHECK_FALSE(sni_matches("*.example.com", "wwwexample.com"));
  CHECK(parse_sni_pattern("WWW.Example.COM") == "www.example.com");
  CHECK(parse_sni_pattern("*.Example.com") == "*.example.com");
  CHECK(parse_proxy_protocol("v1") == ProxyProtocol::v1);
  CHECK_THROWS_AS(parse_proxy_protocol("V2"), ConfigError);
}
