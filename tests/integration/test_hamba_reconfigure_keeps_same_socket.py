"""Reconfigure keeps a listener when the new configuration names the same socket another way:
`hamba PORT ...` listens on ":PORT" (every IPv4 address), and a YAML file saying
"0.0.0.0:PORT" means that same socket. It used to be taken for a new frontend, whose bind failed
with EADDRINUSE, so the reconfigure was refused."""

import unittest

from harness import free_port
from hamba_helpers import HambaDir, TagServer, assert_stops_cleanly, greeting


class SameBindOtherSpelling(unittest.TestCase):
    def test_yaml_0_0_0_0_keeps_the_command_line_listener(self):
        port = free_port()
        with HambaDir("hamba-bind-") as d, TagServer("a") as a, TagServer("b") as b:
            with d.start("--check-interval", "1h", port, f"127.0.0.1:{a.port}",
                         ports=[port]) as hamba:
                self.assertEqual(greeting(port), b"a")
                d.write_config(f'frontends:\n  - bind: "0.0.0.0:{port}"\n'
                               f'    check: false\n    servers: ["127.0.0.1:{b.port}"]\n')
                r = d.ctl("reconfigure", "--config", d.config)
                self.assertEqual(r.returncode, 0, r.stderr + hamba.log())
                self.assertEqual({greeting(port) for _ in range(4)}, {b"b"}, hamba.log())
                assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
