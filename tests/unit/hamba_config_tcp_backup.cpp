// The configuration of TCP keepalive and user timeout (both sides), backup servers, allbackups
// and balance: first: YAML, the command line's form, defaults, errors and to_yaml's round trip.
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

const std::string head = "frontends:\n  - bind: \":80\"\n    servers: [a:1]\n";
} // namespace

TEST_CASE("tcp options: keepalive off toward clients, on toward servers (60s, 15s, 4)") {
  Frontend f = load_yaml_text(head, "t").frontends.at(0);
  CHECK_FALSE(f.client_tcp.keepalive.enabled);
  CHECK(f.client_tcp.user_timeout == 0ms);
  CHECK(f.server_tcp.keepalive.enabled);
  CHECK(f.server_tcp.keepalive.idle == 60s);
  CHECK(f.server_tcp.keepalive.interval == 15s);
  CHECK(f.server_tcp.keepalive.count == 4);
  CHECK(f.server_tcp.user_timeout == 0ms);
  CHECK_FALSE(f.allbackups);
  CHECK_FALSE(f.servers.at(0).backup);
}

TEST_CASE("tcp options: YAML forms, and to_yaml reads back the same") {
  Config c = load_yaml_text(head + R"(    tcp_keepalive: {idle: 2m, count: 9}
    tcp_user_timeout: 30s
    server_tcp_keepalive: false
    server_tcp_user_timeout: 1500ms
    allbackups: true
    balance: first
  - bind: ":81"
    tcp_keepalive: true
    servers: [{address: "b:1", backup: true, maxconn: 3}, c:1]
)",
                            "t");
  const Frontend& f = c.frontends.at(0);
  CHECK(f.client_tcp.keepalive.enabled);
  CHECK(f.client_tcp.keepalive.idle == 2min);
  CHECK(f.client_tcp.keepalive.interval == 15s);
  CHECK(f.client_tcp.keepalive.count == 9);
  CHECK(f.client_tcp.user_timeout == 30s);
  CHECK_FALSE(f.server_tcp.keepalive.enabled);
  CHECK(f.server_tcp.user_timeout == 1500ms);
  CHECK(f.allbackups);
  CHECK(f.balance == Balance::first);
  const Frontend& g = c.frontends.at(1);
  CHECK(g.client_tcp.keepalive.enabled);
  CHECK(g.servers.at(0).backup);
  CHECK_FALSE(g.servers.at(1).backup);
  CHECK(load_yaml_text(to_yaml(c), "again") == c);
}

TEST_CASE("tcp options: a bad figure is one error naming it and its place") {
  std::string e = error_of(head + "    tcp_keepalive: {idle: 1500ms}\n");
  CHECK(e.find("t.yaml:4:27:") == 0);
  CHECK(e.find("whole seconds") != std::string::npos);
  e = error_of(head + "    server_tcp_keepalive: {count: 0}\n");
  CHECK(e.find("t.yaml:4:35:") == 0);
  CHECK(e.find("count 0") != std::string::npos);
  e = error_of(head + "    server_tcp_keepalive: {idle: 10h}\n");
  CHECK(e.find("32767s") != std::string::npos);
  e = error_of(head + "    tcp_keepalive: {idel: 5s}\n");
  CHECK(e.find("unknown key 'idel'") != std::string::npos);
  e = error_of(head + "    tcp_user_timeout: 1000h\n");
  CHECK(e.find("t.yaml:4:23:") == 0);
  e = error_of(head + "    tcp_keepalive: maybe\n");
  CHECK(e.find("'maybe' is not true or false") != std::string::npos);
  e = error_of(head + "    balance: last\n");
  CHECK(e.find("'last'") != std::string::npos);
  e = error_of("frontends:\n  - bind: \":80\"\n    servers: [{address: a:1, backup: 2}]\n");
  CHECK(e.find("t.yaml:3:38:") == 0);
}

TEST_CASE("tcp options: the command line's form") {
  TcpKeepalive k = parse_tcp_keepalive("30s,5s,3");
  CHECK(k.enabled);
  CHECK(k.idle == 30s);
  CHECK(k.interval == 5s);
  CHECK(k.count == 3);
  k = parse_tcp_keepalive("2m");
  CHECK(k.idle == 2min);
  CHECK(k.interval == 15s);
  CHECK(parse_tcp_keepalive("on").enabled);
  CHECK_FALSE(parse_tcp_keepalive("off").enabled);
  for (const char* bad : {"", "x", "30s,", "30s,5s,", "30s,5s,3,1", "30s,5s,three", "-1s"})
    CHECK_THROWS_AS(parse_tcp_keepalive(bad), ConfigError);
}
