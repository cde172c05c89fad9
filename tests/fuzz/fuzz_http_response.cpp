// Fuzz target for the services' HTTP client answer parser (base/http_response_parser.h): bytes
// are parsed whole, then in pieces whose sizes come from the first byte, each way with an end
// of connection after them; the second byte says whether the answer is to a HEAD request. Both
// ways give the same end and the same answer, within the body limit.
#include "base/http_response_parser.h"
#include "fuzz_check.h"

#include <cstdint>
#include <string>

using fuzz::check;

namespace {

constexpr size_t kMaxBody = 512;

struct Outcome {
  http::ResponseParser::State state;
  http::Answer answer;
  bool keep_alive = false;
  std::string error;
};

Outcome parse(const char* data, size_t size, size_t piece, bool head) {
  http::ResponseParser parser(kMaxBody);
  parser.expect(head);
  size_t at = 0;
  while (at < size && parser.state() == http::ResponseParser::State::incomplete) {
    const size_t n = std::min(piece, size - at);
    const size_t used = parser.feed(data + at, n);
    check(used <= n);
    if (parser.state() == http::ResponseParser::State::incomplete)
      check(used == n);
    at += used;
  }
  parser.feed_eof();
  Outcome out{parser.state(), std::move(parser.answer()), parser.keep_alive(), parser.error()};
  if (out.state == http::ResponseParser::State::complete) {
    check(out.answer.body.size() <= kMaxBody);
    check(out.answer.status >= 200 || out.answer.status < 100);
    if (head)
      check(out.answer.body.empty());
  }
  if (out.state == http::ResponseParser::State::failed)
    check(!out.error.empty());
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2)
    return 0;
  const size_t piece = 1 + data[0] % 16;
  const bool head = data[1] & 1;
  const char* bytes = reinterpret_cast<const char*>(data + 2);
  const Outcome whole = parse(bytes, size - 2, size, head);
  const Outcome split = parse(bytes, size - 2, piece, head);
  check(whole.state == split.state);
  if (whole.state == http::ResponseParser::State::complete) {
    check(whole.answer.status == split.answer.status);
    check(whole.answer.body == split.answer.body);
    check(whole.keep_alive == split.keep_alive);
    check(whole.answer.headers.size() == split.answer.headers.size());
    for (size_t i = 0; i < whole.answer.headers.size(); ++i)
      check(whole.answer.headers[i].name == split.answer.headers[i].name &&
            whole.answer.headers[i].value == split.answer.headers[i].value);
  }
  return 0;
}
