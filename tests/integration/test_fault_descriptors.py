"""Descriptor exhaustion: hamba under `prlimit --nofile=64`.
- At start, a maxconn of 256 cannot be held with 64 descriptors: it is lowered, with one
  warning.
- 300 clients at once: those beyond what the descriptors allow wait in the kernel's accept
  queue (not accepted and closed by libuv) and are all served, every byte checked, as
  descriptors free up; no accept fails for want of a descriptor.
- The descriptors eaten by something else (admin clients held open): health checks, accepts and
  connects that fail with EMFILE are hamba's own failure, logged as such; no server is marked
  DOWN; clients that came meanwhile waited in the accept queue, and they and later ones are
  served once the descriptors are back.
"""

import os
import re
import shutil
import socket
import threading
import time
import unittest

from harness import Process, bin_path, free_port, http_request, wait_port, wait_until
from fault_support import ServerProcess, echo, fd_count, parallel

LIMIT = 64


def metric(admin, name, labels):
    _, _, body = http_request(admin, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and all(l in line for l in labels):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


class Descriptors(unittest.TestCase):
    def setUp(self):
        if not shutil.which("prlimit"):
            raise unittest.SkipTest("prlimit (util-linux) not installed")

    def start(self, server, *options):
        self.admin = free_port()
        port = free_port()
        hamba = Process(["prlimit", f"--nofile={LIMIT}:{LIMIT}", bin_path("hamba"),
                         "--admin", f"127.0.0.1:{self.admin}", "--control",
                         f"/tmp/hamba-fd-{port}.sock", *options, port, server.address()])
        wait_port(port)
        wait_port(self.admin)
        return hamba, port

    def test_300_clients_wait_in_the_accept_queue_and_are_served(self):
        with ServerProcess("a") as a:
            hamba, port = self.start(a, "--maxconn", "256", "--check-interval", "500ms")
            with hamba:
                wait_until(lambda: "lowered to" in hamba.log(), timeout=10,
                           what="the lowered maxconn logged")  # the log is read by a thread
                lowered = re.findall(r"maxconn 256 needs .* lowered to (\d+)", hamba.log())
                self.assertEqual(len(lowered), 1, hamba.log())
                maxconn = int(lowered[0])
                self.assertLess(maxconn, LIMIT // 2)
                peak = {"fds": 0}

                def client(i):
                    payload = os.urandom(8192) + bytes([i % 256])

                    def hold(sock):  # keep the session for a moment: exhaustion, not a trickle
                        time.sleep(0.3)
                        peak["fds"] = max(peak["fds"], fd_count(hamba.pid_of_hamba))
                    return echo(port, payload, timeout=60, on_connected=hold)

                hamba.pid_of_hamba = hamba.pid  # prlimit execs hamba: same pid
                start = time.monotonic()
                results = parallel(client, [(i,) for i in range(300)], timeout=120)
                seconds = time.monotonic() - start
                failed = [r for r in results if not (r and r.ok)]
                emfile = metric(self.admin, "hamba_accept_errors_total", ['reason="emfile"'])
                print(f"300 clients, {LIMIT} descriptors, maxconn lowered to {maxconn}: "
                      f"{300 - len(failed)} served in {seconds:.1f}s, peak {peak['fds']} "
                      f"descriptors open, accept errors (emfile) {emfile}")
                self.assertEqual(failed, [])
                self.assertEqual(emfile, 0)
                self.assertLessEqual(peak["fds"], LIMIT)
                self.assertNotIn("DOWN", hamba.log())
                self.assertEqual(hamba.stop(), 0, hamba.log())

    def test_emfile_is_hambas_own_not_the_servers(self):
        with ServerProcess("a") as a:
            hamba, port = self.start(a, "--check-interval", "100ms")
            with hamba:
                # Admin clients hold the descriptors hamba has (the admin server takes 64).
                # Opened until every descriptor of hamba's is taken (libuv closes those it cannot
                # accept, so some go: more are opened).
                held = []
                try:
                    for _ in range(400):
                        if fd_count(hamba.pid) >= LIMIT:
                            break
                        try:
                            held.append(socket.create_connection(("127.0.0.1", self.admin),
                                                                 timeout=2))
                        except OSError:
                            pass
                        time.sleep(0.01)
                    wait_until(lambda: "short of descriptors" in hamba.log(), timeout=10,
                               what="EMFILE logged as hamba's own")
                    # Clients that come now find hamba with no descriptor to accept them: they
                    # wait in the kernel's accept queue (libuv's own accept would close them).
                    early = []
                    waiting = threading.Thread(target=lambda: early.extend(parallel(
                        lambda i: echo(port, os.urandom(4096), timeout=20),
                        [(i,) for i in range(5)], timeout=60)), daemon=True)
                    waiting.start()
                    time.sleep(1.0)  # ten check intervals with no descriptor
                    self.assertNotIn("DOWN", hamba.log())
                finally:
                    for s in held:
                        s.close()
                waiting.join(60)
                results = parallel(lambda i: echo(port, os.urandom(4096), timeout=20),
                                   [(i,) for i in range(20)], timeout=60)
                emfile = metric(self.admin, "hamba_accept_errors_total", ['reason="emfile"'])
                print(f"{len(held)} admin clients held; 5 clients that came meanwhile: {early}; "
                      f"20 afterwards: {results[:3]}...; accepts that failed (emfile) {emfile}")
                self.assertTrue(early and all(r and r.ok for r in early), early)
                self.assertGreater(emfile, 0)
                self.assertIn("cannot accept a client", hamba.log())
                self.assertTrue(all(r and r.ok for r in results), results)
                self.assertNotIn("DOWN", hamba.log())
                self.assertEqual(hamba.stop(), 0, hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
