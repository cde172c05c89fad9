// The three faces of one StatsSnapshot served by the admin server: a human page, Prometheus
// metrics and JSON. Pure functions, so tests check them without sockets.
//
// Metric names follow Prometheus conventions: hamba_ prefix, _total for counters; labels
// frontend, server (as configured), address (as resolved) and, for a route's servers, backend. The
// frontends' and servers' numbers, with their /stats.json keys and page columns, are the rows of
// stats_counters.h; written here besides: hamba_start_time_seconds, hamba_worker_connections_total,
// hamba_worker_current_connections, hamba_server_up, hamba_server_admin_state{state=...} and
// hamba_server_last_check_timestamp_seconds.
#pragma once

#include "control/stats_snapshot.h"

#include <string>

namespace hamba::control {

// A page that reads at a glance (one table per frontend, status in colour) and reloads itself
// every `refresh_seconds`.
std::string render_stats_html(const StatsSnapshot& stats, int refresh_seconds = 2);

// Prometheus text exposition format 0.0.4.
std::string render_metrics(const StatsSnapshot& stats);

// {"version":..., "uptime_seconds":..., "frontends":[{..., "servers":[...]}]}
std::string render_stats_json(const StatsSnapshot& stats);

} // namespace hamba::control
