"""Turning health checks off by a reconfigure brings a server that checks had taken DOWN back
into the rotation. It used to stay DOWN for good (nothing checks it any more), so it never got
traffic again while another server was up."""

import unittest

from harness import free_port, wait_until
from hamba_helpers import HambaDir, TaggedEcho, assert_stops_cleanly, greeting


class ChecksOff(unittest.TestCase):
    def test_down_server_comes_back_when_checks_are_turned_off(self):
        port, s2_port = free_port(), free_port()
        with HambaDir("hamba-checks-") as d, TaggedEcho("s1") as s1:
            def write_config(check):
                d.write_config(f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: {check}\n'
                               f'    servers: ["127.0.0.1:{s1.port}", "127.0.0.1:{s2_port}"]\n')

            # fall 1: one refused check is DOWN; rise 1000: it would stay DOWN.
            write_config("{interval: 200ms, timeout: 1s, rise: 1000, fall: 1}")
            with d.start("--config", d.config, ports=[port]) as hamba:
                wait_until(lambda: f"127.0.0.1:{s2_port} is DOWN" in hamba.log(), what="s2 DOWN")
                with TaggedEcho("s2", port=s2_port):
                    self.assertEqual({greeting(port) for _ in range(4)}, {b"s1\n"})
                    write_config("false")
                    r = d.ctl("reconfigure", "--config", d.config)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    seen = {greeting(port) for _ in range(4)}  # round robin: both
                    self.assertEqual(seen, {b"s1\n", b"s2\n"}, hamba.log())
                    assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
