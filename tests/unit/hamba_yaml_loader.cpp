// Unit tests for config/yaml_loader.cpp: the YAML file form of the configuration, its defaults,
// and errors that name the source, line, column and the bad word.
#include "config/config.h"

#include <cstdio>
#include <doctest/doctest.h>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace hamba::config;
using namespace std::chrono_literals;

namespace {

// The message of the ConfigError that load_yaml_text throws for `text` (fails if none).
std::string error_of(const std::string& text, const std::string& origin = "test.yaml") {
  try {
    load_yaml_text(text, origin);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("no error for:\n" << text);
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("yaml: the documented example reads into the model") {
  Config c = load_yaml_text(R"(
maxconn: 512
grace: 3s
admin: 127.0.0.1:8404
frontends:
  - name: rng
    bind: "0.0.0.0:80"
    balance: leastconn
    connect_timeout: 250ms
    idle_timeout: 2m
    retries: 1
    resolve_interval: 10s
    check: {interval: 1s, timeout: 500ms, rise: 1, fall: 2}
    servers:
      - address: "rng1:80"
        maxconn: 8
        state: drain
      - rng2:8080
  - bind: "[::1]:6379"
    servers: ["redis:6379"]
)",
                            "example.yaml");
  CHECK(c.maxconn == 512);
  CHECK(c.grace == 3s);
  CHECK(c.admin == "127.0.0.1:8404");
  REQUIRE(c.frontends.size() == 2);
  const Frontend& rng = c.frontends[0];
  CHECK(rng.name == "rng");
  CHECK(rng.bind == Endpoint{"0.0.0.0", 80});
  CHECK(rng.balance == Balance::leastconn);
  CHECK(rng.connect_timeout == 250ms);
  CHECK(rng.idle_timeout == 2min);
  CHECK(rng.retries == 1);
  CHECK(rng.resolve_interval == 10s);
  CHECK(rng.check.enabled);
  CHECK(rng.check.interval == 1s);
  CHECK(rng.check.timeout == 500ms);
  CHECK(rng.check.rise == 1);
  CHECK(rng.check.fall == 2);
  REQUIRE(rng.servers.size() == 2);
  CHECK(rng.servers[0].address == Endpoint{"rng1", 80});
  CHECK(rng.servers[0].maxconn == 8);
  CHECK(rng.servers[0].state == ServerState::drain);
  CHECK(rng.servers[1].address == Endpoint{"rng2", 8080});
  CHECK(rng.servers[1].maxconn == Server{}.maxconn);
  CHECK(rng.servers[1].state == ServerState::enabled);

  const Frontend& redis = c.frontends[1];
  CHECK(redis.name == "6379"); // defaults to the bind port
  CHECK(redis.bind == Endpoint{"::1", 6379});
  CHECK(redis.balance == Balance::roundrobin);
  // A named default, not a `Frontend{}` temporary: GCC 12 at -O3 reports maybe-uninitialized in
  // the exception cleanup of an aggregate-initialized temporary (every member has an
  // initializer; the cleanup only runs for members already built).
  const Frontend defaults;
  CHECK(redis.connect_timeout == defaults.connect_timeout);
  CHECK(redis.check == HealthCheck{});
}

TEST_CASE("yaml: `backends:`, the old word for `servers:`, still loads the same servers") {
  const std::string head = "frontends:\n  - bind: ':80'\n    ";
  Config old_word = load_yaml_text(head + "backends: [a:1, {address: b:2, maxconn: 4}]\n", "old");
  Config new_word = load_yaml_text(head + "servers: [a:1, {address: b:2, maxconn: 4}]\n", "new");
  CHECK(old_word == new_word);
  REQUIRE(old_word.frontends.at(0).servers.size() == 2);
  CHECK(old_word.frontends[0].servers[1].maxconn == 4);

  std::string e = error_of(head + "servers: [a:1]\n    backends: [b:1]\n");
  CHECK(contains(e, "test.yaml:4:15:"));
  CHECK(contains(e, "both 'servers' and 'backends'"));
}

TEST_CASE("yaml: an empty document is an empty configuration") {
  CHECK(load_yaml_text("", "empty.yaml") == Config{});
  CHECK(load_yaml_text("# nothing yet\n", "empty.yaml") == Config{});
  CHECK(load_yaml_text("frontends: []\n", "empty.yaml").frontends.empty());
}

TEST_CASE("yaml: check can be switched off in one word") {
  Config c = load_yaml_text("frontends:\n  - bind: ':80'\n    check: false\n    servers: [a:1]\n",
                            "t.yaml");
  REQUIRE(c.frontends.size() == 1);
  CHECK_FALSE(c.frontends[0].check.enabled);
  c = load_yaml_text("frontends:\n  - bind: ':80'\n    check: {enabled: no}\n    servers: [a:1]\n",
                     "t.yaml");
  CHECK_FALSE(c.frontends[0].check.enabled);
}

TEST_CASE("yaml: what to_yaml prints reads back to the same configuration") {
  Config c;
  c.maxconn = 100;
  c.grace = 1500ms;
  c.admin = "127.0.0.1:9000";
  Frontend f;
  f.name = "web";
  f.bind = {"127.0.0.1", 8080};
  f.balance = Balance::leastconn;
  f.connect_timeout = 1s;
  f.idle_timeout = 30s;
  f.retries = 2;
  f.resolve_interval = 3s;
  f.check = {false, 3s, 1s, 4, 5};
  f.servers.push_back({{"web1", 80}, 10, ServerState::disabled});
  f.servers.push_back({{"::1", 81}, 32, ServerState::drain});
  f.servers.push_back({{"10.0.0.1", 82}, 32, ServerState::enabled});
  c.frontends.push_back(f);
  Frontend g;
  g.name = "6379";
  g.bind = {"", 6379};
  g.servers.push_back({{"redis", 6379}});
  c.frontends.push_back(g);
  std::string text = to_yaml(c);
  INFO(text);
  CHECK(load_yaml_text(text, "<to_yaml>") == c);
}

TEST_CASE("yaml: unknown and repeated keys name the key and where it is") {
  std::string e = error_of("frontends:\n  - bind: ':80'\n    conect_timeout: 5s\n");
  CHECK(contains(e, "test.yaml:3:5:"));
  CHECK(contains(e, "'conect_timeout'"));
  CHECK(contains(e, "connect_timeout")); // the known keys are listed

  e = error_of("maxconn: 10\nmaxconn: 20\n");
  CHECK(contains(e, "test.yaml:2:1:"));
  CHECK(contains(e, "'maxconn' given twice"));

  e = error_of("frontends:\n  - bind: ':80'\n    servers:\n      - {address: a:1, wieght: 3}\n");
  CHECK(contains(e, "test.yaml:4:24:"));
  CHECK(contains(e, "'wieght'"));

  e = error_of("frontend:\n  - bind: ':80'\n");
  CHECK(contains(e, "test.yaml:1:1:"));
  CHECK(contains(e, "'frontend'"));
}

TEST_CASE("yaml: bad values name the word and where it is") {
  std::string e = error_of("grace: 5 seconds\n");
  CHECK(contains(e, "test.yaml:1:8:"));
  CHECK(contains(e, "5 seconds"));

  e = error_of("threads: -1\n");
  CHECK(contains(e, "test.yaml:1:10:"));
  CHECK(contains(e, "threads: -1"));
  e = error_of("threads: many\n");
  CHECK(contains(e, "'many'"));
  CHECK(load_yaml_text("threads: 2\n", "t.yaml").threads == 2);

  e = error_of("maxconn: lots\n");
  CHECK(contains(e, "test.yaml:1:10:"));
  CHECK(contains(e, "'lots'"));

  e = error_of("frontends:\n  - bind: ':80'\n    retries: 2.5\n");
  CHECK(contains(e, "test.yaml:3:14:"));
  CHECK(contains(e, "2.5"));

  e = error_of("frontends:\n  - bind: ':99999'\n");
  CHECK(contains(e, "test.yaml:2:11:"));
  CHECK(contains(e, "99999"));

  e = error_of("frontends:\n  - bind: ':80'\n    balance: random\n");
  CHECK(contains(e, "test.yaml:3:14:"));
  CHECK(contains(e, "'random'"));

  e = error_of("frontends:\n  - bind: ':80'\n    servers:\n      - address: a:1\n        state: "
               "sleeping\n");
  CHECK(contains(e, "test.yaml:5:16:"));
  CHECK(contains(e, "'sleeping'"));

  e = error_of("frontends:\n  - bind: ':80'\n    servers:\n      - nohost\n");
  CHECK(contains(e, "test.yaml:4:9:"));
  CHECK(contains(e, "nohost"));

  e = error_of("frontends:\n  - bind: ':80'\n    check: {interval: soon}\n");
  CHECK(contains(e, "test.yaml:3:23:"));
  CHECK(contains(e, "soon"));

  e = error_of("admin: nowhere\n");
  CHECK(contains(e, "test.yaml:1:8:"));
  CHECK(contains(e, "nowhere"));
}

TEST_CASE("yaml: wrong shapes and missing keys are errors with a place") {
  std::string e = error_of("frontends:\n  bind: ':80'\n");
  CHECK(contains(e, "test.yaml:2:3:"));
  CHECK(contains(e, "expected a list"));

  e = error_of("frontends:\n  - servers: [a:1]\n");
  CHECK(contains(e, "test.yaml:2:5:"));
  CHECK(contains(e, "'bind'"));

  e = error_of("frontends:\n  - bind: ':80'\n    servers:\n      - maxconn: 3\n");
  CHECK(contains(e, "test.yaml:4:9:"));
  CHECK(contains(e, "'address'"));

  e = error_of("- 80\n- a:1\n");
  CHECK(contains(e, "test.yaml:1:1:"));
  CHECK(contains(e, "expected a mapping"));

  e = error_of("maxconn: [1, 2]\n");
  CHECK(contains(e, "test.yaml:1:10:"));
}

TEST_CASE("yaml: syntax errors carry yaml-cpp's position") {
  std::string e = error_of("frontends:\n  - bind: ':80\n", "broken.yaml");
  CHECK(contains(e, "broken.yaml:"));
  e = error_of("maxconn: 10\n  grace: [\n", "broken.yaml");
  CHECK(contains(e, "broken.yaml:2:"));
}

TEST_CASE("yaml: what validate() refuses is refused, named with the origin") {
  std::string e =
      error_of("frontends:\n  - bind: ':80'\n    servers: [a:1]\n  - bind: ':80'\n    servers: "
               "[b:1]\n",
               "<control>");
  CHECK(contains(e, "<control>"));
}

TEST_CASE("yaml: files are read and named in errors") {
  std::string e;
  try {
    load_yaml_file("/nonexistent/hamba.yaml");
  } catch (const ConfigError& err) {
    e = err.what();
  }
  CHECK(contains(e, "/nonexistent/hamba.yaml"));

  char path[] = "/tmp/hamba-yaml-test-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "frontends:\n  - bind: '127.0.0.1:8080'\n    servers: [web:80]\n";
  }
  Config c = load_yaml_file(path);
  REQUIRE(c.frontends.size() == 1);
  CHECK(c.frontends[0].servers[0].address == Endpoint{"web", 80});
  {
    std::ofstream out(path);
    out << "frontends:\n  - bind: '127.0.0.1:8080'\n    servers: [web:80]\n    bogus: 1\n";
  }
  e.clear();
  try {
    load_yaml_file(path);
  } catch (const ConfigError& err) {
    e = err.what();
  }
  CHECK(contains(e, std::string(path) + ":4:5:"));
  // An empty file (an editor half way through writing it) is refused, not read as "no
  // frontends"; `frontends: []` says that on purpose.
  for (const char* empty : {"", "\n  \n", "# soon\n"}) {
    {
      std::ofstream out(path);
      out << empty;
    }
    e.clear();
    try {
      load_yaml_file(path);
    } catch (const ConfigError& err) {
      e = err.what();
    }
    CHECK(contains(e, std::string(path) + ": the file is empty"));
  }
  {
    std::ofstream out(path);
    out << "frontends: []\n";
  }
  CHECK(load_yaml_file(path).frontends.empty());
  std::remove(path);
}

TEST_CASE("yaml: weights, source balancing, slow start, passive and application checks") {
  Config c = load_yaml_text(R"(
frontends:
  - bind: ":80"
    balance: source
    slowstart: 30s
    observe: {failures: 5}
    retry_after: 3s
    check: {type: http, path: /health, host: example.org, status: 200-204}
    servers:
      - {address: "a:1", weight: 3}
      - b:1
  - bind: ":81"
    observe: false
    check: {type: redis}
    servers: [c:1]
)",
                            "new.yaml");
  const Frontend& f = c.frontends[0];
  CHECK(f.balance == Balance::source);
  CHECK(f.slowstart == 30s);
  CHECK(f.observe_failures == 5);
  CHECK(f.retry_after == 3s);
  CHECK(f.check.type == CheckType::http);
  CHECK(f.check.path == "/health");
  CHECK(f.check.host == "example.org");
  CHECK(f.check.status_low == 200);
  CHECK(f.check.status_high == 204);
  CHECK(f.servers[0].weight == 3);
  CHECK(f.servers[1].weight == 1);
  CHECK(c.frontends[1].observe_failures == 0);
  CHECK(c.frontends[1].check.type == CheckType::redis);
  // What to_yaml prints reads back the same.
  CHECK(load_yaml_text(to_yaml(c), "again.yaml") == c);
}

