// Fuzz target for the request parser of every HTTP server (base/http_request_parser.h): bytes
// are parsed whole, then again in pieces whose sizes come from the first byte, as reads would
// split them. Both give the same requests and the same end; every request is within the limits.
#include "base/http_request_parser.h"
#include "fuzz_check.h"

#include <cstdint>
#include <string>
#include <vector>

using fuzz::check;

namespace {

const http::RequestLimits limits{.max_body = 256, .max_target = 64, .max_empty_lines = 4};

struct Outcome {
  std::vector<http::Request> requests;
  http::RequestParser::State state = http::RequestParser::State::incomplete;
  int status = 0;
  bool started = false;
  bool head_complete = false;
};

bool same(const http::Request& a, const http::Request& b) {
  if (a.method != b.method || a.target != b.target || a.path != b.path || a.query != b.query ||
      a.body != b.body || a.http_major != b.http_major || a.http_minor != b.http_minor ||
      a.headers.size() != b.headers.size())
    return false;
  for (size_t i = 0; i < a.headers.size(); ++i)
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value)
      return false;
  return true;
}

Outcome parse(const char* data, size_t size, size_t piece) {
  http::RequestParser parser(limits);
  Outcome out;
  size_t at = 0;
  while (at < size) {
    const size_t n = std::min(piece, size - at);
    const size_t used = parser.feed(data + at, n);
    check(used <= n);
    at += used;
    if (parser.state() == http::RequestParser::State::complete) {
      const bool again = parser.keep_alive();
      http::Request r = parser.take_request();
      check(r.target.size() <= limits.max_target && r.body.size() <= limits.max_body);
      check(r.http_major == 1);
      check(r.path.size() <= r.target.size());
      out.requests.push_back(std::move(r));
      if (!again)
        break;
    } else if (parser.state() == http::RequestParser::State::failed) {
      check(parser.error_status() >= 400 && parser.error_status() <= 505);
      check(parser.feed(data + at, size - at) == 0);
      break;
    } else {
      check(used == n); // an incomplete request takes every byte it is given
    }
  }
  out.state = parser.state();
  out.status = parser.error_status();
  out.started = parser.started();
  out.head_complete = parser.head_complete();
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  const size_t piece = 1 + data[0] % 16;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const Outcome whole = parse(bytes, size - 1, size);
  const Outcome split = parse(bytes, size - 1, piece);
  check(whole.requests.size() == split.requests.size());
  for (size_t i = 0; i < whole.requests.size(); ++i)
    check(same(whole.requests[i], split.requests[i]));
  check(whole.state == split.state);
  // A limit is checked when http-parser hands over a piece, so where pieces end decides whether a
  // limit or a later syntax error is seen first; any other difference is a bug.
  const auto limit = [](int status) { return status == 413 || status == 414 || status == 431; };
  check(whole.status == split.status || limit(whole.status) || limit(split.status));
  check(whole.head_complete == split.head_complete);
  return 0;
}
