// Renders a StatsSnapshot as the HTML stats page, Prometheus metrics and JSON (stats_render.h).
#include "control/stats_render.h"

#include "base/descriptors.h"
#include "control/json_quote.h"
#include "control/stats_chart.h"

#include <fmt/format.h>
#include <functional>

namespace hamba::control {
namespace {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

// A Prometheus label value: backslash, quote and newline escaped.
std::string label_value(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// "1.5 KiB", "3.2 MiB": bytes for a human.
std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, units[unit]);
}

// "3s ago", "2m ago", "never".
std::string age(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0)
    return "never";
  int64_t seconds = std::max<int64_t>(0, (now_ms - then_ms) / 1000);
  if (seconds < 120)
    return fmt::format("{}s ago", seconds);
  if (seconds < 7200)
    return fmt::format("{}m ago", seconds / 60);
  return fmt::format("{}h ago", seconds / 3600);
}

std::string uptime(int64_t seconds) {
  if (seconds < 60)
    return fmt::format("{}s", seconds);
  if (seconds < 3600)
    return fmt::format("{}m {}s", seconds / 60, seconds % 60);
  if (seconds < 86400)
    return fmt::format("{}h {}m", seconds / 3600, (seconds % 3600) / 60);
  return fmt::format("{}d {}h", seconds / 86400, (seconds % 86400) / 3600);
}

} // namespace

