"""The Grafana dashboard and the Prometheus rules of examples/, read as the tests need them, and a
small client of Prometheus's HTTP API (stdlib only).

    from prometheus_support import dashboard_queries, rule_queries, PrometheusAPI
    for query in dashboard_queries() + rule_queries():
        series = api.query(query.promql(rate_interval="1m"))
        missing = query.missing_labels(series)   # labels the panel shows that a series lacks

The rules file is YAML, which the standard library cannot read; `promtool check rules` reads it
properly, and `rules()` below takes the few keys it needs from the file's fixed layout (a list
of `- record:`/`- alert:` entries, each with an `expr:` on one line or folded below it).
"""

import json
import os
import re
import urllib.parse
import urllib.request

from harness import SOURCE_DIR

DASHBOARD = os.path.join(SOURCE_DIR, "examples", "grafana", "hamba-dashboard.json")
RULES = os.path.join(SOURCE_DIR, "examples", "prometheus", "hamba-rules.yml")
SCRAPE_CONFIG = os.path.join(SOURCE_DIR, "examples", "prometheus.yml")

# An alert's expression: a recorded series compared with a number.
ALERT_FORM = re.compile(r"^(?P<series>.+?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<threshold>[0-9.e+-]+)$")


class Query:
    """One PromQL expression of the dashboard or the rules, and the labels its user shows."""

    def __init__(self, where, expr, labels):
        self.where = where  # "panel 'Queue' target B", "rule instance_frontend:..."
        self.expr = expr
        self.labels = labels  # every series it returns must carry these

    def promql(self, rate_interval):
        """The expression as Grafana sends it with every variable at "All": the dashboard sets
        allValue ".*", so `frontend=~"$frontend"` is `frontend=~".*"`."""
        text = self.expr.replace("$__rate_interval", rate_interval)
        return re.sub(r"\$\{?(\w+)\}?", ".*", text)

    def missing_labels(self, series):
        """[(series' labels, the labels it lacks)] for the series that lack one."""
        return [(s["metric"], sorted(self.labels - s["metric"].keys())) for s in series
                if self.labels - s["metric"].keys()]

    def __repr__(self):
        return f"{self.where}: {self.expr}"


def load_dashboard(path=DASHBOARD):
    with open(path) as f:
        return json.load(f)


def panels(dashboard):
    """Every panel, those inside collapsed rows too; rows themselves left out."""
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def legend_labels(legend_format):
    """The labels a legend names: `{{frontend}}: {{server}}` -> {"frontend", "server"}."""
    return set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend_format or ""))


def dashboard_queries(dashboard=None):
    dashboard = dashboard or load_dashboard()
    return [Query(f"panel {panel['title']!r} target {target['refId']}", target["expr"],
                  legend_labels(target.get("legendFormat")))
            for panel in panels(dashboard) for target in panel["targets"]]


def rules(path=RULES):
    """[(kind, name, expr, labels in its annotations)] of every rule, kind "record" or "alert"."""
    with open(path) as f:
        lines = f.read().splitlines()
    found = []
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*- (record|alert): (\S+)$", lines[i])
        i += 1
        if not m:
            continue
        kind, name = m.groups()
        expr_line = lines[i]
        i += 1
        expr = expr_line.split("expr:", 1)[1].strip()
        if expr in (">", "|"):  # folded below, indented deeper than `expr:`
            indent = len(expr_line) - len(expr_line.lstrip())
            body = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i].strip())
                i += 1
            expr = " ".join(filter(None, body))
        annotations = []
        while i < len(lines) and not re.match(r"^\s*- (record|alert):", lines[i]):
            annotations.append(lines[i])
            i += 1
        # `{{ $labels.x }}` needs x; `{{ with $labels.x }}...{{ end }}` copes without it.
        labels = set(re.findall(r"\{\{\s*\$labels\.(\w+)\s*\}\}", "\n".join(annotations)))
        found.append((kind, name, expr, labels))
    return found


def rule_queries(path=RULES):
    """Every recording rule's expression, and every alert's recorded series (the part before its
    threshold, which exists whether or not the alert fires), with the labels its annotations
    name. An alert not of the form `SERIES OP NUMBER` raises ValueError."""
    queries = []
    for kind, name, expr, labels in rules(path):
        if kind == "record":
            queries.append(Query(f"rule {name}", expr, set()))
            continue
        m = ALERT_FORM.match(expr)
        if not m:
            raise ValueError(f"alert {name}: {expr!r} is not `SERIES OP NUMBER`")
        queries.append(Query(f"alert {name}", m["series"], labels))
    return queries


class PrometheusAPI:
    """Prometheus's HTTP API at a base URL (http://127.0.0.1:9090)."""

    def __init__(self, base):
        self.base = base.rstrip("/")

    def get(self, path, **params):
        url = f"{self.base}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise AssertionError(f"{url}: {body}")
        return body["data"]

    def query(self, promql):
        """The instant vector of an expression now; an error of Prometheus raises."""
        data = self.get("/api/v1/query", query=promql)
        if data["resultType"] != "vector":
            raise AssertionError(f"{promql}: a {data['resultType']}, not an instant vector")
        return data["result"]

    def targets(self):
        return self.get("/api/v1/targets")["activeTargets"]

    def alerts(self):
        return self.get("/api/v1/alerts")["alerts"]

    def rule_groups(self):
        return self.get("/api/v1/rules")["groups"]
