// Resolution, health and picking for one frontend's servers; see backend.h.
#include "balance/backend.h"

#include "balance/source_hash.h"
#include "base/log.h"

#include <algorithm>
#include <cstring>

namespace hamba::balance {

namespace {
bool same_address(const sockaddr_storage& a, const Server& s) {
  const sockaddr* b = s.sockaddr_ptr();
  if (reinterpret_cast<const sockaddr*>(&a)->sa_family != b->sa_family)
    return false;
  size_t len = b->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return std::memcmp(&a, b, len) == 0;
}
} // namespace

Backend::Backend(uv_loop_t* loop, const config::Frontend& frontend, OnAvailable on_available)
    : loop_(loop), frontend_(frontend), on_available_(std::move(on_available)),
      balance_(frontend.balance) {
  retry_timer_.init(loop_, this);
  retry_timer_.unref(); // a pending retry does not keep hamba running
  ramp_timer_.init(loop_, this);
  ramp_timer_.unref();
  for (const config::Server& s : frontend_.servers) {
    auto entry = std::make_unique<Entry>();
    entry->server = s;
    entries_.push_back(std::move(entry));
  }
}

Backend::~Backend() {
  stop();
}

void Backend::start() {
  started_ = true;
  for (auto& entry : entries_)
    start_entry(*entry);
}

void Backend::start_entry(Entry& entry) {
  if (stopped_)
    return;
  Entry* e = &entry;
  entry.resolver = std::make_unique<Resolver>(
      loop_, entry.server.address, frontend_.resolve_interval,
      [this, e](int status, const std::vector<sockaddr_storage>& addresses) {
        on_resolved(*e, status, addresses);
      });
  entry.resolver->start();
}

void Backend::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  retry_timer_.stop();
  ramp_timer_.stop();
  for (auto& entry : entries_) {
    entry->resolver.reset();
    for (Member& m : entry->members)
      m.check.reset();
  }
}

void Backend::on_resolved(Entry& entry, int status,
                          const std::vector<sockaddr_storage>& addresses) {
  std::string name = config::format_endpoint(entry.server.address);
  bool gone = status == UV_EAI_NONAME || status == UV_EAI_NODATA;
  if (status != 0 && !gone) {
    // A transient failure (no DNS server answering): keep what we have, try again later.
    if (entry.error.empty())
      log::warn("frontend {}: cannot resolve server {}: {}; keeping {} known address(es), "
                "trying again every {}",
                frontend_.name, name, uvx::error_text(status), entry.members.size(),
                config::format_duration(frontend_.resolve_interval));
    entry.error = uvx::error_text(status);
    return;
  }
  if (gone && hold_gone_name(entry, status))
    return;
  if (status == 0)
    entry.gone_since.reset();
  if (status != 0 && entry.error.empty())
    log::warn("frontend {}: server {} does not resolve ({}); counted as down, trying again "
              "every {}",
              frontend_.name, name, uvx::error_text(status),
              config::format_duration(frontend_.resolve_interval));
  entry.error = status == 0 ? std::string() : uvx::error_text(status);
  bool moved = false;
  // Addresses that vanished drain.
  for (Member& m : entry.members) {
    bool still = std::any_of(addresses.begin(), addresses.end(),
                             [&](const sockaddr_storage& a) { return same_address(a, *m.server); });
    if (!still && !m.server->vanished()) {
      m.server->set_vanished(true);
      m.check.reset();
      moved = true;
      log::info("frontend {}: server {} no longer in DNS: draining ({} session(s) left)",
                frontend_.name, m.server->label(), m.server->counters.current);
    } else if (still && m.server->vanished()) {
      m.server->set_vanished(false);
      m.server->start_ramp(SlowStart::Clock::now());
      if (frontend_.check.enabled) // `check: false` stays off for an address that returns
        start_check(m);
      else
        m.server->forget_health(); // checks may have been turned off while it was gone
      moved = true;
      log::info("frontend {}: server {} is back in DNS", frontend_.name, m.server->label());
    }
  }
  for (const sockaddr_storage& a : addresses) {
    bool known = std::any_of(entry.members.begin(), entry.members.end(),
                             [&](const Member& m) { return same_address(a, *m.server); });
    if (known)
      continue;
    Member m = new_member(entry.server, a);
    log::info("frontend {}: server {} added", frontend_.name, m.server->label());
    entry.members.push_back(std::move(m));
    moved = true;
  }
  if (!addresses.empty())
    entry.resolved = true;
  if (moved) {
    rebuild();
    changed(); // added: room; vanished: maybe the last server up (see on_health_change)
  }
}