std::string render_stats_html(const StatsSnapshot& stats, int refresh_seconds) {
  std::string out = fmt::format(R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{}">
<title>hamba stats</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.3em; margin: 0 0 .2em; }}
h2 {{ font-size: 1.1em; margin: 1.5em 0 .4em; }}
.meta {{ color: #666; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }}
th {{ background: #f3f3f3; }}
td.l, th.l {{ text-align: left; }}
tr.total td {{ font-weight: bold; background: #fafafa; }}
.up {{ background: #c8f0c8; }} .down {{ background: #f6b8b8; }}
.disabled, .gone {{ background: #ddd; }} .unresolved {{ background: #f6b8b8; }} .drain {{ background: #f7e3a1; }}
</style></head><body>
<h1>hamba {}</h1>
<p class="meta">up {} &middot; {} frontend(s) &middot; refreshes every {}s &middot;
<a href="/metrics">/metrics</a> &middot; <a href="/stats.json">/stats.json</a></p>
)",
                                refresh_seconds, html_escape(stats.version),
                                uptime((stats.now_ms - stats.started_ms) / 1000),
                                stats.frontends.size(), refresh_seconds);
  if (stats.frontends.empty())
    out += "<p>No frontend configured yet: use <code>hamba reconfigure</code>.</p>\n";
  for (const FrontendStats& f : stats.frontends) {
    out += fmt::format("<h2>{} <span class=\"meta\">on {} &middot; {}</span></h2>\n",
                       html_escape(f.name), html_escape(f.bind), html_escape(f.balance));
    out += "<table><tr><th class=\"l\">server</th><th class=\"l\">address</th><th "
           "class=\"l\">status</th><th class=\"l\">last check</th><th title=\"configured weight "
           "(effective share now, while it ramps up)\">weight</th><th>current</th><th>max</"
           "th><th>total</th><th>bytes in</th><th>bytes out</th><th>errors</th><th>retries</"
           "th><th title=\"connections reset by the server / by the client\">resets</th></tr>\n";
    for (const ServerStats& s : f.servers) {
      std::string check = s.unresolved ? s.last_check
                          : s.last_check_time_ms > 0
                              ? fmt::format("{} ({})", s.last_check.empty() ? "?" : s.last_check,
                                            age(s.last_check_time_ms, stats.now_ms))
                              : "never";
      if (!s.check_type.empty() && s.check_type != "tcp")
        check = s.check_type + ": " + check;
      std::string status = s.status();
      if (status == "down" && !s.down_reason.empty() && s.down_reason != s.last_check)
        check = "down: " + s.down_reason + "; " + check; // traffic took it down
      std::string weight =
          s.effective_weight < s.weight * 16
              ? fmt::format("{} ({}%)", s.weight, s.effective_weight * 100 / (s.weight * 16))
              : std::to_string(s.weight);
      out +=
          fmt::format("<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l {}\">{}"
                      "</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td "
                      "title=\"{}\">{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{} "
                      "/ {}</td></tr>\n",
                      html_escape(s.backend.empty() ? s.name : s.backend + ": " + s.name),
                      html_escape(s.address), status, status, html_escape(check), weight, s.current,
                      s.maxconn ? std::to_string(s.maxconn) : "-", s.total, s.bytes_in,
                      human_bytes(s.bytes_in), s.bytes_out, human_bytes(s.bytes_out),
                      s.connect_errors, s.retries, s.resets_by_server, s.resets_by_client);
    }
    out += fmt::format(
        "<tr class=\"total\"><td class=\"l\">frontend</td><td class=\"l\">{}</td>"
        "<td class=\"l\">{} queued</td><td></td><td></td><td>{}</td><td></td><td>{}</td><td "
        "title=\"{}\">{}</td><td title=\"{}\">{}</td><td>{}</td><td></td><td></td></tr>\n",
        html_escape(f.bind), f.queued, f.current, f.total, f.bytes_in, human_bytes(f.bytes_in),
        f.bytes_out, human_bytes(f.bytes_out), f.errors);
    out += "</table>\n";
  }
  out += render_rate_chart(stats);
  out += "</body></html>\n";
  return out;
}

std::string render_metrics(const StatsSnapshot& stats) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto frontend_family = [&](const char* name, const char* type, const char* help,
                             const std::function<uint64_t(const FrontendStats&)>& value) {
    family(name, type, help);
    for (const FrontendStats& f : stats.frontends)
      out += fmt::format("{}{{frontend=\"{}\"}} {}\n", name, label_value(f.name), value(f));
  };
  // A route's servers also carry backend="ROUTE"; the frontend's own servers have no such label.
  auto labels = [](const FrontendStats& f, const ServerStats& s) {
    return fmt::format("frontend=\"{}\",{}server=\"{}\",address=\"{}\"", label_value(f.name),
                       s.backend.empty() ? "" : "backend=\"" + label_value(s.backend) + "\",",
                       label_value(s.name), label_value(s.address));
  };
  auto server_family = [&](const char* name, const char* type, const char* help,
                           const std::function<int64_t(const ServerStats&)>& value) {
    family(name, type, help);
    for (const FrontendStats& f : stats.frontends)
      for (const ServerStats& s : f.servers)
        out += fmt::format("{}{{{}}} {}\n", name, labels(f, s), value(s));
  };

  family("hamba_start_time_seconds", "gauge", "Start time of hamba since the Unix epoch.");
  out += fmt::format("hamba_start_time_seconds {:.3f}\n",
                     static_cast<double>(stats.started_ms) / 1000.0);

  family("hamba_worker_connections_total", "counter",
         "Client connections accepted by each worker loop.");
  for (size_t i = 0; i < stats.workers.size(); ++i)
    out += fmt::format("hamba_worker_connections_total{{worker=\"{}\"}} {}\n", i,
                       stats.workers[i].accepted);
  family("hamba_worker_current_connections", "gauge",
         "Client connections each worker loop holds now.");
  for (size_t i = 0; i < stats.workers.size(); ++i)
    out += fmt::format("hamba_worker_current_connections{{worker=\"{}\"}} {}\n", i,
                       stats.workers[i].current);

  frontend_family("hamba_frontend_current_connections", "gauge", "Client connections open now.",
                  [](auto& f) { return f.current; });
  frontend_family("hamba_frontend_connections_total", "counter", "Client connections accepted.",
                  [](auto& f) { return f.total; });
  frontend_family("hamba_frontend_bytes_in_total", "counter",
                  "Bytes received from clients (and sent on to servers).",
                  [](auto& f) { return f.bytes_in; });
  frontend_family("hamba_frontend_bytes_out_total", "counter",
                  "Bytes sent to clients (received from servers).",
                  [](auto& f) { return f.bytes_out; });
  frontend_family("hamba_frontend_errors_total", "counter",
                  "Client connections closed because no server could take them.",
                  [](auto& f) { return f.errors; });
  frontend_family("hamba_frontend_timeouts_total", "counter",
                  "Client connections closed by the idle or the queue timeout.",
                  [](auto& f) { return f.timeouts; });
  frontend_family("hamba_frontend_queued_connections", "gauge",
                  "Client connections waiting for a server with room.",
                  [](auto& f) { return f.queued; });
  frontend_family("hamba_frontend_queue_abandoned_total", "counter",
                  "Queued clients that left before a server had room.",
                  [](auto& f) { return f.abandoned; });
  family("hamba_accept_errors_total", "counter",
         "Accepts that failed, by reason: hamba out of descriptors (emfile, enfile) or memory "
         "(enobufs, enomem), or another error.");
  for (const FrontendStats& f : stats.frontends)
    for (size_t i = 0; i < 5; ++i)
      out += fmt::format("hamba_accept_errors_total{{frontend=\"{}\",reason=\"{}\"}} {}\n",
                         label_value(f.name), kLocalErrorReasons[i], f.accept_errors[i]);
  frontend_family("hamba_frontend_proxy_header_errors_total", "counter",
                  "Client connections closed for a missing, malformed, oversized or late PROXY "
                  "header (accept_proxy).",
                  [](auto& f) { return f.proxy_header_errors; });
  frontend_family("hamba_frontend_client_hello_errors_total", "counter",
                  "Client connections closed for a first byte that is not TLS, or a malformed or "
                  "late ClientHello (routes).",
                  [](auto& f) { return f.client_hello_errors; });

  server_family("hamba_server_up", "gauge",
                "1 when the server is up, 0 when checks or failed connects took it down.",
                [](auto& s) { return s.up ? 1 : 0; });
  family("hamba_server_admin_state", "gauge",
         "Administrative state: 1 for the state the server is in (enabled, disabled, drain).");
  for (const FrontendStats& f : stats.frontends)
    for (const ServerStats& s : f.servers)
      for (const char* state : {"enabled", "disabled", "drain"})
        out += fmt::format("hamba_server_admin_state{{{},state=\"{}\"}} {}\n", labels(f, s), state,
                           s.state == state ? 1 : 0);

  server_family("hamba_server_weight", "gauge", "The server's configured weight (1-256).",
                [](auto& s) { return s.weight; });
  server_family("hamba_server_effective_weight", "gauge",
                "The weight balancing uses now, x16: lower while the server ramps up (slowstart).",
                [](auto& s) { return s.effective_weight; });
  server_family("hamba_server_traffic_failures_total", "counter",
                "Failed connects and resets before the first byte (passive health).",
                [](auto& s) { return static_cast<int64_t>(s.traffic_failures); });
  server_family("hamba_server_downs_total", "counter", "Times the server went DOWN.",
                [](auto& s) { return static_cast<int64_t>(s.downs); });
  server_family("hamba_server_current_connections", "gauge", "Connections to the server now.",
                [](auto& s) { return static_cast<int64_t>(s.current); });
  server_family("hamba_server_max_connections", "gauge",
                "Connections the server may have at once (maxconn; 0: no limit).",
                [](auto& s) { return s.maxconn; });
  server_family("hamba_server_connections_total", "counter", "Connections made to the server.",
                [](auto& s) { return static_cast<int64_t>(s.total); });
  server_family("hamba_server_bytes_in_total", "counter", "Bytes sent to the server.",
                [](auto& s) { return static_cast<int64_t>(s.bytes_in); });
  server_family("hamba_server_bytes_out_total", "counter", "Bytes received from the server.",
                [](auto& s) { return static_cast<int64_t>(s.bytes_out); });
  server_family("hamba_server_connect_errors_total", "counter",
                "Connects to the server that were refused or timed out.",
                [](auto& s) { return static_cast<int64_t>(s.connect_errors); });
  server_family("hamba_server_retries_total", "counter",
                "Failed connects to the server retried on another server.",
                [](auto& s) { return static_cast<int64_t>(s.retries); });
  server_family("hamba_server_check_failures_total", "counter", "Failed health checks.",
                [](auto& s) { return static_cast<int64_t>(s.checks_failed); });
  family("hamba_server_resets_total", "counter",
         "Connections to the server that ended in a reset, by the side that reset (side).");
  for (const FrontendStats& f : stats.frontends)
    for (const ServerStats& s : f.servers)
      for (auto [side, count] :
           {std::pair{"server", s.resets_by_server}, std::pair{"client", s.resets_by_client}})
        out += fmt::format("hamba_server_resets_total{{{},side=\"{}\"}} {}\n", labels(f, s), side,
                           count);
  family("hamba_server_last_check_timestamp_seconds", "gauge",
         "When the server was last checked, since the Unix epoch (0: never).");
  for (const FrontendStats& f : stats.frontends)
    for (const ServerStats& s : f.servers)
      out += fmt::format("hamba_server_last_check_timestamp_seconds{{{}}} {:.3f}\n", labels(f, s),
                         static_cast<double>(s.last_check_time_ms) / 1000.0);
  return out;
}

std::string render_stats_json(const StatsSnapshot& stats) {
  std::string out =
      fmt::format("{{\"version\":{},\"now\":{:.3f},\"uptime_seconds\":{:.3f},\"frontends\":[",
                  json_quote(stats.version), static_cast<double>(stats.now_ms) / 1000.0,
                  static_cast<double>(stats.now_ms - stats.started_ms) / 1000.0);
  for (size_t i = 0; i < stats.frontends.size(); ++i) {
    const FrontendStats& f = stats.frontends[i];
    out += fmt::format("{}{{\"name\":{},\"bind\":{},\"balance\":{},\"current\":{},\"total\":{},"
                       "\"bytes_in\":{},\"bytes_out\":{},\"errors\":{},\"timeouts\":{},\"queued\":{"
                       "},\"proxy_header_errors\":{},\"client_hello_errors\":{},\"servers\":[",
                       i ? "," : "", json_quote(f.name), json_quote(f.bind), json_quote(f.balance),
                       f.current, f.total, f.bytes_in, f.bytes_out, f.errors, f.timeouts, f.queued,
                       f.proxy_header_errors, f.client_hello_errors);
    for (size_t j = 0; j < f.servers.size(); ++j) {
      const ServerStats& s = f.servers[j];
      out += fmt::format(
          "{}{{\"backend\":{},\"name\":{},\"address\":{},\"status\":{},\"up\":{},\"state\":{},"
          "\"gone\":{},"
          "\"last_check\":{},\"last_check_time\":{:.3f},\"maxconn\":{},\"current\":{},"
          "\"total\":{},\"bytes_in\":{},\"bytes_out\":{},\"connect_errors\":{},\"retries\":{},"
          "\"checks_failed\":{},\"resets_by_server\":{},\"resets_by_client\":{},\"weight\":{},"
          "\"effective_weight\":{},\"traffic_failures\":{},\"downs\":{},\"down_reason\":{},"
          "\"check_type\":{}}}",
          j ? "," : "", json_quote(s.backend.empty() ? "default" : s.backend), json_quote(s.name),
          json_quote(s.address), json_quote(s.status()), s.up, json_quote(s.state), s.gone,
          json_quote(s.last_check), static_cast<double>(s.last_check_time_ms) / 1000.0, s.maxconn,
          s.current, s.total, s.bytes_in, s.bytes_out, s.connect_errors, s.retries, s.checks_failed,
          s.resets_by_server, s.resets_by_client, s.weight, s.effective_weight, s.traffic_failures,
          s.downs, json_quote(s.down_reason), json_quote(s.check_type));
    }
    out += "]}";
  }
  out += "],\"workers\":[";
  for (size_t i = 0; i < stats.workers.size(); ++i)
    out += fmt::format("{}{{\"accepted\":{},\"current\":{}}}", i ? "," : "",
                       stats.workers[i].accepted, stats.workers[i].current);
  out += "]}\n";
  return out;
}

} // namespace hamba::control
