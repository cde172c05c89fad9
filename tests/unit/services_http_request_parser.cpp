// RequestParser on bytes, no socket: whole and split requests, pipelining, each limit and the
// status it turns into, empty lines before a request, HTTP versions.
#include "base/http_request_parser.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

namespace {

using State = http::RequestParser::State;

struct Outcome {
  std::vector<http::Request> requests;
  State state = State::incomplete;
  int status = 0;
  std::string detail;
};

// Feeds `bytes` in pieces of `piece` bytes, taking every complete request (while the connection
// may go on), until the bytes end or the parser fails.
Outcome parse(const std::string& bytes, std::size_t piece = 1 << 20, http::RequestLimits l = {}) {
  http::RequestParser parser(l);
  Outcome out;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t n = std::min(piece, bytes.size() - at);
    at += parser.feed(bytes.data() + at, n);
    if (parser.state() == State::complete) {
      const bool again = parser.keep_alive();
      out.requests.push_back(parser.take_request());
      if (!again)
        break;
    } else if (parser.state() == State::failed) {
      break;
    }
  }
  out.state = parser.state();
  out.status = parser.error_status();
  out.detail = parser.error_detail();
  return out;
}

} // namespace

TEST_CASE("request parser: one request, whole or a byte at a time, gives the same request") {
  const std::string wire = "POST /hash?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                           "X-Long-Header-Name: a value\r\n\r\nhello";
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, wire.size()}) {
    CAPTURE(piece);
    auto out = parse(wire, piece);
    REQUIRE(out.requests.size() == 1);
    const auto& r = out.requests[0];
    CHECK(r.method == "POST");
    CHECK(r.target == "/hash?x=1");
    CHECK(r.path == "/hash");
    CHECK(r.query == "x=1");
    CHECK(r.body == "hello");
    CHECK(r.header("x-long-header-name") == "a value");
    CHECK(r.headers.size() == 3);
  }
}

TEST_CASE("request parser: pipelined requests come one at a time") {
  http::RequestParser parser;
  const std::string wire = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  std::size_t used = parser.feed(wire.data(), wire.size());
  REQUIRE(parser.state() == State::complete);
  CHECK(used == wire.size() / 2);
  CHECK(parser.feed(wire.data() + used, wire.size() - used) == 0); // not before take_request
  CHECK(parser.take_request().target == "/a");
  CHECK(parser.keep_alive());
  CHECK(!parser.started());
  used += parser.feed(wire.data() + used, wire.size() - used);
  REQUIRE(parser.state() == State::complete);
  CHECK(used == wire.size());
  CHECK(parser.take_request().target == "/b");
}

TEST_CASE("request parser: keep-alive follows the version and Connection") {
  CHECK(parse("GET / HTTP/1.1\r\n\r\n").requests.size() == 1);
  http::RequestParser p10;
  std::string wire = "GET / HTTP/1.0\r\n\r\n";
  p10.feed(wire.data(), wire.size());
  REQUIRE(p10.state() == State::complete);
  CHECK(!p10.keep_alive());
  http::RequestParser close;
  wire = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
  close.feed(wire.data(), wire.size());
  REQUIRE(close.state() == State::complete);
  CHECK(!close.keep_alive());
}

TEST_CASE("request parser: a version it does not speak gets 505, a later 1.x is read as 1.1") {
  for (const char* version : {"HTTP/9.9", "HTTP/2.0", "HTTP/0.9"}) {
    CAPTURE(version);
    auto out = parse(std::string("GET /metrics ") + version + "\r\n\r\n");
    CHECK(out.state == State::failed);
    CHECK(out.status == 505);
  }
  auto later = parse("GET / HTTP/1.2\r\n\r\n");
  REQUIRE(later.requests.size() == 1);
  CHECK(later.requests[0].http_minor == 2);
}

TEST_CASE("request parser: empty lines before a request are bounded") {
  http::RequestLimits limits;
  limits.max_empty_lines = 3;
  const std::string get = "GET / HTTP/1.1\r\n\r\n";
  auto ok = parse("\r\n\r\n\r\n" + get, 1, limits);
  CHECK(ok.requests.size() == 1);
  auto bare_lf = parse("\n\n\n" + get, 1 << 20, limits);
  CHECK(bare_lf.requests.size() == 1);
  auto flood = parse("\r\n\r\n\r\n\r\n" + get, 1, limits);
  CHECK(flood.requests.empty());
  CHECK(flood.state == State::failed);
  CHECK(flood.status == 400);
  CHECK(flood.detail.find("empty lines") != std::string::npos);
  // The count starts again for every request of a kept-alive connection.
  auto each = parse(get + "\r\n\r\n\r\n" + get + "\r\n\r\n\r\n" + get, 5, limits);
  CHECK(each.requests.size() == 3);
  CHECK(each.state == State::incomplete);
}

TEST_CASE("request parser: a CRLF flood fails with the default limit, whatever the pieces") {
  std::string flood;
  for (int i = 0; i < 1000; ++i)
    flood += "\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, flood.size()}) {
    auto out = parse(flood, piece);
    CHECK(out.state == State::failed);
    CHECK(out.status == 400);
  }
}

TEST_CASE("request parser: each limit has its status") {
  http::RequestLimits limits;
  limits.max_target = 11;
  limits.max_body = 4;
  CHECK(parse("GET /0123456789 HTTP/1.1\r\n\r\n", 1 << 20, limits).requests.size() == 1);
  CHECK(parse("GET /0123456789a HTTP/1.1\r\n\r\n", 1 << 20, limits).status == 414);
  CHECK(parse("GET /0123456789a HTTP/1.1\r\n\r\n", 1, limits).status == 414);
  CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 1 << 20, limits).status == 413);
  CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 3,
              limits)
            .status == 413);
  auto chunked = parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n2\r\nll\r\n"
                       "0\r\n\r\n",
                       3, limits);
  REQUIRE(chunked.requests.size() == 1);
  CHECK(chunked.requests[0].body == "hell");
  CHECK(parse("GET / HTTP/1.1\r\nX: " + std::string(100 << 10, 'x') + "\r\n\r\n").status == 431);
  CHECK(parse("GET /a b c HTTP/1.1\r\n\r\n").status == 400);
}

TEST_CASE("request parser: the head is complete before the body, 100-continue is asked once") {
  http::RequestParser parser;
  const std::string head = "PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  CHECK(!parser.started());
  parser.feed(head.data(), 5);
  CHECK(parser.started());
  CHECK(!parser.head_complete());
  parser.feed(head.data() + 5, head.size() - 5);
  CHECK(parser.state() == State::incomplete);
  CHECK(parser.head_complete());
  CHECK(parser.take_continue());
  CHECK(!parser.take_continue());
  parser.feed("abc", 3);
  REQUIRE(parser.state() == State::complete);
  CHECK(parser.take_request().body == "abc");
  CHECK(!parser.head_complete());
}