bool Backend::hold_gone_name(Entry& entry, int status) {
  bool live = std::any_of(entry.members.begin(), entry.members.end(),
                          [](const Member& m) { return !m.server->vanished(); });
  if (!live || frontend_.dns_hold.count() == 0)
    return false;
  uint64_t now = uv_now(loop_);
  std::string name = config::format_endpoint(entry.server.address);
  if (!entry.gone_since) {
    entry.gone_since = now;
    entry.error = uvx::error_text(status);
    log::warn("frontend {}: server {} does not resolve ({}); keeping its {} address(es) for {} "
              "(dns_hold) in case it comes back",
              frontend_.name, name, entry.error, entry.members.size(),
              config::format_duration(frontend_.dns_hold));
  }
  if (now - *entry.gone_since < static_cast<uint64_t>(frontend_.dns_hold.count()))
    return true;
  log::warn("frontend {}: server {} still does not resolve after {}: its addresses drain",
            frontend_.name, name, config::format_duration(frontend_.dns_hold));
  entry.gone_since.reset();
  return false;
}

ServerPtr Backend::take_back(const config::Server& server, const sockaddr_storage& address) {
  ServerPtr found;
  std::erase_if(removed_, [&](const std::weak_ptr<Server>& w) {
    ServerPtr s = w.lock();
    if (!s)
      return true; // its last session ended: nothing to count any more
    if (found || s->name() != server.address || !same_address(address, *s))
      return false;
    found = std::move(s);
    return true;
  });
  return found;
}

Backend::Member Backend::new_member(const config::Server& server, const sockaddr_storage& address) {
  Member m;
  // Removed from the configuration and added again while sessions still hold it: the same
  // object, so that maxconn counts those sessions too (and the counters carry on).
  m.server = take_back(server, address);
  if (m.server) {
    m.server->set_maxconn(server.maxconn.value_or(0));
    m.server->set_vanished(false);
    if (!frontend_.check.enabled)
      m.server->forget_health(); // checks may have been turned off while it was out
  } else {
    m.server = std::make_shared<Server>(server.address, reinterpret_cast<const sockaddr*>(&address),
                                        server.maxconn.value_or(0));
  }
  m.server->set_state(server.state);
  m.server->set_backup(server.backup);
  m.server->set_weight(server.weight);
  m.server->set_slowstart(frontend_.slowstart);
  m.server->start_ramp(SlowStart::Clock::now()); // added by DNS or a reconfigure: ramps up too
  if (frontend_.check.enabled)
    start_check(m);
  return m;
}

void Backend::start_check(Member& m) {
  m.check = std::make_unique<HealthCheck>(
      loop_, m.server, frontend_.check, [this](Server& s) { on_health_change(s); }, server_tls_);
}

void Backend::set_server_tls(std::shared_ptr<const net::TlsClientContext> tls) {
  server_tls_ = std::move(tls);
  for (auto& entry : entries_)
    for (Member& m : entry->members)
      if (m.check)
        m.check->set_tls(server_tls_);
}

void Backend::on_health_change(Server& server) {
  if (server.up()) {
    server.start_ramp(SlowStart::Clock::now());
    log::info("frontend {}: server {} is UP{}", frontend_.name, server.label(),
              frontend_.slowstart.count() > 0
                  ? ", ramping up over " + config::format_duration(frontend_.slowstart)
                  : std::string());
  } else {
    log::warn("frontend {}: server {} is DOWN: {}", frontend_.name, server.label(),
              server.down_reason());
  }
  // Either way the queue may move: an UP server has room, and a DOWN one may have been the last
  // one up, which makes the others eligible again (every server down: all are tried).
  changed(server.up() ? Urgency::batched : Urgency::now);
}

