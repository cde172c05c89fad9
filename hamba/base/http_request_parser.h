// The request side of HTTP/1.1 as bytes in, Requests out: what HttpServer parses each connection
// with, callable without a socket (the unit tests and the fuzz target feed it bytes directly).
//
//     http::RequestParser parser({.max_target = 2048});
//     std::size_t used = parser.feed(data, len);
//     if (parser.state() == http::RequestParser::State::complete) {
//       http::Request request = parser.take_request(); // then feed data + used, len - used
//     } else if (parser.state() == http::RequestParser::State::failed) {
//       ... answer parser.error_status(), parser.error_detail() and close
//     }
//
// One request at a time: once a request is complete the parser takes no byte until
// take_request(). Limits turn into the status to answer: 414 (target), 431 (headers), 413
// (body), 505 (an HTTP major version other than 1), 400 for the rest, including more empty lines
// before a request line than RequestLimits::max_empty_lines (RFC 9112 2.2 asks to ignore "at
// least one"; a flood of them is a way to hold a connection without ever sending a request).
#pragma once

#include "base/http_message.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

struct http_parser;

namespace http {

struct RequestLimits {
  std::size_t max_body = 1 << 20;   // bodies above this fail with 413
  std::size_t max_target = 8 << 10; // targets above this fail with 414
  std::size_t max_empty_lines = 8;  // CRLFs (or bare LFs) tolerated before a request line
};

class RequestParser {
public:
  enum class State {
    incomplete, // more bytes needed
    complete,   // a whole request is in: take_request()
    failed,     // a bad request: answer error_status() and close; later bytes are ignored
  };

  explicit RequestParser(RequestLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses up to `len` bytes and returns how many it used: all of them unless a request got
  // complete before their end (the rest belongs to the next request) or the parser failed.
  std::size_t feed(const char* data, std::size_t len);

  State state() const { return state_; }
  // Some byte of the current request (or an empty line before it) has arrived.
  bool started() const { return started_; }
  // The current request's head (request line and headers) is in.
  bool head_complete() const { return head_complete_; }
  // The client sent "Expect: 100-continue" and waits for it before sending the body. Cleared
  // by reading it, so it is answered once.
  bool take_continue() { return std::exchange(continue_wanted_, false); }

  // The complete request (state() == complete); the parser then waits for the next one.
  Request take_request();
  // Whether the connection may carry another request after the one taken (HTTP/1.1 without
  // "Connection: close", or HTTP/1.0 with keep-alive; never after an upgrade or CONNECT).
  bool keep_alive() const { return keep_alive_; }

  int error_status() const { return error_status_; }
  const std::string& error_detail() const { return error_detail_; }

private:
  friend struct RequestParserCallbacks;
  int on_message_begin();
  int on_url(const char* at, std::size_t n);
  int on_header_field(const char* at, std::size_t n);
  int on_header_value(const char* at, std::size_t n);
  int on_headers_complete();
  int on_body(const char* at, std::size_t n);
  int on_message_complete();
  void fail(int status, std::string detail);
  void begin_request(); // forgets the last request, for the next one

  RequestLimits limits_;
  std::unique_ptr<http_parser> parser_;
  State state_ = State::incomplete;
  Request request_;
  bool in_message_ = false; // past the empty lines, inside a request line or later
  bool started_ = false;
  bool head_complete_ = false;
  bool continue_wanted_ = false;
  bool in_field_ = false;
  bool keep_alive_ = false;
  std::size_t empty_line_bytes_ = 0;
  int reject_status_ = 0; // set by a callback that stops the parser
  int error_status_ = 0;
  std::string error_detail_;
};

} // namespace http
