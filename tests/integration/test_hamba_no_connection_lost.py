"""No client the kernel has accepted for hamba is lost when a listener closes: on SIGTERM and
when a reconfigure removes a frontend, hamba first accepts what waits in the listener's accept
queue (closing a listening socket resets those connections), then closes it. Clients connect in
tight loops meanwhile; a connection that was established but got no answer is a failure, one
refused because nothing listens any more is not. A global maxconn of 2 and a server that takes
20 ms keep clients waiting in the accept queue, as a loaded hamba has them."""

import os
import signal
import socket
import tempfile
import threading
import time
import unittest

from hamba_helpers import Backend
from harness import Hamba, free_port, start_hamba, write_file

LOOPS = 8  # client threads: enough that the accept queue is rarely empty when it closes


class Clients:
    """LOOPS threads connecting to `port` in a tight loop, each expecting b"a" then EOF, until
    stop() or until `stop_when_refused` and a connect is refused; bounded in count and time."""

    def __init__(self, port, stop_when_refused, max_seconds=30.0, max_each=20000):
        self.port = port
        self.ok = self.refused = 0
        self.failures = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._loop, args=(stop_when_refused, max_each),
                                          daemon=True) for _ in range(LOOPS)]
        for t in self._threads:
            t.start()

    def _loop(self, stop_when_refused, max_each):
        for _ in range(max_each):
            if self._stop.is_set() or time.monotonic() > self._deadline:
                return
            try:
                c = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            except ConnectionRefusedError:
                with self._lock:
                    self.refused += 1
                if stop_when_refused:
                    return
                time.sleep(0.001)
                continue
            try:
                with c:
                    data = b""
                    while True:
                        chunk = c.recv(16)
                        if not chunk:
                            break
                        data += chunk
                result = None if data == b"a" else f"established, then got {data!r}"
            except OSError as e:
                result = f"established, then {e!r}"
            with self._lock:
                if result:
                    self.failures.append(result)
                else:
                    self.ok += 1

    def stop(self):
        self._stop.set()
        self.join()

    def join(self):
        for t in self._threads:
            t.join(timeout=40)


def slow_tag(conn):
    time.sleep(0.02)
    conn.sendall(b"a")


class NoConnectionLost(unittest.TestCase):
    def test_sigterm_serves_what_was_accepted(self):
        with Backend(slow_tag) as a:
            for _ in range(3):
                hamba, port = start_hamba([a.address()], "--check-interval", "1h",
                                          "--grace", "10s", "--maxconn", "2")
                with hamba:
                    clients = Clients(port, stop_when_refused=True)
                    time.sleep(0.3)
                    hamba.signal(signal.SIGTERM)
                    clients.join()
                    self.assertEqual(hamba.wait(timeout=15), 0, hamba.log())
                    self.assertEqual(clients.failures, [], hamba.log()[-2000:])
                    self.assertGreater(clients.ok, 0)
                    self.assertNotIn("Sanitizer", hamba.log())

    def test_reconfigure_removing_and_adding_a_frontend(self):
        kept, moving = free_port(), free_port()
        with Backend(slow_tag) as a, tempfile.TemporaryDirectory() as d:

            def config(with_moving):
                text = (f'maxconn: 2\nfrontends:\n  - bind: "127.0.0.1:{kept}"\n    check: false\n'
                        f'    servers: ["{a.address()}"]\n')
                if with_moving:
                    text += (f'  - bind: "127.0.0.1:{moving}"\n    check: false\n'
                             f'    servers: ["{a.address()}"]\n')
                return write_file(os.path.join(d, "hamba.yaml"), text)

            with Hamba("--config", config(True), ports=[kept, moving]) as hamba:
                on_kept = Clients(kept, stop_when_refused=False)
                on_moving = Clients(moving, stop_when_refused=False)
                for i in range(8):
                    time.sleep(0.15)
                    r = hamba.ctl("reconfigure", "--config", config(i % 2 == 1))
                    self.assertEqual(r.returncode, 0, r.stderr)
                time.sleep(0.15)
                on_kept.stop()
                on_moving.stop()
                self.assertEqual(on_kept.failures, [], hamba.log()[-2000:])
                # A handshake that completes in the instant between a socket's last accept and
                # its close is reset with it: the kernel has no way to stop new handshakes on
                # one SO_REUSEPORT socket short of a BPF program (engine/workers.md). Rare (none
                # in most runs, 3 once in a loaded CI run): a few are allowed, fewer than one per
                # removal. Without the drain this test loses 29-31 clients. Under a sanitizer the
                # window is several times wider (5 once under ThreadSanitizer with the rest of
                # the suite beside it): fewer than two per removal there.
                resets = [f for f in on_moving.failures if "ConnectionResetError" in f]
                self.assertEqual(on_moving.failures, resets, hamba.log()[-2000:])
                allowed = 8 if os.environ.get("HAMBA_SANITIZE", "OFF") not in ("", "OFF") else 4
                self.assertLess(len(resets), allowed, hamba.log()[-2000:])
                self.assertEqual(on_kept.refused, 0)
                self.assertGreater(on_kept.ok, 0)
                self.assertGreater(on_moving.ok, 0)
                self.assertGreater(on_moving.refused, 0, "the frontend was never removed")
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
