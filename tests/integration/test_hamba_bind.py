"""The listening sockets: a bare PORT listens on every address, IPv6 included (the original's
`*:PORT`): reachable via 127.0.0.1 and via [::1], and the log says which socket it bound. A
reconfigure that names the same socket another way keeps it."""

import socket
import unittest

from hamba_helpers import TagServer, greeting
from harness import Hamba, assert_stops_cleanly, free_port, read_all, start_hamba


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


class SameSocketOtherSpelling(unittest.TestCase):
    """`hamba PORT ...` listens on ":PORT" (every IPv4 address); a YAML file that says
    "0.0.0.0:PORT" names that same socket, so a reconfigure keeps the listener (binding it anew
    would fail with EADDRINUSE and refuse the reconfigure)."""

    def test_yaml_0_0_0_0_keeps_the_command_line_listener(self):
        port = free_port()
        with TagServer("a") as a, TagServer("b") as b:
            with Hamba("--check-interval", "1h", port, a.address(), ports=[port]) as hamba:
                self.assertEqual(greeting(port), b"a")
                hamba.write_config(f'frontends:\n  - bind: "0.0.0.0:{port}"\n'
                                   f'    check: false\n    servers: ["{b.address()}"]\n')
                r = hamba.ctl("reconfigure", "--config", hamba.config)
                self.assertEqual(r.returncode, 0, r.stderr + hamba.log())
                self.assertEqual({greeting(port) for _ in range(4)}, {b"b"}, hamba.log())
                assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main(verbosity=2)
