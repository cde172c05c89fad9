// The http health check: `GET <path>` with a Host header; healthy when the status is in a
// range (by default 200-399, HAProxy's `http-check expect status` rule for "success"). Only the
// status line is read: the server may send whatever it likes after it.
#pragma once

#include "balance/check_protocol.h"

#include <string>

namespace hamba::balance {

struct StatusRange {
  int low = 200;
  int high = 399;
  bool contains(int status) const { return status >= low && status <= high; }
};

class HttpCheck final : public CheckProtocol {
public:
  // The longest status line read before giving up on a reply.
  static constexpr size_t kMaxStatusLine = 1024;

  // `path` starts with "/" and `host` has no spaces or line breaks (config validation sees to
  // both: they go into the request as they are).
  HttpCheck(std::string path, std::string host, StatusRange expect)
      : path_(std::move(path)), host_(std::move(host)), expect_(expect) {}

  // "GET /path HTTP/1.1", Host, a User-Agent that says who asks, and Connection: close.
  std::string request() const override;
  Verdict feed(std::string_view bytes) override;
  Verdict end() override;

  // The status of the reply, once a status line was read (0 before).
  int status() const { return status_; }

private:
  Verdict parse_line();

  std::string path_;
  std::string host_;
  StatusRange expect_;
  std::string line_; // the status line so far
  int status_ = 0;
};

} // namespace hamba::balance
