// The stats page's connections-per-second chart (see stats_chart.h).
#include "control/stats_chart.h"

#include "control/json_quote.h"

#include <fmt/format.h>

namespace hamba::control {
namespace {

// This instant's sample for the script: {"t": Unix ms, "servers": {"FRONTEND SERVER (ADDRESS)":
// connections since start, ...}}. JSON inside <script>: every '<' is written as \u003c, so no
// server name can end the script early.
std::string sample_json(const StatsSnapshot& stats) {
  std::string servers;
  for (const FrontendStats& f : stats.frontends)
    for (const ServerStats& s : f.servers) {
      std::string name = s.address.empty() || s.address == s.name
                             ? fmt::format("{} {}", f.name, s.name)
                             : fmt::format("{} {} ({})", f.name, s.name, s.address);
      servers += fmt::format("{}{}: {}", servers.empty() ? "" : ", ", json_quote(name), s.total);
    }
  std::string json = fmt::format("{{\"t\": {}, \"servers\": {{{}}}}}", stats.now_ms, servers);
  std::string safe;
  for (char c : json)
    safe += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return safe;
}

// Draws one polyline per server into #rate-chart and its latest rate into #rate-legend;
// data-points on the svg says how many rates were drawn (the tests read it).
constexpr const char* chart_script = R"(
(function () {
  var key = "hamba-stats-history", keep = 60, history = [];
  try { history = JSON.parse(sessionStorage.getItem(key) || "[]"); } catch (e) {}
  // A sample not newer than the last one: another hamba, or one restarted; start again.
  if (history.length && history[history.length - 1].t >= sample.t) history = [];
  history.push(sample);
  history = history.slice(-(keep + 1));
  try { sessionStorage.setItem(key, JSON.stringify(history)); } catch (e) {}

  var names = Object.keys(sample.servers), max = 1, points = 0, series = {};
  names.forEach(function (name) {
    series[name] = [];
    for (var i = 1; i < history.length; i++) {
      var a = history[i - 1].servers[name], b = history[i].servers[name];
      var seconds = (history[i].t - history[i - 1].t) / 1000;
      if (a === undefined || b === undefined || seconds <= 0 || b < a) continue;
      var rate = (b - a) / seconds;
      series[name].push([i, rate]);
      if (rate > max) max = rate;
    }
    points = Math.max(points, series[name].length);
  });

  var W = 640, H = 140, pad = 6, step = (W - 2 * pad) / (keep - 1), last = history.length - 1;
  var colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#17becf"];
  var escape = function (text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  };
  max *= 1.25; // headroom above the highest point, where the scale is written
  var svg = '<rect width="' + W + '" height="' + H + '" fill="#fafafa" stroke="#ddd"/>' +
    '<text x="' + pad + '" y="14" fill="#666" font-size="11">' + max.toFixed(1) +
    '/s</text><text x="' + pad + '" y="' + (H - pad) + '" fill="#666" font-size="11">' +
    '0 (2 minutes, newest on the right)</text>';
  var legend = "";
  names.forEach(function (name, n) {
    var color = colors[n % colors.length], s = series[name];
    var xy = s.map(function (p) {
      return (W - pad - (last - p[0]) * step).toFixed(1) + "," +
        (H - pad - (H - 2 * pad) * p[1] / max).toFixed(1);
    });
    if (xy.length === 1) xy.push(xy[0]);
    if (xy.length)
      svg += '<polyline class="rate" fill="none" stroke-width="2" stroke="' + color +
        '" points="' + xy.join(" ") + '"/>';
    var now = s.length ? s[s.length - 1][1].toFixed(1) : "-";
    legend += '<span style="margin-right:1.2em"><span style="color:' + color +
      '">&#9632;</span> ' + escape(name) + ': <b class="rate-now">' + now + '</b>/s</span>';
  });
  var chart = document.getElementById("rate-chart");
  chart.innerHTML = svg;
  chart.dataset.points = points;
  document.getElementById("rate-legend").innerHTML = legend ||
    "no server yet";
})();
)";

} // namespace

std::string render_rate_chart(const StatsSnapshot& stats) {
  if (stats.frontends.empty())
    return {};
  return fmt::format("<h2>Connections per second, per server</h2>\n"
                     "<svg id=\"rate-chart\" width=\"640\" height=\"140\" data-points=\"0\" "
                     "role=\"img\" aria-label=\"connections per second per server\"></svg>\n"
                     "<p id=\"rate-legend\" class=\"meta\">collecting: the chart starts at the "
                     "next refresh</p>\n<script>\nvar sample = {};{}</script>\n",
                     sample_json(stats), chart_script);
}

} // namespace hamba::control
