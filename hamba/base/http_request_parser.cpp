// RequestParser: http-parser's callbacks collected into a Request, the limits turned into
// statuses (see http_request_parser.h).
#include "base/http_request_parser.h"

#include <http_parser.h>

namespace http {

// The http-parser callbacks, translated into calls on the parser (http_parser::data).
struct RequestParserCallbacks {
  static RequestParser* self(http_parser* p) { return static_cast<RequestParser*>(p->data); }
  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x{};
      x.on_message_begin = [](http_parser* p) { return self(p)->on_message_begin(); };
      x.on_url = [](http_parser* p, const char* at, size_t n) { return self(p)->on_url(at, n); };
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

RequestParser::RequestParser(RequestLimits limits)
    : limits_(limits), parser_(std::make_unique<http_parser>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
}

RequestParser::~RequestParser() = default;

std::size_t RequestParser::feed(const char* data, std::size_t len) {
  if (state_ != State::incomplete || len == 0)
    return 0;
  started_ = true;
  // Empty lines before a request line: http-parser skips any number of them; bound them here.
  std::size_t skipped = 0;
  while (!in_message_ && skipped < len) {
    const char c = data[skipped];
    if (c != '\r' && c != '\n') {
      in_message_ = true;
      break;
    }
    ++skipped;
    if (++empty_line_bytes_ > 2 * limits_.max_empty_lines) {
      fail(400, "too many empty lines before the request line");
      return skipped;
    }
  }
  if (skipped == len)
    return len;
  const std::size_t parsed = http_parser_execute(parser_.get(), &RequestParserCallbacks::settings(),
                                                 data + skipped, len - skipped);
  const auto err = HTTP_PARSER_ERRNO(parser_.get());
  if (state_ == State::complete)
    return skipped + parsed;
  if (err != HPE_OK) {
    int status = reject_status_;
    if (status == 0)
      status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
    fail(status, error_detail_.empty() ? http_errno_description(err) : error_detail_);
    return skipped + parsed;
  }
  if (parser_->upgrade) // the head asked for a protocol switch and no message completed
    fail(400, "protocol upgrade not supported");
  return skipped + parsed;
}

Request RequestParser::take_request() {
  Request out = std::move(request_);
  begin_request();
  http_parser_pause(parser_.get(), 0);
  return out;
}

void RequestParser::begin_request() {
  request_ = Request{};
  state_ = State::incomplete;
  in_message_ = false;
  started_ = false;
  head_complete_ = false;
  continue_wanted_ = false;
  in_field_ = false;
  empty_line_bytes_ = 0;
  reject_status_ = 0;
}

void RequestParser::fail(int status, std::string detail) {
  state_ = State::failed;
  error_status_ = status;
  error_detail_ = std::move(detail);
}

int RequestParser::on_message_begin() {
  request_ = Request{};
  in_field_ = false;
  reject_status_ = 0;
  return 0;
}

int RequestParser::on_url(const char* at, std::size_t n) {
  if (request_.target.size() + n > limits_.max_target) {
    reject_status_ = 414;
    return 1;
  }
  request_.target.append(at, n);
  return 0;
}

// A header name may arrive in pieces (split reads): a new header starts after a value.
int RequestParser::on_header_field(const char* at, std::size_t n) {
  append_header_name(request_.headers, in_field_, at, n);
  return 0;
}

int RequestParser::on_header_value(const char* at, std::size_t n) {
  append_header_value(request_.headers, in_field_, at, n);
  return 0;
}

int RequestParser::on_headers_complete() {
  head_complete_ = true;
  request_.method = http_method_str(static_cast<http_method>(parser_->method));
  request_.http_major = parser_->http_major;
  request_.http_minor = parser_->http_minor;
  if (parser_->http_major != 1) { // 1.x with x > 1 is read as 1.1 (RFC 9110 2.5)
    reject_status_ = 505;
    error_detail_ = "this server speaks HTTP/1.0 and HTTP/1.1";
    return -1;
  }
  auto q = request_.target.find('?');
  request_.path = request_.target.substr(0, q);
  if (q != std::string::npos)
    request_.query = request_.target.substr(q + 1);
  if ((parser_->flags & F_CONTENTLENGTH) && parser_->content_length > limits_.max_body) {
    reject_status_ = 413;
    return -1;
  }
  if (auto expect = request_.header("Expect"); expect && parser_->content_length > 0) {
    // curl waits a second for this before sending bodies over 1 KiB
    if (*expect == "100-continue" || *expect == "100-Continue")
      continue_wanted_ = true;
  }
  return 0;
}

int RequestParser::on_body(const char* at, std::size_t n) {
  if (request_.body.size() + n > limits_.max_body) {
    reject_status_ = 413;
    return 1;
  }
  request_.body.append(at, n);
  return 0;
}

int RequestParser::on_message_complete() {
  state_ = State::complete;
  continue_wanted_ = false; // the body is in already
  keep_alive_ = http_should_keep_alive(parser_.get()) != 0 && !parser_->upgrade;
  http_parser_pause(parser_.get(), 1);
  return 0;
}

} // namespace http
