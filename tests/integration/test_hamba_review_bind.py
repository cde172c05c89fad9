"""Reconfigure keeps a listener when the new configuration names the same socket another way:
`hamba PORT ...` listens on ":PORT" (every IPv4 address), and a YAML file saying
"0.0.0.0:PORT" means that same socket. It used to be taken for a new frontend, whose bind failed
with EADDRINUSE, so the reconfigure was refused."""

import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import Process, bin_path, free_port, read_all, run, wait_port, wait_until
from hamba_helpers import TagServer


def tag_of(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        return read_all(c)


class SameBindOtherSpelling(unittest.TestCase):
    def test_yaml_0_0_0_0_keeps_the_command_line_listener(self):
        tmp = tempfile.mkdtemp(prefix="hamba-review-bind-")
        try:
            control = os.path.join(tmp, "ctl.sock")
            with TagServer("a") as a, TagServer("b") as b:
                port = free_port()
                with Process([bin_path("hamba"), "--control", control, "--check-interval", "1h",
                              port, f"127.0.0.1:{a.port}"]) as hamba:
                    wait_port(port)
                    wait_until(lambda: os.path.exists(control), what="control socket")
                    self.assertEqual(tag_of(port), b"a")
                    config = os.path.join(tmp, "hamba.yaml")
                    with open(config, "w") as f:
                        f.write(f'frontends:\n  - bind: "0.0.0.0:{port}"\n'
                                f'    check: false\n    backends: ["127.0.0.1:{b.port}"]\n')
                    r = run([bin_path("hamba"), "--control", control, "reconfigure",
                             "--config", config])
                    self.assertEqual(r.returncode, 0, r.stderr + hamba.log())
                    self.assertEqual({tag_of(port) for _ in range(4)}, {b"b"}, hamba.log())
                    self.assertEqual(hamba.stop(), 0, hamba.log())
                    self.assertNotIn("Sanitizer", hamba.log())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
