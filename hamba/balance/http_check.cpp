// The http health check's request and status-line parser; see http_check.h.
#include "balance/http_check.h"

#include <fmt/format.h>

namespace hamba::balance {

namespace {
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
} // namespace

std::string HttpCheck::request() const {
  return fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: hamba-check\r\n"
                     "Connection: close\r\nAccept: */*\r\n\r\n",
                     path_, host_);
}

Verdict HttpCheck::feed(std::string_view bytes) {
  static constexpr std::string_view kPrefix = "HTTP/";
  for (char c : bytes) {
    if (c == '\n')
      return parse_line();
    line_ += c;
    // Give up at the first byte that cannot be an HTTP reply, not after kMaxStatusLine.
    size_t n = line_.size();
    if (n <= kPrefix.size() && line_.back() != kPrefix[n - 1])
      return decide(Verdict::fail, "http: not an HTTP reply: " + printable(line_));
    if (n > kMaxStatusLine)
      return decide(Verdict::fail, "http: status line too long");
  }
  return Verdict::more;
}

// "HTTP/1.1 200 OK" (the CR before the LF optional): the version's digits, one space, three
// digits, then nothing or a space and any reason.
Verdict HttpCheck::parse_line() {
  std::string_view l = line_;
  if (!l.empty() && l.back() == '\r')
    l.remove_suffix(1);
  bool ok = l.size() >= 12 && is_digit(l[5]) && l[6] == '.' && is_digit(l[7]) && l[8] == ' ' &&
            is_digit(l[9]) && is_digit(l[10]) && is_digit(l[11]) &&
            (l.size() == 12 || l[12] == ' ');
  if (!ok)
    return decide(Verdict::fail, "http: bad status line: " + printable(l));
  status_ = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  std::string detail = fmt::format("http {}", status_);
  return decide(expect_.contains(status_) ? Verdict::pass : Verdict::fail, std::move(detail));
}

Verdict HttpCheck::end() {
  return decide(Verdict::fail,
                line_.empty() ? "http: closed before replying" : "http: closed in the status line");
}

} // namespace hamba::balance