void Backend::rebuild() {
  servers_.clear();
  for (auto& entry : entries_) {
    auto& members = entry->members;
    members.erase(std::remove_if(members.begin(), members.end(),
                                 [](const Member& m) {
                                   return m.server->vanished() && m.server->counters.current == 0;
                                 }),
                  members.end());
    for (Member& m : members)
      servers_.push_back(m.server);
  }
  table_.reset();
  snapshot_.reset();
}

void Backend::changed(Urgency urgency) {
  snapshot_.reset();
  on_available_(urgency);
}

PoolSnapshotPtr Backend::snapshot(const std::weak_ptr<Backend>& owner) {
  if (snapshot_)
    return snapshot_;
  auto now = SlowStart::Clock::now();
  snapshot_ = make_snapshot(servers_, balance_, turn_, now, table_, owner, frontend_.allbackups);
  table_ = snapshot_->table;
  if (snapshot_->on_backup != on_backup_) {
    on_backup_ = snapshot_->on_backup;
    if (on_backup_)
      log::warn("frontend {}: no normal server is up: running on backup", frontend_.name);
    else
      log::info("frontend {}: a normal server is up: the backups take no new connections",
                frontend_.name);
  }
  bool ramping = std::any_of(servers_.begin(), servers_.end(),
                             [&](const ServerPtr& s) { return s->ramping(now); });
  if (ramping && !ramp_armed_ && !stopped_) {
    // A step every kWeightScale-th of the window (at least 100 ms): the ramp's 16 steps.
    auto step = std::max<int64_t>(100, frontend_.slowstart.count() / kWeightScale);
    ramp_armed_ = true;
    ramp_timer_.start<&Backend::ramp_step>(static_cast<uint64_t>(step));
  }
  return snapshot_;
}

void Backend::ramp_step() {
  ramp_armed_ = false;
  changed();
}

void Backend::traffic_success(Server& server) {
  bool was = server.failing();
  server.record_traffic_success();
  if (was && !server.failing())
    changed(); // workers need not report successes any more
}

void Backend::traffic_failure(Server& server, const std::string& why) {
  // Already DOWN: another worker connected before the news reached it; the server's failures
  // were counted, and only a check or retry_after brings it back.
  if (!server.up())
    return;
  uint64_t now = uv_now(loop_);
  bool was = server.failing();
  if (!server.record_traffic_failure(frontend_.observe_failures, why, static_cast<int64_t>(now))) {
    if (!was && server.failing())
      changed(); // workers report successes from now on, which reset the count
    return;
  }
  log::warn("frontend {}: server {} is DOWN: {}; {}", frontend_.name, server.label(),
            server.down_reason(),
            frontend_.check.enabled
                ? "back when its health check passes"
                : "tried again in " + config::format_duration(frontend_.retry_after));
  if (!frontend_.check.enabled && !retry_armed_) {
    retry_armed_ = true;
    retry_timer_.start<&Backend::retry_due>(static_cast<uint64_t>(frontend_.retry_after.count()));
  }
  changed(Urgency::now); // it may have been the last one up: the others become eligible
}

void Backend::retry_due() {
  retry_armed_ = false;
  if (stopped_)
    return;
  auto now = static_cast<int64_t>(uv_now(loop_));
  int64_t wait = frontend_.retry_after.count();
  int64_t next = -1; // ms until the next server is due, -1: none waits
  bool back = false;
  for (const ServerPtr& s : servers_) {
    if (s->up() || s->down_cause() != HealthState::Cause::traffic)
      continue;
    if (frontend_.check.enabled)
      continue; // checks were turned on meanwhile: they decide
    int64_t due = s->traffic_down_ms() + wait;
    if (due <= now) {
      if (s->retry(SlowStart::Clock::now())) {
        back = true;
        log::info("frontend {}: server {} is UP again to be tried ({} passed, checks are off)",
                  frontend_.name, s->label(), config::format_duration(frontend_.retry_after));
      }
    } else if (next < 0 || due - now < next) {
      next = due - now;
    }
  }
  if (next >= 0) {
    retry_armed_ = true;
    retry_timer_.start<&Backend::retry_due>(static_cast<uint64_t>(next));
  }
  if (back)
    changed();
}

