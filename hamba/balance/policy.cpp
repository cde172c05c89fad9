// Snapshots and picks; see pool_snapshot.h and policy.h.
#include "balance/policy.h"

#include <algorithm>
#include <numeric>

namespace hamba::balance {

namespace {

// One cycle of smooth weighted round robin over `weights` (every one at least 1), reduced by
// their common divisor and scaled down to at most kMaxCycle turns.
std::vector<uint32_t> round_robin_cycle(std::vector<uint32_t> weights) {
  uint32_t g = 0;
  for (uint32_t w : weights)
    g = std::gcd(g, w);
  uint64_t sum = 0;
  for (uint32_t& w : weights) {
    w /= g == 0 ? 1 : g;
    sum += w;
  }
  if (sum > kMaxCycle) {
    uint64_t scaled = 0;
    for (uint32_t& w : weights) {
      w = std::max<uint32_t>(1, static_cast<uint32_t>(w * kMaxCycle / sum));
      scaled += w;
    }
    sum = scaled;
  }
  std::vector<uint32_t> order;
  order.reserve(sum);
  SmoothWeighted rr;
  for (uint64_t i = 0; i < sum; ++i)
    order.push_back(static_cast<uint32_t>(rr.pick(weights)));
  return order;
}

} // namespace

void choose_candidates(PoolSnapshot& pool, bool allbackups) {
  auto& servers = pool.servers;
  auto any = [&](auto pred) { return std::any_of(servers.begin(), servers.end(), pred); };
  pool.any_up = any([](const PoolSnapshot::Entry& e) { return e.usable; });
  bool normal_up = any([](const PoolSnapshot::Entry& e) { return e.usable && !e.backup; });
  bool backup_up = any([](const PoolSnapshot::Entry& e) { return e.usable && e.backup; });
  bool normal_enabled = any([](const PoolSnapshot::Entry& e) { return e.enabled && !e.backup; });
  pool.on_backup = !normal_up && backup_up;
  bool first_taken = false;
  for (PoolSnapshot::Entry& e : servers) {
    if (normal_up) {
      e.candidate = e.usable && !e.backup;
    } else if (backup_up) {
      e.candidate = e.usable && e.backup && (allbackups || !first_taken);
      first_taken = first_taken || e.candidate;
    } else {
      e.candidate = e.enabled && e.backup != normal_enabled;
    }
  }
}

PoolSnapshotPtr make_snapshot(const std::vector<ServerPtr>& servers, config::Balance balance,
                              std::shared_ptr<std::atomic<uint64_t>> turn,
                              SlowStart::Clock::time_point now,
                              std::shared_ptr<const MaglevTable> table,
                              std::weak_ptr<Backend> owner, bool allbackups) {
  auto pool = std::make_shared<PoolSnapshot>();
  pool->balance = balance;
  pool->turn = turn ? std::move(turn) : std::make_shared<std::atomic<uint64_t>>(0);
  pool->owner = std::move(owner);
  pool->servers.reserve(servers.size());
  for (const ServerPtr& s : servers) {
    PoolSnapshot::Entry e;
    e.server = s;
    e.usable = s->usable(false);
    e.enabled = s->usable(true);
    e.failing = s->failing();
    e.backup = s->backup();
    e.maxconn = s->maxconn();
    e.weight = s->effective_weight(now);
    pool->servers.push_back(std::move(e));
  }
  choose_candidates(*pool, allbackups);
  if (balance == config::Balance::roundrobin) {
    // The cycle holds the servers that may take connections now (a snapshot follows every
    // change of that), so a server that is down or drained does not hand its turns to its
    // neighbour; one that is full at the moment of a pick passes its turn on.
    std::vector<uint32_t> members, weights;
    for (size_t i = 0; i < pool->servers.size(); ++i) {
      const auto& e = pool->servers[i];
      if (e.candidate) {
        members.push_back(static_cast<uint32_t>(i));
        weights.push_back(std::max<uint32_t>(1, e.weight));
      }
    }
    for (uint32_t k : round_robin_cycle(std::move(weights)))
      pool->order.push_back(members[k]);
  }
  if (balance == config::Balance::source) {
    if (!table || table->servers() != servers.size()) {
      std::vector<std::string> keys;
      std::vector<int> weights;
      for (const ServerPtr& s : servers) {
        keys.push_back(s->address());
        weights.push_back(s->weight());
      }
      table = std::make_shared<const MaglevTable>(keys, weights);
    }
    pool->table = std::move(table);
  }
  return pool;
}

size_t Picker::choose(const PoolSnapshot& pool, const Server* avoid, uint64_t client_hash) {
  const auto& servers = pool.servers;
  size_t n = servers.size();
  auto eligible = [&](size_t i) {
    const PoolSnapshot::Entry& e = servers[i];
    return e.candidate && e.server->has_room(e.maxconn);
  };
  size_t fallback = kNoPick; // `avoid`, if eligible
  size_t others = 0;         // eligible servers other than `avoid`
  for (size_t i = 0; i < n; ++i) {
    if (!eligible(i))
      continue;
    if (servers[i].server.get() == avoid)
      fallback = i;
    else
      ++others;
  }
  if (others == 0)
    return fallback;
  auto ok = [&](size_t i) { return servers[i].server.get() != avoid && eligible(i); };
  size_t chosen = kNoPick;
  if (pool.balance == config::Balance::source && pool.table) {
    chosen = pool.table->pick(client_hash, ok);
  } else if (pool.balance == config::Balance::first) {
    for (size_t i = 0; i < n && chosen == kNoPick; ++i)
      if (ok(i))
        chosen = i;
  } else if (pool.balance == config::Balance::leastconn) {
    loads_.resize(n);
    for (size_t i = 0; i < n; ++i)
      loads_[i] = {servers[i].server->counters.current.load(std::memory_order_relaxed),
                   ok(i) ? std::max<uint32_t>(1, servers[i].weight) : 0};
    chosen = pick_least_loaded(loads_, cursor_ % n);
    if (chosen != kNoPick)
      cursor_ = chosen + 1;
  } else if (!pool.order.empty()) {
    size_t len = pool.order.size();
    uint64_t t = pool.turn->fetch_add(1, std::memory_order_relaxed);
    for (size_t k = 0; k < len && chosen == kNoPick; ++k) {
      size_t i = pool.order[(t + k) % len];
      if (ok(i))
        chosen = i;
    }
  }
  return chosen == kNoPick ? fallback : chosen;
}

const PoolSnapshot::Entry* Picker::pick(const PoolSnapshot& pool, const Server* avoid,
                                        uint64_t client_hash) {
  // Another worker may take the last slot between the look and the take: look again. A take
  // fails only because another worker's succeeded, but that worker may give the slot back and
  // take it again between this one's looks, so a server can look free and be full more than
  // once: the bound allows several rounds per server (one failed, rarely, on a unit test's two
  // threads racing for one slot). leastconn takes the slot only at the count it chose by, so
  // two workers choosing at once do not both land on the server that was least loaded a
  // moment ago; past the bound it takes any slot.
  bool least = pool.balance == config::Balance::leastconn;
  size_t bound = (least ? 16 : 8) * (pool.servers.size() + 1);
  for (size_t attempt = 0; attempt < bound; ++attempt) {
    size_t i = choose(pool, avoid, client_hash);
    if (i == kNoPick)
      return nullptr;
    const PoolSnapshot::Entry& e = pool.servers[i];
    bool exact = least && attempt + 1 < bound && i < loads_.size();
    if (exact ? e.server->try_acquire_at(loads_[i].current, e.maxconn)
              : e.server->try_acquire(e.maxconn))
      return &e;
  }
  return nullptr;
}

} // namespace hamba::balance
