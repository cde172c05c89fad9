// The counters table (control/stats_counters.h): names that follow the conventions, families and
// columns in one piece, and every row in all three faces of the stats.
#include "control/stats_counters.h"
#include "control/stats_render.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <set>
#include <string>
#include <string_view>

using namespace hamba::control;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Conventions every table keeps; `taken`: JSON keys the renderer writes itself.
template <typename Row>
void check_rows(std::span<const Row> rows, std::set<std::string> taken,
                std::set<std::string>& families) {
  std::set<std::string> done; // families already ended
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    INFO(std::string(row.json));
    CHECK(taken.insert(row.json).second); // one key each
    std::string_view metric = row.metric;
    CHECK(metric.starts_with("hamba_"));
    CHECK(metric.ends_with("_total") == (row.type == MetricType::counter));
    bool continues = i > 0 && metric == rows[i - 1].metric;
    if (continues) {
      CHECK(row.type == rows[i - 1].type);
      CHECK(row.label != nullptr); // a family of several samples tells them apart by label
      CHECK(rows[i - 1].label != nullptr);
    } else {
      CHECK(row.help != nullptr);
      CHECK(done.count(std::string(metric)) == 0); // a family's rows are next to each other
      CHECK(families.insert(std::string(metric)).second);
    }
    if (i + 1 == rows.size() || metric != rows[i + 1].metric)
      done.insert(std::string(metric));
  }
}

} // namespace

TEST_CASE("counters table: one key and one family each, families in one piece") {
  std::set<std::string> families;
  check_rows(frontend_counters(), {"name", "bind", "balance", "servers"}, families);
  check_rows(server_counters(),
             {"backend", "name", "address", "status", "up", "state", "gone", "last_check",
              "last_check_time", "down_reason", "check_type"},
             families);
  // The server rows that share a column heading are next to each other.
  std::set<std::string> headings;
  const char* last = nullptr;
  for (const ServerCounterRow& row : server_counters()) {
    if (row.page && !(last && std::string_view(last) == row.page))
      CHECK_MESSAGE(headings.insert(row.page).second, row.page);
    last = row.page;
  }
}

TEST_CASE("counters table: every row is in /metrics, /stats.json and, with a heading, the page") {
  StatsSnapshot stats;
  stats.version = "test";
  FrontendStats f;
  f.name = "fe";
  ServerStats s;
  s.name = s.address = "127.0.0.1:9000";
  uint64_t value = 1000;
  for (const FrontendCounterRow& row : frontend_counters())
    row.write(f, value++);
  for (const ServerCounterRow& row : server_counters())
    row.write(s, value++);
  f.servers.push_back(s);
  stats.frontends.push_back(f);

  std::string m = render_metrics(stats), j = render_stats_json(stats), h = render_stats_html(stats);
  for (const FrontendCounterRow& row : frontend_counters()) {
    INFO(std::string(row.json));
    CHECK(row.read(f) >= 1000);
    CHECK(has(m, fmt::format("# TYPE {} {}\n", row.metric,
                             row.type == MetricType::counter ? "counter" : "gauge")));
    CHECK(has(m, fmt::format("{}{{frontend=\"fe\"{}{}}} {}\n", row.metric, row.label ? "," : "",
                             row.label ? row.label : "", row.read(f))));
    CHECK(has(j, fmt::format(",\"{}\":{},", row.json, row.read(f))));
    if (row.page) {
      bool shown = has(h, fmt::format("{}</td>", row.read(f))) ||
                   has(h, fmt::format("title=\"{}\"", row.read(f))) || // bytes
                   has(h, fmt::format("{} <b>{}</b>", row.page, row.read(f)));
      CHECK(shown);
    }
  }
  std::string labels = "frontend=\"fe\",server=\"127.0.0.1:9000\",address=\"127.0.0.1:9000\"";
  for (const ServerCounterRow& row : server_counters()) {
    INFO(std::string(row.json));
    CHECK(has(m, fmt::format("{}{{{}{}{}}} {}\n", row.metric, labels, row.label ? "," : "",
                             row.label ? row.label : "", row.read(s))));
    CHECK(has(j, fmt::format(",\"{}\":{},", row.json, row.read(s))));
    if (row.page)
      CHECK(has(h, fmt::format(">{}</th>", row.page)));
  }
}
