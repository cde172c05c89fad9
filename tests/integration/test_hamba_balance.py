"""hamba balancing with real sockets: strict round robin, failover past a dead backend, a
backend name that does not resolve at start, leastconn, and the per-server queue."""

import socket
import time
import unittest

from hamba_helpers import SlowServer, TagServer, stats_json
from harness import free_port, probe_done, read_all, start_hamba, wait_port, wait_until


def fetch(port, timeout=10.0):
    """One connection through hamba: what the backend sent before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        return read_all(c).decode()


class Balance(unittest.TestCase):
    def test_round_robin_is_exact(self):
        with TagServer("a") as a, TagServer("b") as b, TagServer("c") as c:
            admin = free_port()
            hamba, port = start_hamba([f"127.0.0.1:{a.port}", "127.0.0.1", b.port,
                                       f"127.0.0.1:{c.port}"], env={"ADMIN": f"127.0.0.1:{admin}"})
            with hamba:
                # wait_port's probe connection took one turn; start counting once hamba has
                # taken and ended it (a worker may accept it a moment after the port answered,
                # and then it would take a turn in the middle of the count).
                wait_port(admin)
                wait_until(lambda: probe_done(admin), what="the probe connection ended")
                counts = {"a": 0, "b": 0, "c": 0}
                for _ in range(30):
                    counts[fetch(port)] += 1
                self.assertEqual(counts, {"a": 10, "b": 10, "c": 10}, hamba.log())
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())

    def test_failover_dead_backend_costs_nothing(self):
        dead = free_port()  # nothing listens there
        with TagServer("a") as a, TagServer("b") as b:
            hamba, port = start_hamba([f"127.0.0.1:{a.port}", f"127.0.0.1:{dead}",
                                       f"127.0.0.1:{b.port}"])
            with hamba:
                errors = 0
                got = {}
                for _ in range(100):
                    try:
                        tag = fetch(port)
                        got[tag] = got.get(tag, 0) + 1
                        if tag not in ("a", "b"):
                            errors += 1
                    except OSError:
                        errors += 1
                self.assertEqual(errors, 0, hamba.log())
                self.assertEqual(sum(got.values()), 100)
                self.assertGreater(got.get("a", 0), 30)
                self.assertGreater(got.get("b", 0), 30)
                # The health check takes the dead one out, and says so.
                wait_until(lambda: "is DOWN" in hamba.log(), timeout=15, what="DOWN logged")
                self.assertIn(f"127.0.0.1:{dead}", hamba.log())
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())

    def test_all_backends_dead_client_closed_not_hung(self):
        dead = free_port()
        hamba, port = start_hamba([f"127.0.0.1:{dead}"])
        with hamba:
            start = time.monotonic()
            self.assertEqual(fetch(port), "")  # closed by hamba after its retries
            self.assertLess(time.monotonic() - start, 5)
            wait_until(lambda: "no server reached after 4 attempt(s)" in hamba.log(), timeout=5,
                       what="give-up logged")

    def test_unresolvable_name_does_not_stop_startup(self):
        with TagServer("a") as a:
            hamba, port = start_hamba(["no-such-host.invalid:80", f"127.0.0.1:{a.port}"],
                                      "--resolve-interval", "200ms")
            with hamba:
                for _ in range(10):
                    self.assertEqual(fetch(port), "a")
                self.assertTrue(hamba.running())
                # The lookup runs in the background: its failure is logged when it comes.
                wait_until(lambda: "no-such-host.invalid:80 does not resolve" in hamba.log(),
                           timeout=20, what="resolution failure logged")
                self.assertIn("counted as down", hamba.log())

    def test_leastconn_prefers_the_least_loaded_backend(self):
        # Each backend keeps its connections open and names itself every 50 ms.
        with SlowServer(b"A", 0.05) as a, SlowServer(b"B", 0.05) as b:
            admin = free_port()
            hamba, port = start_hamba([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"],
                                      "--balance", "leastconn", "--check-interval", "1h",
                                      env={"ADMIN": f"127.0.0.1:{admin}"})

            def current(server):
                return next(s["current"] for s in stats_json(admin)["frontends"][0]["servers"]
                            if s["address"] == f"127.0.0.1:{server.port}")

            with hamba:
                # leastconn counts hamba's own sessions, which end a moment after the server
                # sees the close: wait until hamba has ended wait_port's probe.
                wait_port(admin)
                wait_until(lambda: probe_done(admin), what="the probe connection ended")

                def connect():
                    c = socket.create_connection(("127.0.0.1", port), timeout=5)
                    return c.recv(1).decode(), c

                held = [connect() for _ in range(4)]
                try:
                    self.assertEqual(sorted(name for name, _ in held), ["A", "A", "B", "B"])
                    # Free A completely: B keeps 2, so the next two both go to A (round robin
                    # would alternate).
                    for name, c in held:
                        if name == "A":
                            c.close()
                    held = [(n, c) for n, c in held if n == "B"]
                    wait_until(lambda: a.active == 0 and current(a) == 0,
                               what="A idle, in hamba's count too")
                    more = [connect() for _ in range(2)]
                    held += more
                    self.assertEqual([name for name, _ in more], ["A", "A"], hamba.log())
                finally:
                    for _, c in held:
                        c.close()

    def test_server_maxconn_queues_instead_of_refusing(self):
        with SlowServer() as slow:
            hamba, port = start_hamba([f"127.0.0.1:{slow.port}"], "--server-maxconn", "2")
            with hamba:
                wait_until(lambda: slow.active == 0, what="probes done")
                held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
                try:
                    wait_until(lambda: slow.active >= 2, what="two connected")
                    time.sleep(0.5)
                    # (a health check may add a short-lived connection: allow for it)
                    self.assertLessEqual(slow.active, 2 + 1)
                    wait_until(lambda: slow.active == 2, what="exactly two, third queued")
                    held[0].close()  # frees a slot: the queued client gets it
                    time.sleep(0.3)
                    wait_until(lambda: slow.active == 2, what="queued one connected")
                    held[1].sendall(b"ping")
                    self.assertTrue(hamba.running())
                    # The queued client is connected now: three different clients were served.
                    wait_until(lambda: slow.accepted >= 3, what="third accepted")
                finally:
                    for h in held:
                        h.close()
                self.assertTrue(hamba.running())
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
