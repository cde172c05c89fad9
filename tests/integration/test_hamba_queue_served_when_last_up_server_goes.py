"""A client waiting in the queue is served when the last server that was up goes down or is
disabled.

With every server down, hamba tries them anyway (README, Usage). A client queued because the
only server up was full must then get one of the others at once; it used to wait for the connect
timeout (closed with nothing), because only a server coming UP or enabled looked at the queue."""

import unittest

from harness import free_port, wait_until
from hamba_helpers import HambaDir, TaggedEcho, assert_stops_cleanly, connect, stats_json


class AllDownQueue(unittest.TestCase):
    def test_last_server_up_goes_down(self):
        self.check(lambda s1, d: s1.close())  # s1's checks fail: no server is up any more

    def test_last_server_up_is_disabled(self):
        def disable(s1, d):
            r = d.ctl("disable", f"127.0.0.1:{s1.port}")
            self.assertEqual(r.returncode, 0, r.stderr)
        self.check(disable)

    def check(self, take_s1_away):
        port, admin, s2_port = free_port(), free_port(), free_port()
        with HambaDir("hamba-down-") as d, TaggedEcho("s1") as s1:
            # fall 1: one failed check is DOWN; rise 1000: a server DOWN stays DOWN.
            d.write_config(f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                           f'  - bind: "127.0.0.1:{port}"\n    connect_timeout: 3s\n'
                           f'    check: {{interval: 200ms, timeout: 1s, rise: 1000, fall: 1}}\n'
                           f'    servers:\n'
                           f'      - {{address: "127.0.0.1:{s1.port}", maxconn: 1}}\n'
                           f'      - {{address: "127.0.0.1:{s2_port}", maxconn: 1}}\n')
            with d.start("--config", d.config, ports=[port, admin]) as hamba:
                # s2 refuses its first check (nothing listens yet): DOWN, and stays DOWN.
                wait_until(lambda: f"127.0.0.1:{s2_port} is DOWN" in hamba.log(), what="s2 DOWN")
                with TaggedEcho("s2", port=s2_port):
                    a = connect(port)
                    self.assertEqual(a.recv(16), b"s1\n")  # the only server up, now full
                    b = connect(port)
                    wait_until(lambda: stats_json(admin)["frontends"][0]["queued"] == 1,
                               what="b queued")
                    take_s1_away(s1, d)
                    self.assertEqual(b.recv(16), b"s2\n", hamba.log())
                    a.close()
                    b.close()
                    assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
