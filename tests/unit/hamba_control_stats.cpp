// Unit tests for control/stats_render.cpp: the HTML page, Prometheus metrics and JSON show the
// same snapshot, with the conventions (names, labels, escaping) they promise.
#include "control/stats_render.h"

#include <doctest/doctest.h>
#include <sstream>

using namespace hamba::control;

namespace {

StatsSnapshot sample() {
  StatsSnapshot s;
  s.version = "0.1.0";
  s.started_ms = 1'700'000'000'000;
  s.now_ms = s.started_ms + 65'000;
  FrontendStats f;
  f.name = "rng";
  f.bind = "0.0.0.0:8001";
  f.balance = "roundrobin";
  f.current = 2;
  f.total = 1234;
  f.bytes_in = 5000;
  f.bytes_out = 3 * 1024 * 1024;
  f.errors = 1;
  f.timeouts = 4;
  f.queued = 0;
  ServerStats a;
  a.name = "rng1:80";
  a.address = "127.0.0.2:80";
  a.last_check = "ok";
  a.last_check_time_ms = s.now_ms - 1500;
  a.maxconn = 32;
  a.current = 2;
  a.total = 1000;
  a.bytes_in = 4000;
  a.bytes_out = 3 * 1024 * 1024;
  ServerStats b = a;
  b.name = "rng\"2\":80"; // a name that needs escaping everywhere
  b.address = "127.0.0.3:80";
  b.up = false;
  b.state = "drain";
  b.last_check = "ECONNREFUSED (connection refused)";
  b.current = 0;
  b.total = 234;
  b.bytes_in = 1000;
  b.bytes_out = 0;
  b.connect_errors = 7;
  b.retries = 5;
  b.checks_failed = 9;
  b.resets_by_server = 3;
  b.resets_by_client = 1;
  f.servers = {a, b};
  s.frontends.push_back(f);
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line)
      return true;
  return false;
}

} // namespace

TEST_CASE("metrics: Prometheus names, types, labels and values") {
  std::string m = render_metrics(sample());
  INFO(m);
  CHECK(has_line(m, "# TYPE hamba_frontend_connections_total counter"));
  CHECK(has_line(m, "hamba_frontend_connections_total{frontend=\"rng\"} 1234"));
  CHECK(has_line(m, "hamba_frontend_bytes_in_total{frontend=\"rng\"} 5000"));
  CHECK(has_line(m, "hamba_frontend_bytes_out_total{frontend=\"rng\"} 3145728"));
  CHECK(has_line(m, "# TYPE hamba_frontend_current_connections gauge"));
  CHECK(has_line(m, "hamba_frontend_current_connections{frontend=\"rng\"} 2"));
  CHECK(has_line(m, "hamba_frontend_timeouts_total{frontend=\"rng\"} 4"));
  CHECK(has_line(m, "hamba_server_connections_total{frontend=\"rng\",server=\"rng1:80\","
                    "address=\"127.0.0.2:80\"} 1000"));
  CHECK(has_line(
      m, "hamba_server_up{frontend=\"rng\",server=\"rng1:80\",address=\"127.0.0.2:80\"} 1"));
  // label values escape quotes
  CHECK(has_line(m, "hamba_server_up{frontend=\"rng\",server=\"rng\\\"2\\\":80\",address=\"127.0.0."
                    "3:80\"} 0"));
  CHECK(has_line(m, "hamba_server_connect_errors_total{frontend=\"rng\",server=\"rng\\\"2\\\":80\","
                    "address=\"127.0.0.3:80\"} 7"));
  CHECK(has_line(m, "hamba_server_admin_state{frontend=\"rng\",server=\"rng\\\"2\\\":80\","
                    "address=\"127.0.0.3:80\",state=\"drain\"} 1"));
  CHECK(has_line(m, "hamba_server_admin_state{frontend=\"rng\",server=\"rng\\\"2\\\":80\","
                    "address=\"127.0.0.3:80\",state=\"enabled\"} 0"));
  CHECK(has_line(m, "hamba_server_resets_total{frontend=\"rng\",server=\"rng\\\"2\\\":80\","
                    "address=\"127.0.0.3:80\",side=\"server\"} 3"));
  CHECK(has_line(m, "hamba_server_resets_total{frontend=\"rng\",server=\"rng\\\"2\\\":80\","
                    "address=\"127.0.0.3:80\",side=\"client\"} 1"));
  CHECK(has_line(m, "hamba_start_time_seconds 1700000000.000"));

  // Every counter ends in _total, every sample line belongs to a family declared before it.
  std::istringstream in(m);
  std::string declared;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string type;
      words >> declared >> type;
      CHECK(declared.rfind("hamba_", 0) == 0);
      if (type == "counter")
        CHECK(declared.size() > 6);
      if (type == "counter")
        CHECK(declared.substr(declared.size() - 6) == "_total");
      continue;
    }
    if (line.rfind("#", 0) == 0)
      continue;
    std::string name = line.substr(0, line.find_first_of("{ "));
    CHECK_MESSAGE(name == declared, line);
  }
}

