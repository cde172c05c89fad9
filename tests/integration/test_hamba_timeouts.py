"""hamba's timeouts: an idle connection is closed after the idle timeout, and a backend that
does not answer a connect within the connect timeout is given up on (and retried elsewhere)."""

import socket
import time
import unittest

from hamba_helpers import SlowServer, TagServer
from harness import start_hamba, wait_until


def black_hole():
    """A listening socket whose accept queue is full: further SYNs are dropped, so connects to
    it hang (a backend that does not answer)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    fillers = []
    for _ in range(4):  # fill the queue (backlog 0 still takes one or two)
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(srv.getsockname())
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
    return srv, fillers


class Timeouts(unittest.TestCase):
    def test_idle_connection_is_closed(self):
        with SlowServer() as slow:
            p, port = start_hamba([f"127.0.0.1:{slow.port}"], "--idle-timeout", "600ms")
            with p:
                c = socket.create_connection(("127.0.0.1", port), timeout=10)
                start = time.monotonic()
                self.assertEqual(c.recv(10), b"")  # closed by hamba
                elapsed = time.monotonic() - start
                self.assertGreater(elapsed, 0.5)
                self.assertLess(elapsed, 3)
                c.close()
                self.assertTrue(p.running())

    def test_connect_timeout_then_next_server(self):
        srv, fillers = black_hole()
        with srv, TagServer("ok") as good:
            p, port = start_hamba([f"127.0.0.1:{srv.getsockname()[1]}",
                                   f"127.0.0.1:{good.port}"],
                                  "--connect-timeout", "300ms", "--check-interval", "1h")
            with p:
                # Whichever server each connection tries first, every client gets "ok".
                for _ in range(4):
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                        self.assertEqual(c.recv(10), b"ok", p.log())
                wait_until(lambda: "connect timeout" in p.log(), timeout=5,
                           what="timeout logged")
        for f in fillers:
            f.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
