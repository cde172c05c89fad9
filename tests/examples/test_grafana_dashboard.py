"""examples/grafana/hamba-dashboard.json as Grafana reads it, without a Grafana (Debian does not
package one): the fields of Grafana's dashboard model it relies on are there and well formed
(panels with ids, types and grid positions that do not overlap, targets with refIds and a
PromQL `expr`, the Prometheus datasource as a `${datasource}` variable, query variables whose
"All" is `.*`), every `$variable` it uses is defined, every hamba metric family is on it, and it
reads only metrics hamba serves and series the rules record. integration.runtime_metrics_prometheus
and e2e.quickstart run every query against a real Prometheus."""

import re
import unittest

from prometheus_support import dashboard_queries, load_dashboard, panels, rules
from test_prometheus_rules import metrics_read, served_metrics

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Panel types of Grafana 10 and 11 that the dashboard may use.
PANEL_TYPES = {"timeseries", "state-timeline", "table", "stat", "gauge", "bargauge"}
# Grafana's own variables.
BUILTIN = {"__rate_interval", "__interval", "__range"}


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dashboard = load_dashboard()
        cls.variables = {v["name"]: v for v in cls.dashboard["templating"]["list"]}

    def test_top_level_fields(self):
        d = self.dashboard
        self.assertEqual(d["uid"], "hamba")
        self.assertTrue(d["title"])
        self.assertIsInstance(d["schemaVersion"], int)
        self.assertGreaterEqual(d["schemaVersion"], 36)  # datasources as {type, uid}
        self.assertIn("from", d["time"])
        self.assertIsInstance(d["panels"], list)

    def test_datasource_is_a_variable(self):
        ds = self.variables["datasource"]
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        for panel in panels(self.dashboard):
            with self.subTest(panel=panel["title"]):
                self.assertEqual(panel["datasource"], DATASOURCE)
                for target in panel["targets"]:
                    self.assertEqual(target["datasource"], DATASOURCE)

    def test_query_variables_select_all_as_a_regex(self):
        queries = [v for v in self.variables.values() if v["type"] == "query"]
        self.assertEqual({v["name"] for v in queries}, {"instance", "frontend", "server"})
        for v in queries:
            with self.subTest(variable=v["name"]):
                self.assertEqual(v["datasource"], DATASOURCE)
                # prometheus_support.Query.promql() stands `.*` for every variable, as Grafana
                # sends "All" with this allValue; the queries use them with =~ only.
                self.assertTrue(v["includeAll"])
                self.assertEqual(v["allValue"], ".*")
                self.assertRegex(v["query"]["query"], r"^label_values\(.+, \w+\)$")
                self.assertIn(v["name"], v["query"]["query"].rsplit(",", 1)[1])

    def test_panels_are_well_formed_and_do_not_overlap(self):
        ids, cells = set(), {}
        for panel in self.dashboard["panels"]:
            if panel["type"] == "row":
                self.assertEqual(panel["gridPos"]["w"], 24)
        for panel in [*self.dashboard["panels"]]:
            with self.subTest(panel=panel["title"]):
                self.assertNotIn(panel["id"], ids)
                ids.add(panel["id"])
                pos = panel["gridPos"]
                self.assertTrue(all(isinstance(pos[k], int) for k in ("h", "w", "x", "y")))
                self.assertLessEqual(pos["x"] + pos["w"], 24)
                for x in range(pos["x"], pos["x"] + pos["w"]):
                    for y in range(pos["y"], pos["y"] + pos["h"]):
                        self.assertNotIn((x, y), cells, f"overlaps {cells.get((x, y))}")
                        cells[(x, y)] = panel["title"]
                if panel["type"] == "row":
                    continue
                self.assertIn(panel["type"], PANEL_TYPES)
                self.assertTrue(panel["targets"])
                refs = [t["refId"] for t in panel["targets"]]
                self.assertEqual(len(refs), len(set(refs)))
                for target in panel["targets"]:
                    self.assertTrue(target["expr"].strip())
                    self.assertTrue(target["legendFormat"].strip())

    def test_every_variable_used_is_defined(self):
        texts = [q.expr for q in dashboard_queries(self.dashboard)] + [
            v["query"]["query"] for v in self.variables.values() if v["type"] == "query"]
        for text in texts:
            for name in re.findall(r"\$\{?(\w+)\}?", text):
                self.assertTrue(name in self.variables or name in BUILTIN, f"${name} in {text}")

    def test_queries_filter_by_the_variables(self):
        """Every panel follows the instance picker; frontend and server panels follow theirs."""
        for q in dashboard_queries(self.dashboard):
            with self.subTest(query=q.where):
                for metric in metrics_read(q.expr):
                    self.assertRegex(q.expr, re.escape(metric) + r'\{[^}]*instance=~"\$instance"')
                    if metric.startswith(("hamba_frontend_", "hamba_server_", "hamba_accept_")):
                        self.assertRegex(q.expr, re.escape(metric) +
                                         r'\{[^}]*frontend=~"\$frontend"')
                    if metric.startswith("hamba_server_"):
                        self.assertRegex(q.expr, re.escape(metric) + r'\{[^}]*server=~"\$server"')

    def test_every_metric_is_shown_and_every_series_exists(self):
        served = served_metrics()
        recorded = {name for kind, name, _, _ in rules() if kind == "record"}
        read, recorded_read = set(), set()
        texts = [q.expr for q in dashboard_queries(self.dashboard)] + [
            v["query"]["query"] for v in self.variables.values() if v["type"] == "query"]
        for text in texts:
            read |= metrics_read(text)
            recorded_read |= set(re.findall(r"\b(\w+:\w+:\w+)\b", text))
        self.assertEqual(read - served, set(), "not served by hamba")
        self.assertEqual(served - read, set(), "served by hamba but on no panel")
        self.assertEqual(recorded_read - recorded, set(), "not recorded by the rules")

    def test_the_issue_list_has_its_panels(self):
        titles = [(p["title"], p["gridPos"]["y"]) for p in panels(self.dashboard)]
        rows = [(p["title"], p["gridPos"]["y"]) for p in self.dashboard["panels"]
                if p["type"] == "row"]
        self.assertEqual([r for r, _ in rows], ["Frontends", "Servers", "Workers"])

        def under(row):
            start = dict(rows)[row]
            after = [y for _, y in rows if y > start]
            end = min(after) if after else 10**6
            return {t for t, y in titles if start < y < end}

        for title in ("Connections per second", "Current connections", "Bytes per second"):
            self.assertIn(title, under("Frontends"))
            self.assertIn(title, under("Servers"))
        self.assertIn("Queue", under("Frontends"))
        self.assertIn("Errors by kind", under("Frontends"))
        self.assertIn("Errors, retries and resets", under("Servers"))
        self.assertIn("Server state", under("Servers"))
        self.assertIn("Last check and settings", under("Servers"))
        self.assertIn("Each worker's share of new connections", under("Workers"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
