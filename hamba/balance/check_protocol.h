// What an active health check says to a server and how it judges the answer, apart from the
// sockets and timers that carry it (health_check.h). One object per probe: it gives the bytes
// to send after the connect and reads the server's reply until it can decide.
//
//     HttpCheck probe("/health", "rng1", {200, 399});
//     send(probe.request());
//     while (probe.feed(bytes_read) == Verdict::more) ...;   // or probe.end() on EOF
//     log(probe.detail());                                    // "http 500"
//
// Implementations: TcpCheck (the connect is the check), HttpCheck (http_check.h), RedisCheck
// (redis_check.h). Each reads at most a bounded number of bytes before it decides.
#pragma once

#include <string>
#include <string_view>

namespace hamba::balance {

enum class Verdict { more, pass, fail };

class CheckProtocol {
public:
  virtual ~CheckProtocol() = default;
  // The bytes to send once connected; empty: nothing to send, the connect alone passes.
  virtual std::string request() const = 0;
  // The next bytes from the server. `more` until it can decide; after pass or fail it is not
  // fed again.
  virtual Verdict feed(std::string_view bytes) = 0;
  // The server closed the connection (or the read failed) before a verdict: always a fail.
  virtual Verdict end() = 0;
  // The result in a few words, for the log and the stats page ("http 500", "redis +PONG",
  // "http: no status line before the connection closed"); only printable ASCII.
  const std::string& detail() const { return detail_; }

protected:
  Verdict decide(Verdict v, std::string detail) {
    detail_ = std::move(detail);
    return v;
  }
  std::string detail_;
};

// HAProxy's default check: a TCP connect that succeeds is healthy; nothing is sent or read.
class TcpCheck final : public CheckProtocol {
public:
  std::string request() const override { return {}; }
  Verdict feed(std::string_view) override { return decide(Verdict::pass, "tcp"); }
  Verdict end() override { return decide(Verdict::pass, "tcp"); }
};

// At most `max` bytes of `text`, with every byte that is not printable ASCII shown as '?', so a
// server's reply can go into a log line or a page as it is.
std::string printable(std::string_view text, size_t max = 80);

} // namespace hamba::balance
