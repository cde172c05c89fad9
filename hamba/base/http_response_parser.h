// The answer side of HTTP/1.1 as bytes in, one answer out: what HttpClient parses each answer
// with, callable without a socket (the unit tests and the fuzz target feed it bytes directly).
//
//     http::ResponseParser parser(16 << 20);
//     parser.expect(/*head_request=*/false);  // before each answer
//     std::size_t used = parser.feed(data, len);
//     ... at EOF: parser.feed_eof();          // ends an answer whose body runs to the close
//     if (parser.state() == http::ResponseParser::State::complete) ... parser.answer() ...
//
// Interim answers (1xx, such as "100 Continue") are skipped: the answer is the final one.
//
// An answer that never ends (a stream of events in a chunked body) is read with a body sink:
// a 2xx answer's body, de-chunked, goes to it as it comes instead of into answer().body, and no
// size limit applies (the sink bounds what it keeps). Other answers' bodies (an error message)
// are kept as usual, within max_body.
//
//     parser.set_body_sink([&](std::string_view bytes) { ... });
#pragma once

#include "base/http_message.h"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

struct http_parser;

namespace http {

// One parsed answer.
struct Answer {
  int status = 0;
  Headers headers;
  std::string body;
};

class ResponseParser {
public:
  enum class State {
    incomplete, // more bytes needed
    complete,   // the answer is in: answer(); later bytes are not taken
    failed,     // not an HTTP answer, or a body over max_body: error() says which
  };

  explicit ResponseParser(std::size_t max_body);
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Forgets the last answer and waits for the next one, the answer to a HEAD request when
  // `head_request` (no body follows, whatever Content-Length says).
  void expect(bool head_request);
  // Parses up to `len` bytes; returns how many it used (fewer once the answer is complete).
  std::size_t feed(const char* data, std::size_t len);
  // The connection ended: completes an answer whose body runs to the close. Otherwise the
  // state stays as it was (an answer cut short is still incomplete).
  void feed_eof();
  // The body's bytes go to `sink` (called from inside feed()) rather than into answer().body;
  // an empty function restores the default. Kept across expect().
  void set_body_sink(std::function<void(std::string_view)> sink) { body_sink_ = std::move(sink); }

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  // Whether the connection may carry another request after this complete answer.
  bool keep_alive() const { return keep_alive_; }
  Answer& answer() { return answer_; }

private:
  friend struct ResponseParserCallbacks;
  int on_message_begin();
  int on_header_field(const char* at, std::size_t n);
  int on_header_value(const char* at, std::size_t n);
  int on_headers_complete();
  int on_body(const char* at, std::size_t n);
  int on_message_complete();
  void after_execute();

  std::size_t max_body_;
  std::function<void(std::string_view)> body_sink_;
  std::unique_ptr<http_parser> parser_;
  State state_ = State::incomplete;
  Answer answer_;
  std::string error_;
  bool head_request_ = false;
  bool in_field_ = false;
  bool keep_alive_ = false;
};

} // namespace http
