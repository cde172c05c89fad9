// The three faces of one StatsSnapshot served by the admin server: a human page, Prometheus
// metrics and JSON. Pure functions, so tests check them without sockets.
//
// Metric names (Prometheus conventions: hamba_ prefix, _total for counters, _bytes for bytes,
// labels frontend, server (as configured) and address (as resolved)):
//   hamba_start_time_seconds
//   hamba_frontend_current_connections, hamba_frontend_connections_total,
//   hamba_frontend_bytes_in_total, hamba_frontend_bytes_out_total, hamba_frontend_errors_total,
//   hamba_frontend_timeouts_total, hamba_frontend_queued_connections,
//   hamba_frontend_queue_abandoned_total, hamba_accept_errors_total{reason=...}
//   hamba_server_up, hamba_server_admin_state{state=...}, hamba_server_current_connections,
//   hamba_server_max_connections, hamba_server_connections_total, hamba_server_bytes_in_total,
//   hamba_server_bytes_out_total, hamba_server_connect_errors_total, hamba_server_retries_total,
//   hamba_server_check_failures_total, hamba_server_last_check_timestamp_seconds
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
