"""The stats page's live chart in headless Chromium (Debian's chromium): while clients connect
through hamba at a steady pace, the page (which reloads itself every 2 s) draws one line of
connections per second per server and shows each server's latest rate. The page fetches nothing
(the chart is inline SVG and script). The screenshot is kept as a test artifact
(hamba-stats-chart.png)."""

import re
import threading
import time
import unittest

from hamba_helpers import TaggedEcho
from harness import Hamba, artifact_path, free_port, wait_port, wait_until
from runtime_support import exchange
from test_dockercoins_page import Chromium, PageError


class StatsChartTest(unittest.TestCase):
    def test_connections_per_second_per_server(self):
        port, admin = free_port(), free_port()
        stop = threading.Event()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, \
                Hamba(f"127.0.0.1:{port}", a.address(), b.address(), ports=[port],
                      env={"ADMIN": f"127.0.0.1:{admin}"}), Chromium() as browser:
            wait_port(admin)

            def clients():  # about 20 connections a second, for 60 s at most
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    exchange(port, b"x")
                    time.sleep(0.05)

            load = threading.Thread(target=clients)
            load.start()
            try:
                browser.open(f"http://127.0.0.1:{admin}/")

                def drawn():
                    state = browser.evaluate(
                        "(() => { const c = document.getElementById('rate-chart');"
                        " return c && {points: Number(c.dataset.points),"
                        " lines: c.querySelectorAll('polyline.rate').length,"
                        " legend: document.getElementById('rate-legend').textContent,"
                        " scripts: document.querySelectorAll('script[src]').length}; })()")
                    return state and state["points"] >= 3 and state
                state = wait_until(drawn, timeout=40, what="three rates drawn", retry_on=PageError)
            finally:
                stop.set()
                load.join()
            browser.screenshot(artifact_path("hamba-stats-chart.png"))
            self.assertEqual(state["lines"], 2, state)
            self.assertEqual(state["scripts"], 0, "the page loads a script from elsewhere")
            rates = {name: float(rate) for name, rate in
                     re.findall(r"(\S+): (\d+\.\d)/s", state["legend"])}
            self.assertEqual(set(rates), {a.address(), b.address()}, state)
            # Round robin: each server gets about half of the ~20 connections a second.
            for rate in rates.values():
                self.assertGreater(rate, 2, state)


if __name__ == "__main__":
    unittest.main()
