"""Reload of the --config YAML file, in a real running hamba:

- editing the file (written in place, or replaced by rename as editors do) applies it;
- a broken file is reported with file:line:col and the running configuration stays;
- SIGHUP reloads the file;
- a listen port that changes is rebound.
"""

import os
import signal
import tempfile
import unittest

from hamba_helpers import TaggedEcho
from harness import Hamba, free_port, wait_port, wait_until
from runtime_support import exchange


def frontend_yaml(port, *backends, extra=""):
    lines = ["frontends:", f"  - bind: '127.0.0.1:{port}'", "    servers:"]
    lines += [f"      - '{b}'" for b in backends]
    return "\n".join(lines) + "\n" + extra


def write_in_place(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_by_rename(path, text):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def only_tag(port, tag, tries=6):
    """True once `tries` connections in a row land on `tag`."""
    return all(exchange(port, b"probe")[0] == tag for _ in range(tries))


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hamba-reload-")
        self.path = os.path.join(self.dir, "hamba.yaml")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def test_file_change_broken_file_and_sighup(self):
        port = free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, TaggedEcho("c") as c:
            write_in_place(self.path, frontend_yaml(port, a.address()))
            with Hamba("--config", self.path, ports=[port]) as h:
                self.assertEqual(exchange(port, b"1"), ("a", True))

                # Edited in place.
                write_in_place(self.path, frontend_yaml(port, b.address()))
                wait_until(lambda: only_tag(port, "b"), what="reload to b")
                # (the log is read by another thread: it may come a moment after the traffic)
                wait_until(lambda: "configuration file reloaded" in h.log(), what="reload logged")

                # Replaced by rename.
                write_by_rename(self.path, frontend_yaml(port, c.address()))
                wait_until(lambda: only_tag(port, "c"), what="reload to c")

                # Broken: an unknown key on line 5; reported, and c still serves.
                write_by_rename(self.path, frontend_yaml(port, a.address(),
                                                         extra="    timeout: 5s\n"))
                wait_until(lambda: f"{self.path}:5:5:" in h.log(), what="error in the log")
                self.assertIn("'timeout'", h.log())
                self.assertIn("the running one stays", h.log())
                self.assertTrue(only_tag(port, "c"))

                # Fixed: a and b. Then `disable a` changes the running config but not the file;
                # SIGHUP applies the file again, so a takes connections again.
                write_by_rename(self.path, frontend_yaml(port, a.address(), b.address()))
                wait_until(lambda: "b" in {exchange(port, b"p")[0] for _ in range(4)},
                           what="reload to a and b")
                self.assertEqual(h.ctl("disable", a.address()).returncode, 0)
                self.assertTrue(only_tag(port, "b"))
                h.signal(signal.SIGHUP)
                wait_until(lambda: "(SIGHUP)" in h.log(), what="SIGHUP in the log")
                wait_until(lambda: "a" in {exchange(port, b"p")[0] for _ in range(4)},
                           what="a enabled again by the reload")
                self.assertNotIn("state: disabled", h.ctl("showconfig").stdout)
                self.assertTrue(h.running())

    def test_changed_port_is_rebound(self):
        port, new_port = free_port(), free_port()
        with TaggedEcho("a") as a:
            write_in_place(self.path, frontend_yaml(port, a.address()))
            with Hamba("--config", self.path, ports=[port]) as h:
                write_by_rename(self.path, frontend_yaml(new_port, a.address()))
                wait_port(new_port)
                self.assertEqual(exchange(new_port, b"moved"), ("a", True))

                def old_port_refused():
                    # Each worker closes its own copy of the old socket when it takes the new
                    # view: the other one may still accept for a moment after the new port
                    # answers.
                    try:
                        exchange(port, b"old")
                    except OSError:
                        return True
                    return False

                wait_until(old_port_refused, what="the old port closed")
                self.assertIn(f'127.0.0.1:{new_port}', h.ctl("showconfig").stdout)


if __name__ == "__main__":
    unittest.main()
