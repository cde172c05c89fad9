"""examples/prometheus/hamba-rules.yml as Prometheus reads it: `promtool check rules` accepts it,
its alerts fire as tests/examples/hamba-rules.test.yml says (`promtool test rules`: a server down
for a minute, every server of a route down, a queue growing, refusals above 1%, and the near
misses that must not fire), every alert has a case there, every alert is a threshold on a
recorded series (so the recorded series shows how far from firing it is), every hamba metric it
reads is one hamba serves, and examples/prometheus.yml loads it."""

import os
import re
import shutil
import subprocess
import unittest

from harness import SOURCE_DIR
from prometheus_support import RULES, SCRAPE_CONFIG, rule_queries, rules

RULES_TEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hamba-rules.test.yml")


def promtool(*args, cwd=None):
    proc = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd)
    return proc.returncode, proc.stdout + proc.stderr


def served_metrics():
    """Every metric family name hamba's /metrics can carry: the string literals of the counters
    table and of the renderer, which write every family."""
    names = set()
    for path in ("stats_counters.cpp", "stats_render.cpp"):
        with open(os.path.join(SOURCE_DIR, "hamba", "control", path)) as f:
            names |= set(re.findall(r'"(hamba_\w+)"', f.read()))
    return names


def metrics_read(expr):
    """The hamba_ metric names an expression selects (not the recorded names, which hold a
    colon)."""
    return set(re.findall(r"(?<![\w:])(hamba_\w+)(?![\w:])", expr))


class RulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("promtool") is None:
            raise AssertionError("promtool missing (scripts/install-deps installs prometheus)")

    def test_promtool_accepts_the_rules(self):
        code, out = promtool("check", "rules", RULES)
        self.assertEqual(code, 0, out)
        self.assertIn(f"SUCCESS: {len(rules())} rules found", out)

    def test_alerts_fire_as_their_cases_say(self):
        code, out = promtool("test", "rules", os.path.basename(RULES_TEST),
                             cwd=os.path.dirname(RULES_TEST))
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS", out)

    def test_every_alert_has_a_case_and_reads_a_recorded_series(self):
        with open(RULES_TEST) as f:
            cases = f.read()
        recorded = {name for kind, name, _, _ in rules() if kind == "record"}
        alerts = [(name, expr) for kind, name, expr, _ in rules() if kind == "alert"]
        self.assertEqual({name for name, _ in alerts},
                         {"HambaServerDown", "HambaAllServersDown", "HambaQueueGrowing",
                          "HambaRefusalsRising"})
        queries = {q.where.split()[1]: q for q in rule_queries()}  # raises on another form
        for name, _ in alerts:
            with self.subTest(alert=name):
                self.assertRegex(cases, rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels",
                                 "no case where it fires")
                self.assertIn(queries[name].expr, recorded)

    def test_rules_read_only_metrics_hamba_serves(self):
        served = served_metrics()
        self.assertIn("hamba_server_up", served)
        for kind, name, expr, _ in rules():
            with self.subTest(rule=name):
                self.assertLessEqual(metrics_read(expr), served)

    def test_the_scrape_config_loads_the_rules(self):
        code, out = promtool("check", "config", SCRAPE_CONFIG)
        self.assertEqual(code, 0, out)
        self.assertIn(f"{os.path.relpath(RULES, os.path.dirname(SCRAPE_CONFIG))}", out)
        self.assertIn(f"SUCCESS: {len(rules())} rules found", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
