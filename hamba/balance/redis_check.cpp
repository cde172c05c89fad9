// The redis health check's reply parser; see redis_check.h.
#include "balance/redis_check.h"

namespace hamba::balance {

Verdict RedisCheck::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      std::string_view l = line_;
      if (!l.empty() && l.back() == '\r')
        l.remove_suffix(1);
      if (l == "+PONG")
        return decide(Verdict::pass, "redis +PONG");
      if (!l.empty() && l.front() == '-')
        return decide(Verdict::fail, "redis " + printable(l));
      return decide(Verdict::fail, "redis: unexpected reply: " + printable(l));
    }
    line_ += c;
    // Every RESP reply starts with its type byte; one that cannot be a reply fails at once.
    if (line_.size() == 1 && std::string_view("+-:$*_,#!=(%~>|").find(c) == std::string::npos)
      return decide(Verdict::fail, "redis: not a RESP reply: " + printable(line_));
    if (line_.size() > kMaxLine)
      return decide(Verdict::fail, "redis: reply line too long");
  }
  return Verdict::more;
}

Verdict RedisCheck::end() {
  return decide(Verdict::fail, "redis: closed before replying");
}

} // namespace hamba::balance
