"""An idle hamba sleeps: the bounded polling before each sleep (net/poll_spin.h) must never turn
into a busy loop, with or without connections held open.

Not a timing goal: a busy loop burns a whole core (about 1000 ms of CPU per second); an idle
hamba with health checks every 100 ms and one idle connection uses well under 1% of that. The
bound below (20% of the wall time) is far from both."""

import os
import time
import unittest

from hamba_helpers import TaggedEcho, connect
from harness import start_hamba


def cpu_seconds(pid):
    """CPU time of every thread of `pid` so far (schedstat: nanoseconds on cpu)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


class IdleCpu(unittest.TestCase):
    def test_idle_hamba_sleeps(self):
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "100ms")
            with hamba:
                with connect(port) as c:
                    self.assertEqual(c.recv(16), b"a\n")  # relayed: a session is open, idle
                    time.sleep(0.5)  # start-up work done
                    wall0, cpu0 = time.monotonic(), cpu_seconds(hamba.pid)
                    time.sleep(3)
                    wall, cpu = time.monotonic() - wall0, cpu_seconds(hamba.pid) - cpu0
                    self.assertTrue(hamba.running(), hamba.log())
                    self.assertLess(cpu, 0.2 * wall,
                                    f"hamba used {cpu:.3f} s of CPU in {wall:.1f} s while idle")
                    c.sendall(b"still there\n")  # and the loop still serves
                    self.assertEqual(c.recv(64), b"still there\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
