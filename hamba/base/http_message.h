// HTTP/1.1 messages as plain data, shared by HttpServer and HttpClient: a parsed Request, the
// Response a handler gives back, header lookup, reason phrases and the wire form of a response.
//
//     Response r = Response::text(404, "Not Found\n");
//     r.headers.push_back({"Location", "/index.html"});
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace http {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// http-parser's header callbacks, for the request and the response parser alike: a name or a
// value may arrive in pieces (split reads), and a new header starts with a name after a value.
// `in_name` is the parser's state between calls.
void append_header_name(Headers& headers, bool& in_name, const char* at, std::size_t n);
void append_header_value(Headers& headers, bool& in_name, const char* at, std::size_t n);

// The value of the first header named `name` (case-insensitive), if any.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);

// One request as the server parsed it. `target` is the raw request target ("/32?x=1"); `path`
// is its part before '?' (not percent-decoded), `query` the part after it (without '?').
struct Request {
  std::string method; // "GET", "POST", ...
  std::string target;
  std::string path;
  std::string query;
  Headers headers;
  std::string body;
  int http_major = 1;
  int http_minor = 1;
  std::string peer; // "127.0.0.1:54321" (the client's address), for logs

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// What a handler answers. The server adds Content-Length, Content-Type (when not empty) and
// Connection; `headers` are extra ones (Location, Cache-Control, ...).
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  Headers headers;

  // A response with this status and body, as text/plain.
  static Response text(int status, std::string body);
  // A short text/plain error page: "<status> <reason>\n" plus an optional detail line.
  static Response error(int status, std::string_view detail = {});
  // 405 with the Allow header listing the methods the resource takes ("GET, HEAD").
  static Response method_not_allowed(std::string allow);
  // A 302 redirect to `location`.
  static Response redirect(std::string location);

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// "OK", "Not Found", ...; "Unknown" for codes this library does not name.
std::string_view reason_phrase(int status);

// The status line and headers of `response` (ending with the blank line), for a connection that
// stays open (`keep_alive`) or is closed after it.
std::string serialize_head(const Response& response, bool keep_alive);

} // namespace http