int Backend::set_weight(const std::string& address, int weight) {
  int matched = 0;
  for (auto& entry : entries_) {
    bool by_name = config::format_endpoint(entry->server.address) == address;
    if (by_name) {
      entry->server.weight = weight;
      for (config::Server& b : frontend_.servers)
        if (b.address == entry->server.address)
          b.weight = weight;
      if (entry->members.empty())
        ++matched;
    }
    for (Member& m : entry->members)
      if (by_name || m.server->address() == address) {
        m.server->set_weight(weight);
        ++matched;
      }
  }
  if (matched) {
    table_.reset();
    changed();
  }
  return matched;
}

void Backend::released(Server& server) {
  if (server.vanished() && server.counters.current == 0) {
    rebuild();
    changed();
  }
}

int Backend::set_state(const std::string& address, config::ServerState state) {
  int matched = 0;
  for (auto& entry : entries_) {
    bool by_name = config::format_endpoint(entry->server.address) == address;
    if (by_name) {
      entry->server.state = state;
      for (config::Server& b : frontend_.servers)
        if (b.address == entry->server.address)
          b.state = state;
      if (entry->members.empty())
        ++matched;
    }
    for (Member& m : entry->members)
      if (by_name || m.server->address() == address) {
        m.server->set_state(state);
        ++matched;
      }
  }
  // Enabled: it has room. Disabled or drained: it may have been the last server up, which
  // makes the down ones eligible (all down: all are tried). Either way the queue may move.
  if (matched)
    changed();
  return matched;
}

std::vector<Backend::Name> Backend::names() const {
  std::vector<Name> out;
  for (const auto& entry : entries_) {
    Name n;
    n.server = entry->server;
    n.resolved = entry->resolved;
    n.error = entry->error;
    n.addresses =
        static_cast<size_t>(std::count_if(entry->members.begin(), entry->members.end(),
                                          [](const Member& m) { return !m.server->vanished(); }));
    out.push_back(std::move(n));
  }
  return out;
}

void Backend::update(const config::Frontend& frontend) {
  bool check_changed = !(frontend.check == frontend_.check);
  frontend_ = frontend;
  if (balance_ != frontend.balance)
    turn_->store(0, std::memory_order_relaxed);
  balance_ = frontend.balance;
  std::vector<std::unique_ptr<Entry>> next;
  std::vector<Entry*> added; // started once entries_ is whole again: a literal address
                             // resolves at once, and rebuild() walks entries_
  for (const config::Server& b : frontend.servers) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const auto& e) { return e && e->server.address == b.address; });
    if (it != entries_.end()) {
      Entry& e = **it;
      e.server = b;
      for (Member& m : e.members) {
        m.server->set_maxconn(b.maxconn.value_or(0));
        m.server->set_state(b.state);
        m.server->set_backup(b.backup);
        m.server->set_weight(b.weight);
        m.server->set_slowstart(frontend.slowstart);
        if (check_changed && !m.server->vanished()) {
          m.check.reset();
          if (frontend.check.enabled)
            start_check(m);
          else
            m.server->forget_health();
        }
      }
      if (e.resolver)
        e.resolver->set_interval(frontend.resolve_interval);
      next.push_back(std::move(*it));
    } else {
      auto e = std::make_unique<Entry>();
      e->server = b;
      added.push_back(e.get());
      next.push_back(std::move(e));
    }
  }
  std::erase_if(removed_, [](const std::weak_ptr<Server>& w) { return w.expired(); });
  for (auto& old : entries_)
    if (old)
      for (Member& m : old->members) {
        log::info("frontend {}: server {} removed from the configuration", frontend_.name,
                  m.server->label());
        // No new sessions (a worker's view may still list it until the next one arrives); the
        // object stays while its sessions hold it, for a reconfigure that adds it back.
        m.server->set_vanished(true);
        removed_.push_back(m.server);
      }
  entries_ = std::move(next); // removed entries: resolvers and checks stop; servers live on
                              // in their sessions
  if (started_)
    for (Entry* e : added)
      start_entry(*e);
  rebuild();
  if (!frontend_.check.enabled)
    retry_due(); // checks turned off: servers traffic took down need the timer now
  changed();
}

} // namespace hamba::balance
