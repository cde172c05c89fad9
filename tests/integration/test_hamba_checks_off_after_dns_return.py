"""With `check: false`, an address that leaves DNS and comes back is still not health-checked:
no probe connections reach the backend. It used to get a health check anyway (and could be
taken DOWN by it, although checks were off).

Same technique as test_runtime_dns.py: hamba in a mount namespace whose /etc/hosts this test
writes."""

import os
import time
import unittest

from harness import free_port, send_and_read_all, wait_until
from hamba_helpers import TaggedEcho, assert_stops_cleanly, connect
from runtime_support import HostsNamespaceTest, RuntimeHamba, exchange


class DnsBackUnchecked(HostsNamespaceTest):
    NAME = "unchecked.hamba.test"

    def test_no_probe_after_the_address_comes_back(self):
        backend_port = free_port("127.0.0.2")
        port = free_port()
        config = os.path.join(self.dir, "hamba.yaml")
        with open(config, "w") as f:
            f.write(f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: false\n'
                    f'    resolve_interval: 100ms\n    dns_hold: 0s\n    servers: ["{self.NAME}:{backend_port}"]\n')
        self.write_hosts("127.0.0.2")
        with TaggedEcho("two", host="127.0.0.2", port=backend_port) as two, \
                RuntimeHamba(["--config", config], prefix=self.namespace) as h:
            # (no wait_for: its probe through hamba would reach the backend without data; the
            # listener is open before the control socket RuntimeHamba waits for)
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
            # Every connection the backend saw carried data: no probe among them.
            wait_until(lambda: two.served == 2, what="both served")
            self.assertEqual(two.count, two.served, h.log())
            assert_stops_cleanly(self, h.proc)


if __name__ == "__main__":
    unittest.main()
