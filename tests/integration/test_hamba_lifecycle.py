"""hamba's life: SIGTERM drains a transfer in flight and exits 0 well before docker's 10 s kill,
the grace period bounds the wait, `run` with no config keeps running, and above the global
maxconn new connections wait in the accept queue instead of being refused."""

import hashlib
import signal
import socket
import time
import unittest

from hamba_helpers import Backend, SlowServer
from harness import Process, bin_path, read_all, start_hamba, wait_until


class Lifecycle(unittest.TestCase):
    def test_sigterm_lets_a_transfer_in_flight_finish(self):
        # A backend that sends 8 MiB slowly (about 2 s): SIGTERM arrives in the middle.
        size = 8 << 20
        payload = hashlib.sha256(b"x").digest() * (size // 32)

        def trickle(conn):
            conn.settimeout(0.2)
            try:
                if conn.recv(1) == b"":
                    return  # a probe
            except socket.timeout:
                pass
            for i in range(0, size, 256 << 10):
                conn.sendall(payload[i:i + (256 << 10)])
                time.sleep(0.06)

        with Backend(trickle) as srv:
            p, port = start_hamba([f"127.0.0.1:{srv.port}"])
            with p:
                c = socket.create_connection(("127.0.0.1", port), timeout=15)
                got = bytearray()
                first = c.recv(1 << 16)
                got += first
                start = time.monotonic()
                p.signal(signal.SIGTERM)
                # New connections are refused once the listeners are closed, which hamba logs
                # as "shutting down" ("stopping" comes before, when the signal is taken).
                wait_until(lambda: "shutting down" in p.log(), timeout=5, what="stop logged")
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                got += read_all(c)
                c.close()
                self.assertEqual(len(got), size)
                self.assertEqual(bytes(got), payload)
                self.assertEqual(p.wait(timeout=10), 0, p.log())
                self.assertLess(time.monotonic() - start, 5.5)
                self.assertIn("shutting down: 1 connection(s)", p.log())

    def test_grace_period_bounds_the_wait(self):
        with SlowServer() as slow:
            p, port = start_hamba([f"127.0.0.1:{slow.port}"], "--grace", "1s")
            with p:
                idle = socket.create_connection(("127.0.0.1", port))
                wait_until(lambda: slow.active >= 1, what="connected through")
                start = time.monotonic()
                p.signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0, p.log())
                elapsed = time.monotonic() - start
                self.assertGreater(elapsed, 0.8)
                self.assertLess(elapsed, 4)
                self.assertIn("grace period over", p.log())
                idle.close()

    def test_sigint_with_nothing_open_exits_at_once(self):
        p, port = start_hamba(["127.0.0.1:9"])
        with p:
            start = time.monotonic()
            p.signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=10), 0)
            self.assertLess(time.monotonic() - start, 2)

    def test_run_without_config_keeps_running(self):
        with Process([bin_path("hamba"), "run"]) as p:
            time.sleep(1.0)
            self.assertTrue(p.running(), p.log())
            self.assertIn("no frontend", p.log())
            p.signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=10), 0)

    def test_above_maxconn_connections_wait_not_refused(self):
        with SlowServer() as slow:
            p, port = start_hamba([f"127.0.0.1:{slow.port}"],
                                  "--maxconn", "2", "--check-interval", "1h")
            with p:
                wait_until(lambda: slow.active == 0, what="probe done")
                held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
                try:
                    wait_until(lambda: slow.active == 2, what="two through")
                    # The third connects (kernel accept queue) but hamba does not take it yet.
                    third = socket.create_connection(("127.0.0.1", port), timeout=5)
                    held.append(third)
                    time.sleep(0.5)
                    self.assertEqual(slow.active, 2)
                    held[0].close()
                    wait_until(lambda: slow.accepted >= 3 and slow.active == 2, timeout=5,
                               what="third taken once a slot is free")
                    self.assertTrue(p.running())
                finally:
                    for h in held:
                        h.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