TEST_CASE("yaml: bad weights, balance, check and slowstart name the word and where it is") {
  std::string e =
      error_of("frontends:\n  - bind: ':80'\n    servers:\n      - {address: a:1, weight: 0}\n");
  CHECK(contains(e, "test.yaml:4:32:"));
  CHECK(contains(e, "weight 0"));
  e = error_of("frontends:\n  - bind: ':80'\n    servers:\n      - {address: a:1, weight: 300}\n");
  CHECK(contains(e, "weight 300"));
  e = error_of("frontends:\n  - bind: ':80'\n    check: {type: grpc}\n");
  CHECK(contains(e, "test.yaml:3:19:"));
  CHECK(contains(e, "'grpc'"));
  e = error_of("frontends:\n  - bind: ':80'\n    check: {type: http, path: health}\n");
  CHECK(contains(e, "test.yaml:3:31:"));
  CHECK(contains(e, "\"health\""));
  e = error_of("frontends:\n  - bind: ':80'\n    check: {path: /x}\n");
  CHECK(contains(e, "for type: http"));
  e = error_of("frontends:\n  - bind: ':80'\n    check: {type: http, status: 500-200}\n");
  CHECK(contains(e, "500-200"));
  e = error_of("frontends:\n  - bind: ':80'\n    slowstart: -1s\n");
  CHECK(contains(e, "test.yaml:3:16:"));
  CHECK(contains(e, "-1s"));
}

