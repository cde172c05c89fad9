"""Turning health checks off by a reconfigure brings a server that checks had taken DOWN back
into the rotation. It used to stay DOWN for good (nothing checks it any more), so it never got
traffic again while another server was up."""

import os
import shutil
import socket
import tempfile
import unittest

from harness import Process, bin_path, free_port, run, wait_port, wait_until
from hamba_helpers import TaggedEcho


def tag_of(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        return c.recv(16)


class ChecksOff(unittest.TestCase):
    def test_down_server_comes_back_when_checks_are_turned_off(self):
        tmp = tempfile.mkdtemp(prefix="hamba-review-checks-")
        try:
            port, s2_port = free_port(), free_port()
            config = os.path.join(tmp, "hamba.yaml")

            def write_config(check):
                with open(config, "w") as f:
                    f.write(f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: {check}\n'
                            f'    backends: ["127.0.0.1:{s1.port}", "127.0.0.1:{s2_port}"]\n')

            with TaggedEcho("s1") as s1:
                # fall 1: one refused check is DOWN; rise 1000: it would stay DOWN.
                write_config("{interval: 200ms, timeout: 1s, rise: 1000, fall: 1}")
                ctl = os.path.join(tmp, "ctl.sock")
                with Process([bin_path("hamba"), "--config", config, "--control", ctl]) as hamba:
                    wait_port(port)
                    wait_until(lambda: f"127.0.0.1:{s2_port} is DOWN" in hamba.log(),
                               what="s2 DOWN")
                    with TaggedEcho("s2", port=s2_port):
                        self.assertEqual({tag_of(port) for _ in range(4)}, {b"s1\n"})
                        write_config("false")
                        r = run([bin_path("hamba"), "--control", ctl, "reconfigure", "--config",
                                 config])
                        self.assertEqual(r.returncode, 0, r.stderr)
                        seen = {tag_of(port) for _ in range(4)}  # round robin: both
                        self.assertEqual(seen, {b"s1\n", b"s2\n"}, hamba.log())
                        self.assertEqual(hamba.stop(), 0, hamba.log())
                        self.assertNotIn("Sanitizer", hamba.log())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
