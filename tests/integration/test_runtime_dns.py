"""DNS discovery through the real resolver path: hamba runs in its own mount namespace where
/etc/hosts is a file this test controls (bind-mounted over it), so getaddrinfo() answers what the
test writes. The backend name first resolves to 127.0.0.2; the test adds 127.0.0.3 (a server of
its own: connections reach both), then removes 127.0.0.2 (it drains: new connections reach
127.0.0.3 only, a connection already open on 127.0.0.2 finishes), with no restart and no
reconfigure. With checks off, an address that leaves DNS and comes back gets no health check.
"""

import socket
import time
import unittest

from hamba_helpers import TaggedEcho, connect
from harness import Hamba, assert_stops_cleanly, free_port, send_and_read_all, wait_until
from runtime_support import HostsNamespaceTest, exchange


def tags_seen(port, n=8):
    return {exchange(port, b"dns")[0] for _ in range(n)}


class DnsDiscoveryTest(HostsNamespaceTest):
    NAME = "svc.hamba.test"

    def test_addresses_added_and_removed(self):
        backend_port = free_port("127.0.0.2")
        port = free_port()
        self.write_hosts("127.0.0.2")
        with TaggedEcho("two", host="127.0.0.2", port=backend_port) as two, \
                TaggedEcho("three", host="127.0.0.3", port=backend_port) as three, \
                Hamba("--resolve-interval", "200ms", "--check-interval", "500ms",
                      f"127.0.0.1:{port}", f"{self.NAME}:{backend_port}",
                      wrapper=self.namespace, ports=[port]) as h:
            self.assertEqual(tags_seen(port), {"two"})

            self.write_hosts("127.0.0.2", "127.0.0.3")
            wait_until(lambda: tags_seen(port) == {"two", "three"}, what="127.0.0.3 added")
            self.assertIn(f"127.0.0.3:{backend_port}", h.log())

            held = socket.create_connection(("127.0.0.1", port), timeout=10)
            while held.recv(4) != b"two\n":  # a connection open on 127.0.0.2
                held.close()
                held = socket.create_connection(("127.0.0.1", port), timeout=10)

            self.write_hosts("127.0.0.3")
            wait_until(lambda: tags_seen(port) == {"three"}, what="127.0.0.2 removed")
            self.assertIn("no longer in DNS", h.log())

            with held:
                self.assertEqual(send_and_read_all(held, b"still served by two"),
                                 b"still served by two")
            self.assertGreater(two.served, 0)
            self.assertGreater(three.served, 0)

            # And back: the vanished address returns as a server again.
            self.write_hosts("127.0.0.2", "127.0.0.3")
            wait_until(lambda: tags_seen(port) == {"two", "three"}, what="127.0.0.2 back")


class ChecksOffAfterDnsReturn(HostsNamespaceTest):
    """With `check: false`, an address that leaves DNS and comes back is not health-checked
    either: no probe connection reaches the server (a check could take it DOWN although checks
    are off)."""

    NAME = "unchecked.hamba.test"

    def test_no_probe_after_the_address_comes_back(self):
        backend_port = free_port("127.0.0.2")
        port = free_port()
        self.write_hosts("127.0.0.2")
        with TaggedEcho("two", host="127.0.0.2", port=backend_port) as two, \
                Hamba(config=f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: false\n'
                      f'    resolve_interval: 100ms\n    dns_hold: 0s\n'
                      f'    servers: ["{self.NAME}:{backend_port}"]\n',
                      wrapper=self.namespace) as h:
            # No `ports`: a readiness probe through hamba would reach the server without data,
            # and this test counts the server's connections (the listener is open before the
            # control socket that Hamba waits for).
            held = connect(port)
            self.assertEqual(held.recv(4), b"two\n")  # keeps the server while it is gone
            self.write_hosts()
            wait_until(lambda: "no longer in DNS" in h.log(), what="address gone")
            self.write_hosts("127.0.0.2")
            wait_until(lambda: "is back in DNS" in h.log(), what="address back")
            self.assertEqual(exchange(port, b"after"), ("two", True))
            time.sleep(0.5)  # a health check's first probe comes within 0.1 s of its start
            with held:
                self.assertEqual(send_and_read_all(held, b"held"), b"held")
            # Every connection the server saw carried data: no probe among them.
            wait_until(lambda: two.served == 2, what="both served")
            self.assertEqual(two.count, two.served, h.log())
            assert_stops_cleanly(self, h)


if __name__ == "__main__":
    unittest.main()
