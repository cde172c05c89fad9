// The balancing algorithms: which server gets the next connection.
//
// roundrobin is strict: servers take turns in list order, so 30 sequential connections over 3
// usable servers land 10/10/10. leastconn picks the usable server with the fewest current
// sessions, taking turns among equals. A server that is full (maxconn) is skipped; when no
// server can take the connection, pick() returns nullptr and the caller queues it.
#pragma once

#include "balance/server.h"

#include <vector>

namespace hamba::balance {

class Policy {
public:
  explicit Policy(config::Balance balance = config::Balance::roundrobin) : balance_(balance) {}
  void set_balance(config::Balance b) { balance_ = b; }
  config::Balance balance() const { return balance_; }

  // The next server among `servers` for which accept(server) is true and which has room;
  // `avoid` (a server that just failed) is taken only when nothing else is.
  template <typename Accept>
  Server* pick(const std::vector<ServerPtr>& servers, Accept&& accept, const Server* avoid) {
    size_t n = servers.size();
    if (n == 0)
      return nullptr;
    size_t best = n, fallback = n;
    for (size_t k = 0; k < n; ++k) {
      size_t i = (cursor_ + k) % n;
      Server& s = *servers[i];
      if (!accept(s) || !s.has_room())
        continue;
      if (&s == avoid) {
        if (fallback == n)
          fallback = i;
        continue;
      }
      if (balance_ == config::Balance::roundrobin) {
        best = i;
        break;
      }
      if (best == n || s.counters.current < servers[best]->counters.current)
        best = i;
    }
    if (best == n)
      best = fallback;
    if (best == n)
      return nullptr;
    cursor_ = best + 1;
    return servers[best].get();
  }

private:
  config::Balance balance_;
  size_t cursor_ = 0;
};

} // namespace hamba::balance
