"""hamba's /metrics as Prometheus itself reads it: `promtool check metrics` (Debian's prometheus
package) finds no problem in the page of a hamba with two frontends, with servers up and down
and traffic counted (the DockerCoins services have no metrics page). And examples/prometheus.yml,
which scrapes hamba in the stacks, is a valid Prometheus configuration (`promtool check
config`)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from hamba_helpers import TaggedEcho
from harness import Hamba, free_port, http_request, wait_port, wait_until
from runtime_support import exchange


def promtool_check(text):
    """(exit status, promtool's complaints) for a metrics page."""
    proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


class PromtoolTest(unittest.TestCase):
    def test_metrics_of_two_frontends_pass_promtool(self):
        self.assertIsNotNone(shutil.which("promtool"),
                             "promtool missing (scripts/install-deps installs prometheus)")
        web, cache, admin = free_port(), free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, \
                tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
            config.write(f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: web
    bind: "127.0.0.1:{web}"
    servers:
      - address: "{a.address()}"
      - address: "{b.address()}"
  - name: cache
    bind: "127.0.0.1:{cache}"
    check: {{interval: 200ms}}
    servers:
      - address: "{b.address()}"
      - address: "127.0.0.1:1"
""")
            config.flush()
            with Hamba("run", "--config", config.name, ports=[web]):
                wait_port(admin)
                for port in (web, web, cache):
                    self.assertTrue(exchange(port, b"counted")[1])

                def page():
                    status, _, body = http_request(admin, "GET", "/metrics", timeout=10)
                    text = body.decode()
                    # Wait for the refused server to be checked down: both states on the page.
                    return status == 200 and 'hamba_server_up{frontend="cache"' in text and \
                        " 0\n" in text and text

                text = wait_until(page, what="a page with a server down")
                self.assertIn('frontend="web"', text)
                code, complaints = promtool_check(text)
                self.assertEqual(code, 0, f"promtool: {complaints}\n{text}")
                self.assertEqual(complaints, "", text)

                # The check can fail: a counter without _total is one of its complaints.
                bad = text.replace("hamba_frontend_connections_total", "hamba_frontend_conns")
                self.assertNotEqual(promtool_check(bad), (0, ""))

    def test_example_scrape_config_is_valid(self):
        path = os.path.join(os.environ["HAMBA_SOURCE_DIR"], "examples", "prometheus.yml")
        proc = subprocess.run(["promtool", "check", "config", path], capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("SUCCESS", proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
