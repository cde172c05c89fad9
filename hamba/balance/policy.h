// The balancing algorithms: which server gets the next connection.
//
// roundrobin is nginx's smooth weighted round robin (balance/weights.h): equal weights take
// turns in list order, so 30 sequential connections over 3 usable servers land 10/10/10, and
// weights 3:1 interleave A A B A. leastconn picks the usable server with the fewest current
// sessions per weight, taking turns among equals. source hashes the client's address into a
// Maglev table (balance/source_hash.h): the same address lands on the same server while it is
// usable. Weights are effective weights: lower while a server ramps up (slow start).
//
// A server that is full (maxconn) is skipped; when no server can take the connection, pick()
// returns nullptr and the caller queues it. One Policy per pool; servers_changed() after the
// pool's list changed (a member added or removed, a weight changed).
#pragma once

#include "balance/server.h"
#include "balance/source_hash.h"
#include "balance/weights.h"

#include <vector>

namespace hamba::balance {

class Policy {
public:
  using Clock = SlowStart::Clock;

  explicit Policy(config::Balance balance = config::Balance::roundrobin) : balance_(balance) {}
  void set_balance(config::Balance b) {
    if (b != balance_)
      servers_changed();
    balance_ = b;
  }
  config::Balance balance() const { return balance_; }

  // The list of servers (or a weight) changed: scores and the hash table start again.
  void servers_changed() {
    rr_.reset();
    table_dirty_ = true;
  }

  // The next server among `servers` for which accept(server) is true and which has room;
  // `avoid` (a server that just failed) is taken only when nothing else is. `client_hash` is
  // hash_client() of the client's address (used by source only).
  template <typename Accept>
  Server* pick(const std::vector<ServerPtr>& servers, Accept&& accept, const Server* avoid,
               uint64_t client_hash = 0, Clock::time_point now = Clock::now()) {
    size_t n = servers.size();
    if (n == 0)
      return nullptr;
    auto eligible = [&](size_t i) {
      const Server& s = *servers[i];
      return accept(s) && s.has_room();
    };
    size_t chosen = kNoPick;
    size_t fallback = kNoPick; // `avoid`, if eligible
    for (size_t i = 0; i < n && fallback == kNoPick; ++i)
      if (servers[i].get() == avoid && eligible(i))
        fallback = i;
    if (balance_ == config::Balance::source) {
      build_table(servers);
      chosen = table_.pick(client_hash,
                           [&](size_t i) { return servers[i].get() != avoid && eligible(i); });
    } else if (balance_ == config::Balance::leastconn) {
      loads_.resize(n);
      for (size_t i = 0; i < n; ++i) {
        bool ok = servers[i].get() != avoid && eligible(i);
        loads_[i] = {servers[i]->counters.current, ok ? servers[i]->effective_weight(now) : 0};
      }
      chosen = pick_least_loaded(loads_, cursor_ % n);
      if (chosen != kNoPick)
        cursor_ = chosen + 1;
    } else {
      weights_.resize(n);
      for (size_t i = 0; i < n; ++i)
        weights_[i] =
            servers[i].get() != avoid && eligible(i) ? servers[i]->effective_weight(now) : 0;
      chosen = rr_.pick(weights_);
    }
    if (chosen == kNoPick)
      chosen = fallback;
    return chosen == kNoPick ? nullptr : servers[chosen].get();
  }

private:
  void build_table(const std::vector<ServerPtr>& servers) {
    if (!table_dirty_ && table_.servers() == servers.size())
      return;
    std::vector<std::string> keys;
    std::vector<int> weights;
    for (const ServerPtr& s : servers) {
      keys.push_back(s->address());
      weights.push_back(s->weight());
    }
    table_ = MaglevTable(keys, weights);
    table_dirty_ = false;
  }

  config::Balance balance_;
  SmoothWeighted rr_;
  std::vector<uint32_t> weights_; // reused by every pick: no allocation per connection
  std::vector<Load> loads_;
  size_t cursor_ = 0; // leastconn: where ties start
  MaglevTable table_;
  bool table_dirty_ = true;
};

} // namespace hamba::balance
