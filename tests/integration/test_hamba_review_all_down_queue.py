"""A client waiting in the queue is served when the last server that was up goes down or is
disabled.

With every server down, hamba tries them anyway (README, Usage). A client queued because the
only server up was full must then get one of the others at once; it used to wait for the connect
timeout (closed with nothing), because only a server coming UP or enabled looked at the queue."""

import json
import os
import shutil
import socket
import tempfile
import unittest

from harness import Process, bin_path, free_port, http_request, run, wait_port, wait_until
from hamba_helpers import TaggedEcho


def frontend_stats(admin_port):
    status, _, body = http_request(admin_port, "GET", "/stats.json")
    return json.loads(body)["frontends"][0]


class AllDownQueue(unittest.TestCase):
    def test_last_server_up_goes_down(self):
        self.check(lambda s1, ctl: s1.close())  # s1's checks fail: no server is up any more

    def test_last_server_up_is_disabled(self):
        def disable(s1, ctl):
            r = run([bin_path("hamba"), "--control", ctl, "disable", f"127.0.0.1:{s1.port}"])
            self.assertEqual(r.returncode, 0, r.stderr)
        self.check(disable)

    def check(self, take_s1_away):
        tmp = tempfile.mkdtemp(prefix="hamba-review-down-")
        try:
            port, admin, s2_port = free_port(), free_port(), free_port()
            with TaggedEcho("s1") as s1:
                config = os.path.join(tmp, "hamba.yaml")
                with open(config, "w") as f:
                    # fall 1: one failed check is DOWN; rise 1000: a server DOWN stays DOWN.
                    f.write(f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                            f'  - bind: "127.0.0.1:{port}"\n    connect_timeout: 3s\n'
                            f'    check: {{interval: 200ms, timeout: 1s, rise: 1000, fall: 1}}\n'
                            f'    backends:\n'
                            f'      - {{address: "127.0.0.1:{s1.port}", maxconn: 1}}\n'
                            f'      - {{address: "127.0.0.1:{s2_port}", maxconn: 1}}\n')
                ctl = os.path.join(tmp, "ctl.sock")
                with Process([bin_path("hamba"), "--config", config, "--control", ctl]) as hamba:
                    wait_port(port)
                    wait_port(admin)
                    # s2 refuses its first check (nothing listens yet): DOWN, and stays DOWN.
                    wait_until(lambda: f"127.0.0.1:{s2_port} is DOWN" in hamba.log(),
                               what="s2 DOWN")
                    with TaggedEcho("s2", port=s2_port):
                        a = socket.create_connection(("127.0.0.1", port), timeout=10)
                        self.assertEqual(a.recv(16), b"s1\n")  # the only server up, now full
                        b = socket.create_connection(("127.0.0.1", port), timeout=10)
                        wait_until(lambda: frontend_stats(admin)["queued"] == 1, what="b queued")
                        take_s1_away(s1, ctl)
                        self.assertEqual(b.recv(16), b"s2\n", hamba.log())
                        a.close()
                        b.close()
                        self.assertEqual(hamba.stop(), 0, hamba.log())
                        self.assertNotIn("Sanitizer", hamba.log())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
