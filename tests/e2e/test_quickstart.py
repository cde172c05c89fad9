"""The README's Quick start: `scripts/up` brings the root docker-compose.yml up (DockerCoins with
hamba as `rng`), the web UI answers and mines, and `docker-compose down` is done in seconds with
nothing left; where no Docker can be had, `scripts/up` says so in one line and points to
scripts/run-local. On the same stack, a real Prometheus (Debian's, in a container on the stack's
network) scrapes hamba through examples/prometheus.yml and its rules: every query of the Grafana
dashboard and every rule returns series with the labels the panel or the alert names, no rule
fails to evaluate, and stopping rng1 fires HambaServerDown for it. Also:
every compose file of the repository is valid for the installed Compose, and the remote-Redis
ones refuse to start without the variables that say where Redis is."""

import glob
import os
import re
import shutil
import tempfile
import time
import unittest

from docker_e2e import (POLL, SOURCE_DIR, Container, Stack, assert_nothing_left, build_images,
                        http_get, log, main, require_docker, rng_hostname, run, wait_mining)
from harness import wait_until
from prometheus_support import (RULES, SCRAPE_CONFIG, PrometheusAPI, dashboard_queries,
                                rule_queries)

# Grafana's $__rate_interval is at least four scrape intervals; a minute covers every sample
# this short run has.
RATE_INTERVAL = "1m"


def prometheus_config(directory):
    """The test's copy of examples/prometheus.yml and its rules, in `directory` as in examples/:
    scraped and evaluated every second, and every alert's `for:` cut to 2 s, so that the run
    takes seconds. Nothing else changes."""
    with open(SCRAPE_CONFIG) as f:
        config = f.read()
    config, scrape = re.subn(r"(?m)^(  scrape_interval:) 5s$", r"\1 1s", config)
    config, evaluation = re.subn(r"(?m)^(  evaluation_interval:) 5s$", r"\1 1s", config)
    assert scrape == evaluation == 1, "examples/prometheus.yml changed its intervals' form"
    with open(os.path.join(directory, "prometheus.yml"), "w") as f:
        f.write(config)
    with open(RULES) as f:
        rules, cut = re.subn(r"(?m)^(\s+for:) \w+$", r"\1 2s", f.read())
    assert cut >= 4, "examples/prometheus/hamba-rules.yml changed its alerts' form"
    os.makedirs(os.path.join(directory, "prometheus"))
    with open(os.path.join(directory, "prometheus", os.path.basename(RULES)), "w") as f:
        f.write(rules)


class PrometheusContainer(Container):
    """Debian's Prometheus (the host's binary: it links nothing but libc) in a debian container
    on a compose project's network, its API published on 127.0.0.1."""

    def __init__(self, network, config_dir):
        binary = shutil.which("prometheus")
        if binary is None:
            raise AssertionError("prometheus missing (scripts/install-deps installs it)")
        super().__init__("debian:bookworm-slim", "/usr/bin/prometheus",
                         "--config.file=/etc/prometheus/prometheus.yml",
                         "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090",
                         docker_args=["--network", network, "-p", "127.0.0.1::9090",
                                      "-v", f"{os.path.realpath(binary)}:/usr/bin/prometheus:ro",
                                      "-v", f"{config_dir}:/etc/prometheus:ro",
                                      "--tmpfs", "/prometheus"])
        try:
            _, port = self.port(9090)
        except AssertionError:
            self.remove()  # the `with` never starts: nothing else would
            raise
        self.api = PrometheusAPI(f"http://127.0.0.1:{port}")


class QuickStartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()

    def test_compose_files_are_valid(self):
        files = ["docker-compose.yml"] + sorted(
            os.path.relpath(f, SOURCE_DIR) for f in glob.glob(os.path.join(SOURCE_DIR,
                                                                          "examples", "*.yml"))
            if not f.endswith("prometheus.yml"))
        self.assertGreaterEqual(len(files), 6)
        for f in files:
            with self.subTest(file=f):
                stack = Stack(f, "config", env={"REDIS_HOST": "172.17.0.1", "REDIS_PORT": "1234"})
                stack.cmd("config", "-q")
        for f in ("examples/extra-hosts.yml", "examples/ambassador.yml"):
            with self.subTest(file=f, variables="missing"):
                stack = Stack(f, "config")
                stack.env["REDIS_HOST"] = ""
                out = stack.cmd("config", "-q", check=False)
                self.assertNotEqual(out.returncode, 0)
                self.assertIn("REDIS_HOST", out.stderr)

    def test_root_compose_file_runs_dockercoins_with_hamba(self):
        build_images()
        with Stack("docker-compose.yml", "quickstart") as stack:
            # `-d`, as a compose user types it: docker-compose 1.29 would print its usage for a
            # doubled -d and start nothing, and scripts/up must not then say it is mining.
            up = run([os.path.join(SOURCE_DIR, "scripts", "up"), "-d"], timeout=900,
                     env={**stack.env, "COMPOSE_PROJECT_NAME": stack.project})
            self.assertIn("web UI on http://localhost:", up.stderr)
            wait_mining(stack.webui_port)
            status, body = http_get(f"http://127.0.0.1:{stack.webui_port}/")  # -> /index.html
            self.assertEqual(status, 200)
            self.assertIn(b"<html", body.lower())
            # rng published on its port is hamba in front of rng1..rng3.
            seen = wait_until(lambda: len({rng_hostname(stack.rng_port) for _ in range(30)}) == 3,
                              timeout=30, what="three rng behind hamba", **POLL)
            self.assertTrue(seen)
            self.check_prometheus(stack)
            stack.assert_down_is_prompt(self)

    def check_prometheus(self, stack):
        with tempfile.TemporaryDirectory() as config_dir:
            os.chmod(config_dir, 0o755)
            prometheus_config(config_dir)
            with PrometheusContainer(f"{stack.project}_default", config_dir) as prometheus:
                api = prometheus.api
                hamba = wait_until(lambda: [t for t in api.targets() if t["labels"]["job"] ==
                                            "hamba" and t["health"] == "up"], timeout=30,
                                   what="Prometheus to scrape hamba", **POLL)
                self.assertEqual([t["labels"]["instance"] for t in hamba], ["rng:9000"])
                queries = dashboard_queries() + rule_queries()
                log(f"{len(queries)} queries of the dashboard and the rules")

                # Rates need two samples, deriv and the recorded series a round of rules.
                def empty():
                    return [q for q in queries if not api.query(q.promql(RATE_INTERVAL))]
                start = time.monotonic()
                try:
                    wait_until(lambda: not empty(), timeout=30, interval=1, retry_on=(OSError,),
                               what="every query to return series")
                except AssertionError:
                    raise AssertionError(f"queries with no series: {empty()}") from None
                log(f"every query returned series {time.monotonic() - start:.1f} s after "
                    f"the first scrape")
                for q in queries:
                    with self.subTest(query=q.where):
                        series = api.query(q.promql(RATE_INTERVAL))
                        self.assertTrue(series, f"{q}: no series")
                        self.assertEqual(q.missing_labels(series), [], q)
                        if "frontend" in q.labels:
                            self.assertEqual({s["metric"]["frontend"] for s in series}, {"80"})
                for group in api.rule_groups():
                    for rule in group["rules"]:
                        self.assertEqual(rule["health"], "ok", rule)

                # A server stopped: its checks fail, hamba takes it down, the alert fires.
                self.assertEqual([a for a in api.alerts() if a["state"] == "firing"], [])
                stack.cmd("stop", "-t", "1", "rng1")
                start = time.monotonic()
                alert = wait_until(lambda: [a for a in api.alerts() if a["state"] == "firing"],
                                   timeout=60, what="an alert to fire with rng1 stopped",
                                   **POLL)
                log(f"{alert[0]['labels']['alertname']} fired {time.monotonic() - start:.1f} s "
                    f"after rng1 stopped")
                self.assertEqual(len(alert), 1, alert)
                self.assertEqual(alert[0]["labels"]["alertname"], "HambaServerDown")
                self.assertEqual(alert[0]["labels"]["server"], "rng1:80")
                self.assertIn("server rng1:80", alert[0]["annotations"]["summary"])

    def test_up_without_docker_says_so_in_one_line(self):
        # As an unprivileged user with no engine answering: nothing can be installed or started.
        out = run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                   os.path.join(SOURCE_DIR, "scripts", "up")], check=False, quiet=True,
                  env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assertEqual(out.returncode, 1)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
        self.assertIn("scripts/run-local", out.stderr)
        self.assertNotIn("Traceback", out.stdout + out.stderr)



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