TEST_CASE("stats.json: every counter, escaped strings") {
  std::string j = render_stats_json(sample());
  INFO(j);
  CHECK(j.find("\"uptime_seconds\":65.000") != std::string::npos);
  CHECK(j.find("\"name\":\"rng\",\"bind\":\"0.0.0.0:8001\"") != std::string::npos);
  CHECK(j.find("\"total\":1234,\"bytes_in\":5000,\"bytes_out\":3145728,\"errors\":1,"
               "\"timeouts\":4") != std::string::npos);
  CHECK(j.find("\"name\":\"rng\\\"2\\\":80\"") != std::string::npos);
  CHECK(j.find("\"status\":\"drain\",\"up\":false,\"state\":\"drain\"") != std::string::npos);
  CHECK(j.find("\"connect_errors\":7,\"retries\":5,\"checks_failed\":9,\"resets_by_server\":3,"
               "\"resets_by_client\":1") != std::string::npos);
  CHECK(j.back() == '\n');
}

TEST_CASE("stats page: refreshes itself, one row per server, status visible, escaped") {
  std::string h = render_stats_html(sample(), 3);
  CHECK(h.find("<meta http-equiv=\"refresh\" content=\"3\">") != std::string::npos);
  CHECK(h.find("class=\"l up\">up<") != std::string::npos);
  CHECK(h.find("class=\"l drain\">drain<") != std::string::npos);
  CHECK(h.find("rng&quot;2&quot;:80") != std::string::npos);
  CHECK(h.find("rng\"2\"") == std::string::npos);
  CHECK(h.find("3.0 MiB") != std::string::npos);
  CHECK(h.find("ok (1s ago)") != std::string::npos);
  CHECK(h.find("<td>3 / 1</td>") != std::string::npos); // resets: by the server / by the client
  CHECK(h.find("up 1m 5s") != std::string::npos);

  StatsSnapshot lost = sample();
  ServerStats u;
  u.name = "web.invalid:80";
  u.unresolved = true;
  u.up = false;
  u.last_check = "EAI_NONAME (unknown node or service)";
  lost.frontends[0].servers.push_back(u);
  std::string h2 = render_stats_html(lost);
  CHECK(h2.find("class=\"l unresolved\">unresolved<") != std::string::npos);
  CHECK(h2.find("EAI_NONAME (unknown node or service)</td>") != std::string::npos);

  StatsSnapshot empty;
  CHECK(render_stats_html(empty).find("No frontend configured") != std::string::npos);
  CHECK(render_stats_json(empty).find("\"frontends\":[]") != std::string::npos);
}

TEST_CASE("server status: administrative state and vanishing win over health") {
  ServerStats s;
  CHECK(s.status() == "up");
  s.up = false;
  CHECK(s.status() == "down");
  s.state = "disabled";
  CHECK(s.status() == "disabled");
  s.gone = true;
  CHECK(s.status() == "gone");
  s.unresolved = true;
  CHECK(s.status() == "unresolved");
}

TEST_CASE("stats.json: every frontend counter, queue abandons and accept errors included") {
  StatsSnapshot s = sample();
  FrontendStats& f = s.frontends[0];
  f.abandoned = 6;
  f.proxy_header_errors = 8;
  f.client_hello_errors = 9;
  for (size_t i = 0; i < 5; ++i)
    f.accept_errors[i] = 11 + i;
  std::string j = render_stats_json(s);
  INFO(j);
  CHECK(j.find("\"queued\":0,") != std::string::npos);
  CHECK(j.find("\"abandoned\":6,") != std::string::npos);
  CHECK(j.find("\"proxy_header_errors\":8,\"client_hello_errors\":9,") != std::string::npos);
  CHECK(j.find("\"accept_errors_emfile\":11,\"accept_errors_enfile\":12,"
               "\"accept_errors_enobufs\":13,\"accept_errors_enomem\":14,"
               "\"accept_errors_other\":15,") != std::string::npos);
  // ...and on the page, below the frontend's table.
  std::string h = render_stats_html(s);
  CHECK(h.find("left the queue <b>6</b>") != std::string::npos);
  CHECK(h.find("accept errors: other <b>15</b>") != std::string::npos);
  CHECK(h.find("timeouts <b>4</b>") != std::string::npos);
}
