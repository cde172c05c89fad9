// ResponseParser's body sink (base/http_response_parser.h): a chunked body that never ends
// (Docker's event stream) comes out as it arrives, de-chunked; an error answer's body is kept.
#include "base/http_response_parser.h"

#include <doctest/doctest.h>
#include <string>

TEST_CASE("response parser: a chunked body goes to the sink as it comes") {
  http::ResponseParser parser(16);
  std::string sunk;
  parser.set_body_sink([&](std::string_view bytes) { sunk.append(bytes); });
  parser.expect(false);
  std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK(parser.feed(head.data(), head.size()) == head.size());
  CHECK(parser.answer().status == 200);
  std::string chunk = "1b\r\n{\"Type\":\"container\",\"n\":1}\n\r\n";
  for (char c : chunk) // one byte at a time: the slow path
    parser.feed(&c, 1);
  CHECK(sunk == "{\"Type\":\"container\",\"n\":1}\n"); // over max_body: no limit on a sink
  CHECK(parser.state() == http::ResponseParser::State::incomplete);
  std::string end = "0\r\n\r\n";
  parser.feed(end.data(), end.size());
  CHECK(parser.state() == http::ResponseParser::State::complete);
  CHECK(parser.answer().body.empty());
}

TEST_CASE("response parser: an error answer's body is kept, not sunk") {
  http::ResponseParser parser(100);
  std::string sunk;
  parser.set_body_sink([&](std::string_view bytes) { sunk.append(bytes); });
  parser.expect(false);
  std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 15\r\n\r\n{\"message\":\"x\"}";
  parser.feed(answer.data(), answer.size());
  CHECK(parser.state() == http::ResponseParser::State::complete);
  CHECK(parser.answer().body == "{\"message\":\"x\"}");
  CHECK(sunk.empty());
}
