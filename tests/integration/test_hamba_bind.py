"""A bare PORT listens on every address, IPv6 included (the original's `*:PORT`): reachable via
127.0.0.1 and via [::1], and the log says which socket it bound."""

import socket
import unittest

from harness import read_all
from hamba_helpers import TagServer, start_hamba


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class BarePort(unittest.TestCase):
    def test_bare_port_is_reachable_over_ipv4_and_ipv6(self):
        with TagServer("a") as a:
            hamba, port = start_hamba([f"127.0.0.1:{a.port}"], "--check-interval", "1h")
            with hamba:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    self.assertEqual(read_all(c), b"a", hamba.log())
                if not have_ipv6_loopback():
                    # IPv6 sockets may still exist without a ::1 (Docker containers): then [::]
                    # binds and serves IPv4 too; without IPv6 at all, hamba falls back to 0.0.0.0.
                    self.assertTrue(f"listening on [::]:{port} " in hamba.log() or
                                    f"listening on 0.0.0.0:{port} " in hamba.log(), hamba.log())
                    self.skipTest("no IPv6 loopback on this machine")
                self.assertIn(f"listening on [::]:{port} ", hamba.log())
                with socket.create_connection(("::1", port), timeout=10) as c:
                    self.assertEqual(read_all(c), b"a", hamba.log())
                self.assertEqual(hamba.stop(), 0, hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
