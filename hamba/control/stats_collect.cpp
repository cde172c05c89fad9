// Copies the engine's counters into a StatsSnapshot (see stats_collect.h), row by row of the
// counters table (stats_counters.h).
#include "control/stats_collect.h"

#include "control/stats_counters.h"
#include "engine/engine.h"

#include <chrono>

namespace hamba::control {
namespace {

const char* state_name(config::ServerState state) {
  switch (state) {
  case config::ServerState::disabled:
    return "disabled";
  case config::ServerState::drain:
    return "drain";
  case config::ServerState::enabled:
    break;
  }
  return "enabled";
}

ServerStats server_stats(const balance::Server& server, const config::Frontend& config) {
  ServerStats s;
  for (const ServerCounterRow& row : server_counters())
    row.write(s, row.live(server));
  if (!server.up())
    s.down_reason = server.down_reason();
  s.check_type = config.check.enabled ? config::check_type_name(config.check.type) : "";
  s.name = config::format_endpoint(server.name());
  s.address = server.address();
  s.up = server.up();
  s.state = state_name(server.state());
  s.gone = server.vanished();
  if (server.last_check_time_ms() > 0)
    s.last_check = server.last_check_ok() ? "ok" : server.last_check_error();
  s.last_check_time_ms = server.last_check_time_ms();
  return s;
}

// The configured display name of the server at `address` ("" when it has none): a discovered
// server shows as its container.
std::string display_name(const config::Frontend& config, const config::Endpoint& address) {
  auto find = [&](const std::vector<config::Server>& servers) -> const config::Server* {
    for (const config::Server& s : servers)
      if (s.address == address)
        return &s;
    return nullptr;
  };
  const config::Server* s = find(config.servers);
  for (size_t i = 0; !s && i < config.routes.size(); ++i)
    s = find(config.routes[i].servers);
  return s ? s->name : std::string();
}

// The servers of one backend (the frontend's own, or a route's named `route`).
void add_backend(FrontendStats& f, const balance::Backend& backend, const std::string& route,
                 const config::Frontend& config) {
  for (const auto& server : backend.servers()) {
    f.servers.push_back(server_stats(*server, config));
    f.servers.back().backend = route;
    if (std::string name = display_name(config, server->name()); !name.empty())
      f.servers.back().name = name;
  }
  // A name that resolves to nothing (yet) has no server: show it, so that a typo or a
  // service not started yet is visible at a glance.
  for (const auto& name : backend.names()) {
    if (name.addresses > 0)
      continue;
    ServerStats s;
    s.backend = route;
    s.name = config::format_endpoint(name.server.address);
    s.up = false;
    s.state = state_name(name.server.state);
    s.unresolved = true;
    s.last_check = name.error.empty() ? "not resolved yet" : name.error;
    s.maxconn = name.server.maxconn.value_or(0);
    s.backup = name.server.backup;
    f.servers.push_back(std::move(s));
  }
}

std::vector<SourceStats> sources_of(const std::vector<engine::SourceTable::Top>& top) {
  std::vector<SourceStats> out;
  for (const auto& t : top)
    out.push_back({format_address(t.source), t.current, t.in_window});
  return out;
}

// The table's figures and its ten busiest sources, by connections open and by rate.
SourceTableStats source_stats(const engine::SourceTable& table, const config::PerSource& p) {
  constexpr size_t kTop = 10;
  SourceTableStats s;
  s.slots = table.slots();
  s.used = table.used_slots();
  s.bytes = table.bytes();
  s.untracked = table.untracked();
  s.top_by_current = sources_of(table.top_by_current(kTop));
  if (p.rate_count > 0) // the workers' loop clock (uv_now's), in ms
    s.top_by_rate = sources_of(table.top_by_rate(kTop, uv_hrtime() / 1'000'000,
                                                 static_cast<uint64_t>(p.rate_window.count())));
  return s;
}

} // namespace

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StatsSnapshot collect_stats(const engine::Engine& engine, int64_t started_ms) {
  StatsSnapshot stats;
  stats.version = HAMBA_VERSION;
  stats.now_ms = unix_now_ms();
  stats.started_ms = started_ms;
  for (const auto& w : engine.worker_loads())
    stats.workers.push_back({w.accepted, w.current});
  for (const auto& frontend : engine.frontends()) {
    const config::Frontend& config = frontend->config();
    const engine::FrontendCounters& counters = frontend->counters();
    FrontendStats f;
    f.name = config.name;
    f.bind = config::format_endpoint(config.bind);
    f.balance = config::balance_name(config.balance);
    f.on_backup = frontend->backend().on_backup();
    for (const FrontendCounterRow& row : frontend_counters())
      row.write(f, row.live(counters));
    add_backend(f, frontend->backend(), "", config);
    for (const auto& route : frontend->routes())
      add_backend(f, route->backend, route->config.name, config);
    if (const auto& table = frontend->sources())
      f.sources = source_stats(*table, config.per_source);
    stats.frontends.push_back(std::move(f));
  }
  return stats;
}

} // namespace hamba::control
