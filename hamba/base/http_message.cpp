// Header lookup, reason phrases and the wire form of responses (see http_message.h).
#include "base/http_message.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace http {

void append_header_name(Headers& headers, bool& in_name, const char* at, std::size_t n) {
  if (!in_name)
    headers.push_back({});
  in_name = true;
  headers.back().name.append(at, n);
}

void append_header_value(Headers& headers, bool& in_name, const char* at, std::size_t n) {
  in_name = false;
  if (headers.empty()) // a value with no name: http-parser does not send one
    headers.push_back({});
  headers.back().value.append(at, n);
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
} // namespace

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers)
    if (iequals(h.name, name))
      return std::string_view(h.value);
  return std::nullopt;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::error(int status, std::string_view detail) {
  std::string body = fmt::format("{} {}\n", status, reason_phrase(status));
  if (!detail.empty())
    body += fmt::format("{}\n", detail);
  return text(status, std::move(body));
}

Response Response::method_not_allowed(std::string allow) {
  Response r = error(405);
  r.headers.push_back({"Allow", std::move(allow)});
  return r;
}

Response Response::redirect(std::string location) {
  Response r = text(302, fmt::format("Found. Redirecting to {}\n", location));
  r.headers.push_back({"Location", std::move(location)});
  return r;
}

std::string_view reason_phrase(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 411:
    return "Length Required";
  case 413:
    return "Payload Too Large";
  case 414:
    return "URI Too Long";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

std::string serialize_head(const Response& response, bool keep_alive) {
  std::string out =
      fmt::format("HTTP/1.1 {} {}\r\n", response.status, reason_phrase(response.status));
  if (!response.content_type.empty())
    out += fmt::format("Content-Type: {}\r\n", response.content_type);
  out += fmt::format("Content-Length: {}\r\n", response.body.size());
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& h : response.headers)
    out += fmt::format("{}: {}\r\n", h.name, h.value);
  out += "\r\n";
  return out;
}

} // namespace http
