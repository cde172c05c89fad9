"""DNS discovery through the real resolver path: hamba runs in its own mount namespace where
/etc/hosts is a file this test controls (bind-mounted over it), so getaddrinfo() answers what the
test writes. The backend name first resolves to 127.0.0.2; the test adds 127.0.0.3 (a server of
its own: connections reach both), then removes 127.0.0.2 (it drains: new connections reach
127.0.0.3 only, a connection already open on 127.0.0.2 finishes), with no restart and no
reconfigure.
"""

import socket
import unittest

from harness import free_port, send_and_read_all, wait_until
from hamba_helpers import TaggedEcho
from runtime_support import HostsNamespaceTest, RuntimeHamba, exchange


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
                RuntimeHamba(["--resolve-interval", "200ms", "--check-interval", "500ms",
                              f"127.0.0.1:{port}", f"{self.NAME}:{backend_port}"],
                             prefix=self.namespace, wait_for=port) as h:
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


if __name__ == "__main__":
    unittest.main()
