// The application checks' protocols: what the http and redis checks send and how they judge
// every kind of reply, fed whole or a byte at a time.
#include "balance/http_check.h"
#include "balance/redis_check.h"

#include <doctest/doctest.h>
#include <string>

using namespace hamba::balance;

namespace {
// Feeds `reply` one byte at a time (the worst split a socket can give), then EOF if undecided.
Verdict bytewise(CheckProtocol& p, std::string_view reply) {
  for (char c : reply) {
    Verdict v = p.feed(std::string_view(&c, 1));
    if (v != Verdict::more)
      return v;
  }
  return p.end();
}

Verdict whole(CheckProtocol& p, std::string_view reply) {
  Verdict v = p.feed(reply);
  return v == Verdict::more ? p.end() : v;
}

Verdict http(std::string_view reply, StatusRange range = {}) {
  HttpCheck a("/", "h", range), b("/", "h", range);
  Verdict va = whole(a, reply), vb = bytewise(b, reply);
  CHECK(va == vb);
  CHECK(a.detail() == b.detail());
  return va;
}

std::string http_detail(std::string_view reply) {
  HttpCheck c("/", "h", {});
  whole(c, reply);
  return c.detail();
}
} // namespace

TEST_CASE("http check: GET path HTTP/1.1 with Host, then Connection: close") {
  HttpCheck c("/health?full=1", "rng1:8080", {});
  std::string r = c.request();
  CHECK(r.rfind("GET /health?full=1 HTTP/1.1\r\nHost: rng1:8080\r\n", 0) == 0);
  CHECK(r.find("Connection: close\r\n") != std::string::npos);
  CHECK(r.size() >= 4);
  CHECK(r.substr(r.size() - 4) == "\r\n\r\n");
}

TEST_CASE("http check: status 200-399 passes by default; 4xx and 5xx fail, naming the status") {
  CHECK(http("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") == Verdict::pass);
  CHECK(http("HTTP/1.0 204 No Content\r\n") == Verdict::pass);
  CHECK(http("HTTP/1.1 301 Moved\r\n") == Verdict::pass);
  CHECK(http("HTTP/1.1 399 Odd\r\n") == Verdict::pass);
  CHECK(http("HTTP/1.1 400 Bad Request\r\n") == Verdict::fail);
  CHECK(http("HTTP/1.1 500 Internal Server Error\r\n\r\noops") == Verdict::fail);
  CHECK(http("HTTP/1.1 199 Early\r\n") == Verdict::fail);
  CHECK(http_detail("HTTP/1.1 500 Internal Server Error\r\n") == "http 500");
  CHECK(http_detail("HTTP/1.1 200 OK\r\n") == "http 200");
}

TEST_CASE("http check: a configured range, and one status") {
  CHECK(http("HTTP/1.1 404 Not Found\r\n", {200, 404}) == Verdict::pass);
  CHECK(http("HTTP/1.1 405 No\r\n", {200, 404}) == Verdict::fail);
  CHECK(http("HTTP/1.1 200 OK\r\n", {204, 204}) == Verdict::fail);
  CHECK(http("HTTP/1.1 204 OK\r\n", {204, 204}) == Verdict::pass);
}

TEST_CASE("http check: status lines without reason or CR are fine") {
  CHECK(http("HTTP/1.1 200\r\n") == Verdict::pass);
  CHECK(http("HTTP/1.1 200 OK\n") == Verdict::pass);
  CHECK(http("HTTP/2.0 200 \r\n") == Verdict::pass);
}

TEST_CASE("http check: what is not an HTTP reply fails at once, saying so printably") {
  CHECK(http("SSH-2.0-OpenSSH_9.2\r\n") == Verdict::fail);
  CHECK(http_detail("SSH-2.0-OpenSSH_9.2\r\n") == "http: not an HTTP reply: S");
  // Decided at the first wrong byte: no need for a line end.
  HttpCheck c("/", "h", {});
  CHECK(c.feed("+PONG") == Verdict::fail);
  CHECK(http("HTTP/1.1 2000 OK\r\n") == Verdict::fail);
  CHECK(http("HTTP/1.1 20 OK\r\n") == Verdict::fail);
  CHECK(http("HTTP/1.1  200 OK\r\n") == Verdict::fail);
  CHECK(http("HTTP/x.1 200 OK\r\n") == Verdict::fail);
  CHECK(http("HTTP/1.1 2x0 OK\r\n") == Verdict::fail);
  CHECK(http("HTTP/1.1 200OK\r\n") == Verdict::fail);
  CHECK(http_detail("HTTP/1.1 2\x01\x02 OK\r\n") == "http: bad status line: HTTP/1.1 2?? OK");
}

TEST_CASE("http check: closing early or a status line without end fail") {
  CHECK(http("") == Verdict::fail);
  CHECK(http_detail("") == "http: closed before replying");
  CHECK(http("HTTP/1.1 200 OK") == Verdict::fail); // no line end before EOF
  CHECK(http_detail("HTTP/1.1 200 OK") == "http: closed in the status line");
  std::string long_line = "HTTP/1.1 200 " + std::string(HttpCheck::kMaxStatusLine, 'x');
  CHECK(http(long_line) == Verdict::fail);
  CHECK(http_detail(long_line) == "http: status line too long");
}

TEST_CASE("redis check: PING in RESP; +PONG passes") {
  RedisCheck c;
  CHECK(c.request() == "*1\r\n$4\r\nPING\r\n");
  CHECK(whole(c, "+PONG\r\n") == Verdict::pass);
  CHECK(c.detail() == "redis +PONG");
  RedisCheck b;
  CHECK(bytewise(b, "+PONG\r\n") == Verdict::pass);
  RedisCheck lf;
  CHECK(whole(lf, "+PONG\n") == Verdict::pass);
}

TEST_CASE("redis check: a loading, busy or locked Redis fails, naming its error") {
  RedisCheck loading;
  CHECK(whole(loading, "-LOADING Redis is loading the dataset in memory\r\n") == Verdict::fail);
  CHECK(loading.detail() == "redis -LOADING Redis is loading the dataset in memory");
  RedisCheck locked;
  CHECK(bytewise(locked, "-NOAUTH Authentication required.\r\n") == Verdict::fail);
  CHECK(locked.detail() == "redis -NOAUTH Authentication required.");
}

TEST_CASE("redis check: anything else fails") {
  RedisCheck other;
  CHECK(whole(other, "+OK\r\n") == Verdict::fail);
  CHECK(other.detail() == "redis: unexpected reply: +OK");
  RedisCheck http_server;
  CHECK(http_server.feed("HTTP/1.1 400 Bad Request\r\n") == Verdict::fail); // at the first byte
  CHECK(http_server.detail() == "redis: not a RESP reply: H");
  RedisCheck closed;
  CHECK(whole(closed, "+PON") == Verdict::fail);
  CHECK(closed.detail() == "redis: closed before replying");
  RedisCheck flood;
  CHECK(whole(flood, "+" + std::string(RedisCheck::kMaxLine + 1, 'P')) == Verdict::fail);
  CHECK(flood.detail() == "redis: reply line too long");
  RedisCheck nothing;
  CHECK(nothing.end() == Verdict::fail);
}

TEST_CASE("tcp check: the connect alone passes") {
  TcpCheck c;
  CHECK(c.request().empty());
  CHECK(c.end() == Verdict::pass);
}
