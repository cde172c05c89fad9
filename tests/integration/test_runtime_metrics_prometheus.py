"""hamba's /metrics through a real Prometheus (Debian's, on loopback) with the rules of
examples/prometheus/hamba-rules.yml: every query of the Grafana dashboard
(examples/grafana/hamba-dashboard.json) and every rule returns series carrying the labels its
legend or its annotations name, every rule evaluates, a route's servers carry `backend`, and the
alerts fire where they should and nowhere else: HambaServerDown for each refused server,
HambaAllServersDown for the route whose one server is refused, not for the frontend that still
has two. e2e.quickstart does the same against the compose stack through examples/prometheus.yml.
About 6 s."""

import os
import re
import shutil
import tempfile
import unittest

from hamba_helpers import TaggedEcho
from harness import Hamba, Process, free_port, wait_port, wait_until
from prometheus_support import RULES, PrometheusAPI, dashboard_queries, rule_queries
from runtime_support import exchange

# Grafana's $__rate_interval is at least four scrape intervals: 4 s here. A minute covers this
# short run whole, which is all the rates need.
RATE_INTERVAL = "1m"


class PrometheusTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("prometheus") is None:
            self.fail("prometheus missing (scripts/install-deps installs it)")
        self.dir = tempfile.mkdtemp(prefix="hamba-prometheus-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def prometheus(self, admin):
        """Prometheus scraping 127.0.0.1:admin and evaluating the rules every second, their
        alerts' `for:` cut to 1 s (the rules are otherwise the examples' own)."""
        with open(RULES) as f:
            rules, cut = re.subn(r"(?m)^(\s+for:) \w+$", r"\1 1s", f.read())
        self.assertGreaterEqual(cut, 4)
        with open(os.path.join(self.dir, "rules.yml"), "w") as f:
            f.write(rules)
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write(f"""global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
scrape_configs:
  - job_name: hamba
    static_configs: [{{targets: ["127.0.0.1:{admin}"]}}]
""")
        port = free_port()
        proc = Process(["prometheus", f"--config.file={self.dir}/prometheus.yml",
                        f"--storage.tsdb.path={self.dir}/data",
                        f"--web.listen-address=127.0.0.1:{port}"])
        return proc, port

    def test_dashboard_and_rules_against_a_real_prometheus(self):
        web, tls, admin, closed = free_port(), free_port(), free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, Hamba(config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: web
    bind: "127.0.0.1:{web}"
    check: {{interval: 200ms}}
    servers: ["{a.address()}", "{b.address()}", "127.0.0.1:{closed}"]
  - name: tls
    bind: "127.0.0.1:{tls}"
    check: {{interval: 200ms}}
    servers: ["{a.address()}"]
    routes:
      - name: api
        sni: [api.example.com]
        servers: ["127.0.0.1:{closed}"]
""", ports=[web]):
            for _ in range(4):
                self.assertTrue(exchange(web, b"counted")[1])
            proc, port = self.prometheus(admin)
            with proc:
                wait_port(port, timeout=30)
                api = PrometheusAPI(f"http://127.0.0.1:{port}")
                queries = dashboard_queries() + rule_queries()

                def empty():
                    return [q for q in queries if not api.query(q.promql(RATE_INTERVAL))]
                try:
                    wait_until(lambda: not empty(), timeout=30, interval=0.5, retry_on=(OSError,),
                               what="every query to return series")
                except AssertionError:
                    raise AssertionError(f"queries with no series: {empty()}") from None
                for q in queries:
                    with self.subTest(query=q.where):
                        series = api.query(q.promql(RATE_INTERVAL))
                        self.assertEqual(q.missing_labels(series), [], q)
                serving = {(s["metric"]["frontend"], s["metric"].get("backend", "")):
                           float(s["value"][1]) for s in
                           api.query("instance_frontend_backend:hamba_servers_serving:sum")}
                self.assertEqual(serving, {("web", ""): 2, ("tls", ""): 1, ("tls", "api"): 0})

                def firing():
                    return sorted((a["labels"]["alertname"], a["labels"]["frontend"],
                                   a["labels"].get("backend", ""), a["labels"].get("server", ""))
                                  for a in api.alerts() if a["state"] == "firing")
                expected = [("HambaAllServersDown", "tls", "api", ""),
                            ("HambaServerDown", "tls", "api", f"127.0.0.1:{closed}"),
                            ("HambaServerDown", "web", "", f"127.0.0.1:{closed}")]
                try:
                    wait_until(lambda: firing() == expected, timeout=30, interval=0.5,
                               what="the alerts of the refused servers to fire")
                except AssertionError:
                    raise AssertionError(f"firing: {firing()}, not {expected}") from None
                for group in api.rule_groups():
                    for rule in group["rules"]:
                        self.assertEqual(rule["health"], "ok", rule)


if __name__ == "__main__":
    unittest.main()
