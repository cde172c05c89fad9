// ResponseParser: http-parser's callbacks collected into an Answer (see http_response_parser.h).
#include "base/http_response_parser.h"

#include <http_parser.h>

namespace http {

// The http-parser callbacks, translated into calls on the parser (http_parser::data).
struct ResponseParserCallbacks {
  static ResponseParser* self(http_parser* p) { return static_cast<ResponseParser*>(p->data); }
  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x{};
      x.on_message_begin = [](http_parser* p) { return self(p)->on_message_begin(); };
      x.on_header_field = [](http_parser* p, const char* at, size_t n) {
        return self(p)->on_header_field(at, n);
      };
      x.on_header_value = [](http_parser* p, const char* at, size_t n) {
        return self(p)->on_header_value(at, n);
      };
      x.on_headers_complete = [](http_parser* p) { return self(p)->on_headers_complete(); };
      x.on_body = [](http_parser* p, const char* at, size_t n) { return self(p)->on_body(at, n); };
      x.on_message_complete = [](http_parser* p) { return self(p)->on_message_complete(); };
      return x;
    }();
    return s;
  }
};

ResponseParser::ResponseParser(std::size_t max_body)
    : max_body_(max_body), parser_(std::make_unique<http_parser>()) {
  expect(false);
}

ResponseParser::~ResponseParser() = default;

void ResponseParser::expect(bool head_request) {
  http_parser_init(parser_.get(), HTTP_RESPONSE);
  parser_->data = this;
  state_ = State::incomplete;
  answer_ = Answer{};
  error_.clear();
  head_request_ = head_request;
  in_field_ = false;
  keep_alive_ = false;
}

std::size_t ResponseParser::feed(const char* data, std::size_t len) {
  if (state_ != State::incomplete || len == 0)
    return 0;
  const std::size_t parsed =
      http_parser_execute(parser_.get(), &ResponseParserCallbacks::settings(), data, len);
  after_execute();
  return parsed;
}

void ResponseParser::feed_eof() {
  if (state_ != State::incomplete)
    return;
  // An answer cut short stays incomplete (http-parser's error is not kept): the caller says how
  // the connection ended.
  http_parser_execute(parser_.get(), &ResponseParserCallbacks::settings(), nullptr, 0);
}

void ResponseParser::after_execute() {
  if (state_ == State::complete)
    return;
  const auto err = HTTP_PARSER_ERRNO(parser_.get());
  if (err == HPE_OK)
    return;
  state_ = State::failed;
  error_ = err == HPE_CB_body ? "answer body over the size limit" : http_errno_description(err);
}

int ResponseParser::on_message_begin() {
  answer_ = Answer{};
  in_field_ = false;
  return 0;
}

int ResponseParser::on_header_field(const char* at, std::size_t n) {
  append_header_name(answer_.headers, in_field_, at, n);
  return 0;
}

int ResponseParser::on_header_value(const char* at, std::size_t n) {
  append_header_value(answer_.headers, in_field_, at, n);
  return 0;
}

int ResponseParser::on_headers_complete() {
  answer_.status = static_cast<int>(parser_->status_code);
  return head_request_ ? 1 : 0; // 1: no body follows, whatever Content-Length says
}

int ResponseParser::on_body(const char* at, std::size_t n) {
  if (body_sink_ && answer_.status >= 200 && answer_.status < 300) {
    body_sink_(std::string_view(at, n));
    return 0;
  }
  if (answer_.body.size() + n > max_body_)
    return 1;
  answer_.body.append(at, n);
  return 0;
}

int ResponseParser::on_message_complete() {
  if (answer_.status >= 100 && answer_.status < 200)
    return 0; // "100 Continue": the real answer follows
  state_ = State::complete;
  keep_alive_ = http_should_keep_alive(parser_.get()) != 0;
  http_parser_pause(parser_.get(), 1);
  return 0;
}

} // namespace http
