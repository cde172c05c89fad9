"""hamba with two worker loops: connections spread over both, and what must be exact over the
whole frontend stays exact whichever worker accepts a connection: strict round robin, a
server's maxconn with its queue, leastconn; /stats.json and /metrics count every worker."""

import json
import socket
import threading
import time
import unittest

from hamba_helpers import SlowServer, TagServer
from harness import (free_port, http_request, probe_done, read_all, start_hamba, wait_port,
                     wait_until)


def fetch(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        return read_all(c).decode()


def stats(admin):
    return json.loads(http_request(admin, "GET", "/stats.json")[2])


def idle(admin):
    """wait_port's probe taken and ended, and no session open in hamba, by its own counts (a
    backend sees a probe end a moment before hamba does)."""
    return probe_done(admin) and all(s["current"] == 0
                                     for s in stats(admin)["frontends"][0]["servers"])


def in_parallel(clients, each, work):
    """`clients` threads, each calling work() `each` times; the results, in no order."""
    results, lock = [], threading.Lock()

    def run():
        for _ in range(each):
            r = work()
            with lock:
                results.append(r)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


class Workers(unittest.TestCase):
    def start(self, servers, *options):
        admin = free_port()
        hamba, port = start_hamba(servers, "--threads", "2", "--check-interval", "1h",
                                  *options, env={"ADMIN": f"127.0.0.1:{admin}"})
        wait_port(admin)
        return hamba, port, admin

    def test_round_robin_is_strict_over_both_workers(self):
        with TagServer("a") as a, TagServer("b") as b, TagServer("c") as c:
            hamba, port, admin = self.start([f"127.0.0.1:{s.port}" for s in (a, b, c)])
            with hamba:
                # start_hamba's probe took one turn: one more connection and the cycle is whole.
                wait_until(lambda: probe_done(admin), what="the probe connection ended")
                first = stats(admin)["frontends"][0]["total"]
                for _ in range(3 - first % 3):
                    fetch(port)
                # Many clients at once, so both workers accept (the kernel wakes both).
                tags = in_parallel(8, 30, lambda: fetch(port))
                counts = {t: tags.count(t) for t in "abc"}
                self.assertEqual(counts, {"a": 80, "b": 80, "c": 80}, hamba.log())
                s = stats(admin)
                self.assertEqual(len(s["workers"]), 2, s)
                accepted = [w["accepted"] for w in s["workers"]]
                self.assertEqual(sum(accepted), s["frontends"][0]["total"], s)
                self.assertGreater(min(accepted), 0, f"one worker took every connection: {s}")
                metrics = http_request(admin, "GET", "/metrics")[2].decode()
                self.assertIn('hamba_worker_connections_total{worker="1"}', metrics)
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())

    def test_server_maxconn_holds_over_both_workers(self):
        with SlowServer() as slow:
            hamba, port, admin = self.start([f"127.0.0.1:{slow.port}"], "--server-maxconn", "3")
            with hamba:
                wait_until(lambda: slow.active == 0 and idle(admin), what="probe done")
                held = []
                try:
                    for _ in range(12):
                        held.append(socket.create_connection(("127.0.0.1", port)))
                    wait_until(lambda: stats(admin)["frontends"][0]["queued"] == 9,
                               what="three connected, nine queued")
                    s = stats(admin)
                    self.assertGreater(min(w["current"] for w in s["workers"]), 0,
                                       f"both workers hold clients: {s}")
                    self.assertEqual(s["frontends"][0]["servers"][0]["current"], 3, s)
                    # The server's own count catches up with hamba's; then a moment for a fourth
                    # to show, if hamba let one through.
                    wait_until(lambda: slow.active >= 3, what="three at the server")
                    time.sleep(0.3)
                    self.assertEqual(slow.active, 3)
                    # A client leaves (connected or queued) and each freed slot goes to a queued
                    # client, on whichever worker it waits, never a fourth at once.
                    for i in range(9):
                        held[i].close()
                        wait_until(lambda: stats(admin)["frontends"][0]["queued"] == 8 - i,
                                   what=f"queue at {8 - i}")
                        # hamba's count is exact; the backend may still count a connection
                        # hamba closed a moment ago.
                        self.assertLessEqual(
                            stats(admin)["frontends"][0]["servers"][0]["current"], 3)
                    # The last three hold the three slots.
                    wait_until(lambda: stats(admin)["frontends"][0]["current"] == 3 and
                               slow.active == 3, what="the last three connected")
                    self.assertEqual(stats(admin)["frontends"][0]["servers"][0]["current"], 3)
                finally:
                    for h in held:
                        h.close()
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())

    def test_leastconn_counts_every_workers_sessions(self):
        with SlowServer() as x, SlowServer() as y:
            hamba, port, admin = self.start([f"127.0.0.1:{x.port}", f"127.0.0.1:{y.port}"],
                                            "--balance", "leastconn")
            with hamba:
                wait_until(lambda: x.active + y.active == 0 and idle(admin), what="probe done")
                held = []
                try:
                    for _ in range(20):
                        held.append(socket.create_connection(("127.0.0.1", port)))
                    wait_until(lambda: x.active + y.active == 20, what="all connected")
                    s = stats(admin)
                    self.assertGreater(min(w["current"] for w in s["workers"]), 0, s)
                    # Long sessions from both workers, balanced by the shared counts.
                    self.assertEqual((x.active, y.active), (10, 10), s)
                finally:
                    for h in held:
                        h.close()
                self.assertEqual(hamba.stop(), 0, hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
