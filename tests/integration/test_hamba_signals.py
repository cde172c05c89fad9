"""Signals during the grace period: SIGHUP is logged and ignored (the reload handler is gone by
then, and SIGHUP's default action would end the process); a second SIGTERM or SIGINT resets the
connections still open at once and exits 0."""

import os
import shutil
import signal
import socket
import tempfile
import unittest

from hamba_helpers import SlowServer, stats_json
from harness import free_port, probe_done, start_hamba, wait_port, wait_until


class GraceSignals(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hamba-signals-")
        # Its own control socket: the control extension (and its SIGHUP handler) is running.
        # The admin listener tells when hamba holds no connection (see below).
        self.admin = free_port()
        self.env = {"HAMBA_CONTROL": os.path.join(self.dir, "ctl.sock"),
                    "HAMBA_ADMIN": f"127.0.0.1:{self.admin}"}

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def stopping_with_one_connection(self, slow, hamba, port):
        """Opens a connection through hamba, sends SIGTERM, returns the client socket once the
        stop has begun."""
        wait_until(lambda: os.path.exists(self.env["HAMBA_CONTROL"]), what="control socket")
        wait_port(self.admin)
        # start_hamba's readiness probe was a connection through hamba too: it must be gone
        # before ours, or the stop counts two (the server may have seen its EOF while hamba has
        # not yet seen the server's).
        current = lambda: stats_json(self.admin)["frontends"][0]["current"]
        wait_until(lambda: probe_done(self.admin) and slow.active == 0, what="probes done")
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        wait_until(lambda: slow.active == 1 and current() == 1, what="connected through")
        hamba.signal(signal.SIGTERM)
        wait_until(lambda: "shutting down: 1 connection(s)" in hamba.log(), what="stop logged")
        return c

    def test_sighup_during_grace_is_ignored(self):
        with SlowServer() as slow:
            hamba, port = start_hamba([f"127.0.0.1:{slow.port}"], "--grace", "60s",
                                      "--check-interval", "1h", env=self.env)
            with hamba:
                c = self.stopping_with_one_connection(slow, hamba, port)
                with c:
                    hamba.signal(signal.SIGHUP)
                    wait_until(lambda: "SIGHUP: ignored" in hamba.log() or not hamba.running(),
                               what="SIGHUP logged")
                    self.assertTrue(hamba.running(), hamba.log())
                    self.assertIn("SIGHUP: ignored", hamba.log())
                    self.assertEqual(slow.active, 1, "the connection was closed")
                # The client leaves: the graceful stop completes as usual.
                self.assertEqual(hamba.wait(timeout=10), 0, hamba.log())
                self.assertIn("all connections closed", hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())

    def test_second_stop_signal_ends_the_grace_at_once(self):
        for second in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(second=second.name), SlowServer() as slow:
                hamba, port = start_hamba([f"127.0.0.1:{slow.port}"], "--grace", "60s",
                                          "--check-interval", "1h", env=self.env)
                with hamba:
                    c = self.stopping_with_one_connection(slow, hamba, port)
                    with c:
                        hamba.signal(second)
                        # Far less than the 60 s grace: the second signal ended it.
                        self.assertEqual(hamba.wait(timeout=10), 0, hamba.log())
                        self.assertIn(f"{second.name} again: closing 1 connection(s) now",
                                      hamba.log())
                        # Cut by hamba: a reset, not an EOF the client could take for the end.
                        with self.assertRaises(ConnectionResetError):
                            c.recv(10)
                        self.assertNotIn("Sanitizer", hamba.log())
                        self.assertNotIn("runtime error", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