TEST_CASE("yaml: tls and server_tls (a frontend's, a route's) read, print and read back; bad ones "
          "name the place") {
  const std::string head = "frontends:\n  - bind: \":443\"\n    servers: [a:1]\n";
  Config c = load_yaml_text(head + R"(    tls:
      cert: a.pem
      key: a.key
      certs: [{cert: b.pem, key: b.key}]
      alpn: [h2, http/1.1]
      min_version: "1.3"
      client_ca: ca.pem
    tls_handshake_timeout: 3s
    server_tls: {verify: none, sni: db.internal}
    routes:
      - sni: [api.test]
        servers: [b:1]
        server_tls: {verify: ca.pem, sni: api.internal, cert: c.pem, key: c.key}
      - sni: [www.test]
        servers: [c:1]
)",
                            "t.yaml");
  const Frontend& f = c.frontends.at(0);
  REQUIRE(f.tls);
  CHECK(f.tls->certs == std::vector<TlsCertificate>{{"a.pem", "a.key"}, {"b.pem", "b.key"}});
  CHECK(f.tls->alpn == std::vector<std::string>{"h2", "http/1.1"});
  CHECK(f.tls->min_version == "1.3");
  CHECK(f.tls->client_ca == "ca.pem");
  CHECK(f.tls_handshake_timeout == 3s);
  REQUIRE(f.server_tls);
  CHECK(f.server_tls->verify == "none");
  CHECK(f.server_tls->sni == "db.internal");
  // A route's own server_tls; a route without one has none of its own (it takes the frontend's).
  REQUIRE(f.routes.at(0).server_tls);
  CHECK(*f.routes.at(0).server_tls == ServerTls{"ca.pem", "api.internal", "c.pem", "c.key"});
  CHECK_FALSE(f.routes.at(1).server_tls);
  CHECK(load_yaml_text(to_yaml(c), "again") == c);

  CHECK(contains(error_of(head + "    tls: {cert: a.pem, key: a.key, min_version: \"1.1\"}\n"),
                 "test.yaml:4:"));
  CHECK(contains(error_of(head + "    tls: {cert: a.pem, key: a.key, min_version: \"1.1\"}\n"),
                 "1.0 and 1.1 are refused"));
  CHECK(contains(error_of(head + "    tls: {cert: a.pem}\n"), "both 'cert' and 'key'"));
  CHECK(contains(error_of(head + "    tls: {alpn: [h2]}\n"), "no certificate"));
  CHECK(contains(error_of(head + "    server_tls: {sni: x}\n"), "'verify' is needed"));
  CHECK(contains(error_of(head + "    routes: [{sni: [a.test], servers: [b:1], server_tls: "
                                 "{verify: none, cert: c.pem}}]\n"),
                 "'cert' and 'key' go together"));
}

TEST_CASE("yaml: docker, a server's name and a frontend's provider, read and printed back") {
  Config c = load_yaml_text(R"(
docker: {socket: /run/d.sock, network: front}
frontends:
  - bind: "8001"
    provider: docker
    servers:
      - {address: "172.17.0.2:80", name: rng-1}
)",
                            "t.yaml");
  REQUIRE(c.docker);
  CHECK(c.docker->socket == "/run/d.sock");
  CHECK(c.docker->network == "front");
  CHECK(c.frontends.at(0).provider == "docker");
  CHECK(c.frontends.at(0).servers.at(0).name == "rng-1");
  CHECK(load_yaml_text(to_yaml(c), "again") == c);
  CHECK(load_yaml_text("docker: true\n", "t").docker->socket == "/var/run/docker.sock");
  CHECK(!load_yaml_text("docker: false\n", "t").docker);
  CHECK(contains(error_of("docker: {sock: /x}\n"), "unknown key 'sock' in docker"));
  CHECK(contains(error_of("docker: {socket: ''}\n"), "t.yaml:1:18: docker socket: an empty path"));
}
