// Renders a StatsSnapshot as the HTML stats page, Prometheus metrics and JSON (stats_render.h).
#include "control/stats_render.h"

#include "base/descriptors.h"
#include "control/json_quote.h"
#include "control/stats_chart.h"
#include "control/stats_counters.h"

#include <fmt/format.h>
#include <span>
#include <string_view>
#include <vector>

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

// A run of rows that make one thing: a Prometheus family (the same metric name) or a column of
// the stats page (the same heading).
template <typename Row, typename Same, typename Visit>
void for_each_run(std::span<const Row> rows, Same same, Visit visit) {
  for (size_t i = 0; i < rows.size();) {
    size_t j = i + 1;
    while (j < rows.size() && same(rows[i], rows[j]))
      ++j;
    visit(rows.subspan(i, j - i));
    i = j;
  }
}

template <typename Row> bool same_metric(const Row& a, const Row& b) {
  return std::string_view(a.metric) == b.metric;
}

template <typename Row> bool same_heading(const Row& a, const Row& b) {
  return a.page && b.page && std::string_view(a.page) == b.page;
}

const char* type_name(MetricType type) {
  return type == MetricType::gauge ? "gauge" : "counter";
}

// One cell of the stats page: the values of `rows` (a run with one heading) in `stats`, joined
// by " / ".
template <typename Row, typename Stats>
std::string page_cell(std::span<const Row> rows, const Stats& stats) {
  std::string text, title;
  for (const Row& row : rows) {
    uint64_t value = row.read(stats);
    if (!text.empty())
      text += " / ";
    if (row.shown == Shown::bytes) {
      text += human_bytes(value);
      title += (title.empty() ? "" : " / ") + std::to_string(value);
    } else if (row.shown == Shown::limit && value == 0) {
      text += "-";
    } else {
      text += std::to_string(value);
    }
  }
  return title.empty() ? fmt::format("<td>{}</td>", text)
                       : fmt::format("<td title=\"{}\">{}</td>", title, text);
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
  // Columns: who and how each server is, then the counters that have a heading
  // (stats_counters.h).
  std::vector<std::span<const ServerCounterRow>> columns;
  for_each_run(server_counters(), same_heading<ServerCounterRow>,
               [&](std::span<const ServerCounterRow> run) {
                 if (run[0].page)
                   columns.push_back(run);
               });
  for (const FrontendStats& f : stats.frontends) {
    out += fmt::format("<h2>{} <span class=\"meta\">on {} &middot; {}</span></h2>\n",
                       html_escape(f.name), html_escape(f.bind),
                       html_escape(f.balance) + (f.on_backup ? " &middot; running on backup" : ""));
    out += "<table><tr><th class=\"l\">server</th><th class=\"l\">address</th><th "
           "class=\"l\">status</th><th class=\"l\">last check</th><th title=\"configured weight "
           "(effective share now, while it ramps up)\">weight</th>";
    for (const auto& column : columns)
      out += column[0].page_title
                 ? fmt::format("<th title=\"{}\">{}</th>", html_escape(column[0].page_title),
                               html_escape(column[0].page))
                 : fmt::format("<th>{}</th>", html_escape(column[0].page));
    out += "</tr>\n";
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
      out += fmt::format("<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l {}\">{}"
                         "</td><td class=\"l\">{}</td><td>{}</td>",
                         html_escape((s.backend.empty() ? s.name : s.backend + ": " + s.name) +
                                     (s.backup ? " (backup)" : "")),
                         html_escape(s.address), status, status, html_escape(check), weight);
      for (const auto& column : columns)
        out += page_cell(column, s);
      out += "</tr>\n";
    }
    // The frontend's line: its counters under the server columns of the same heading; the rest
    // are listed below the table.
    out += fmt::format("<tr class=\"total\"><td class=\"l\">frontend</td><td class=\"l\">{}</td>"
                       "<td class=\"l\"></td><td></td><td></td>",
                       html_escape(f.bind));
    std::vector<bool> placed(frontend_counters().size(), false);
    for (const auto& column : columns) {
      std::vector<FrontendCounterRow> under;
      for (size_t i = 0; i < frontend_counters().size(); ++i) {
        const FrontendCounterRow& row = frontend_counters()[i];
        if (row.page && std::string_view(row.page) == column[0].page) {
          under.push_back(row);
          placed[i] = true;
        }
      }
      out += under.empty() ? "<td></td>" : page_cell(std::span<const FrontendCounterRow>(under), f);
    }
    out += "</tr>\n</table>\n";
    std::string rest;
    for (size_t i = 0; i < frontend_counters().size(); ++i) {
      const FrontendCounterRow& row = frontend_counters()[i];
      if (placed[i] || !row.page)
        continue;
      rest += fmt::format("{}{} <b>{}</b>", rest.empty() ? "" : " &middot; ", html_escape(row.page),
                          row.read(f));
    }
    if (!rest.empty())
      out += fmt::format("<p class=\"meta\">{}</p>\n", rest);
    if (f.sources) {
      std::string busiest;
      for (const SourceStats& s : f.sources->top_by_current)
        busiest += fmt::format("{}{} <b>{}</b>", busiest.empty() ? "" : " &middot; ",
                               html_escape(s.source), s.current);
      out += fmt::format("<p class=\"meta\">per source: {} slots ({} KiB), {} untracked; "
                         "most connections: {}</p>\n",
                         f.sources->slots, f.sources->bytes / 1024, f.sources->untracked,
                         busiest.empty() ? "none" : busiest);
    }
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
  // A route's servers also carry backend="ROUTE"; the frontend's own servers have no such label.
  auto labels = [](const FrontendStats& f, const ServerStats& s) {
    return fmt::format("frontend=\"{}\",{}server=\"{}\",address=\"{}\"", label_value(f.name),
                       s.backend.empty() ? "" : "backend=\"" + label_value(s.backend) + "\",",
                       label_value(s.name), label_value(s.address));
  };
  // `name{labels,label} value`: `label` is the row's own (reason=, side=), if any.
  auto sample = [&](const char* name, const std::string& common, const char* label,
                    uint64_t value) {
    out +=
        fmt::format("{}{{{}{}{}}} {}\n", name, common, label ? "," : "", label ? label : "", value);
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

  for_each_run(frontend_counters(), same_metric<FrontendCounterRow>,
               [&](std::span<const FrontendCounterRow> rows) {
                 family(rows[0].metric, type_name(rows[0].type), rows[0].help);
                 for (const FrontendStats& f : stats.frontends)
                   for (const FrontendCounterRow& row : rows)
                     sample(row.metric, fmt::format("frontend=\"{}\"", label_value(f.name)),
                            row.label, row.read(f));
               });

  family("hamba_server_up", "gauge",
         "1 when the server is up, 0 when checks or failed connects took it down.");
  for (const FrontendStats& f : stats.frontends)
    for (const ServerStats& s : f.servers)
      sample("hamba_server_up", labels(f, s), nullptr, s.up ? 1 : 0);
  family("hamba_server_admin_state", "gauge",
         "Administrative state: 1 for the state the server is in (enabled, disabled, drain).");
  for (const FrontendStats& f : stats.frontends)
    for (const ServerStats& s : f.servers)
      for (const char* state : {"enabled", "disabled", "drain"})
        out += fmt::format("hamba_server_admin_state{{{},state=\"{}\"}} {}\n", labels(f, s), state,
                           s.state == state ? 1 : 0);

  for_each_run(server_counters(), same_metric<ServerCounterRow>,
               [&](std::span<const ServerCounterRow> rows) {
                 family(rows[0].metric, type_name(rows[0].type), rows[0].help);
                 for (const FrontendStats& f : stats.frontends)
                   for (const ServerStats& s : f.servers)
                     for (const ServerCounterRow& row : rows)
                       sample(row.metric, labels(f, s), row.label, row.read(s));
               });
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
    out += fmt::format("{}{{\"name\":{},\"bind\":{},\"balance\":{},\"on_backup\":{}", i ? "," : "",
                       json_quote(f.name), json_quote(f.bind), json_quote(f.balance), f.on_backup);
    for (const FrontendCounterRow& row : frontend_counters())
      out += fmt::format(",\"{}\":{}", row.json, row.read(f));
    out += ",\"servers\":[";
    for (size_t j = 0; j < f.servers.size(); ++j) {
      const ServerStats& s = f.servers[j];
      out += fmt::format("{}{{\"backend\":{},\"name\":{},\"address\":{},\"status\":{},\"up\":{},"
                         "\"state\":{},\"gone\":{},\"last_check\":{},\"last_check_time\":{:.3f}",
                         j ? "," : "", json_quote(s.backend.empty() ? "default" : s.backend),
                         json_quote(s.name), json_quote(s.address), json_quote(s.status()), s.up,
                         json_quote(s.state), s.gone, json_quote(s.last_check),
                         static_cast<double>(s.last_check_time_ms) / 1000.0);
      for (const ServerCounterRow& row : server_counters())
        out += fmt::format(",\"{}\":{}", row.json, row.read(s));
      out += fmt::format(",\"down_reason\":{},\"check_type\":{}}}", json_quote(s.down_reason),
                         json_quote(s.check_type));
    }
    out += "]";
    if (f.sources) {
      const SourceTableStats& t = *f.sources;
      auto list = [](const std::vector<SourceStats>& sources) {
        std::string text;
        for (size_t k = 0; k < sources.size(); ++k)
          text +=
              fmt::format("{}{{\"source\":{},\"current\":{},\"in_window\":{}}}", k ? "," : "",
                          json_quote(sources[k].source), sources[k].current, sources[k].in_window);
        return text;
      };
      out += fmt::format(",\"per_source\":{{\"slots\":{},\"used\":{},\"bytes\":{},\"untracked\":{},"
                         "\"top_by_current\":[{}],\"top_by_rate\":[{}]}}",
                         t.slots, t.used, t.bytes, t.untracked, list(t.top_by_current),
                         list(t.top_by_rate));
    }
    out += "}";
  }
  out += "],\"workers\":[";
  for (size_t i = 0; i < stats.workers.size(); ++i)
    out += fmt::format("{}{{\"accepted\":{},\"current\":{}}}", i ? "," : "",
                       stats.workers[i].accepted, stats.workers[i].current);
  out += "]}\n";
  return out;
}

} // namespace hamba::control
