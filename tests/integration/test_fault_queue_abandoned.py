"""A queued client that leaves: with one slot per server (--server-maxconn 1) taken by a long
transfer, five clients queue and then close (two of them with a reset). They leave the queue
within a sweep (counted in hamba_frontend_queue_abandoned_total), and when the slot frees the
server sees none of them: the next connection it gets is a client still waiting, served byte
for byte."""

import os
import socket
import time
import unittest

from fault_support import ServerProcess, download, echo, parallel
from hamba_helpers import stats_json
from harness import free_port, http_request, probe_done, start_hamba, wait_until


def abandoned(admin):
    _, _, body = http_request(admin, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("hamba_frontend_queue_abandoned_total{"):
            return int(line.rsplit(" ", 1)[1])
    return None


class QueueAbandoned(unittest.TestCase):
    def test_queued_client_that_leaves_takes_no_slot(self):
        with ServerProcess("a", pace_kib_s=512) as a:
            admin = free_port()
            hamba, port = start_hamba([a.address()], "--server-maxconn", "1", "--check-interval",
                                      "1h", "--connect-timeout", "20s",
                                      "--admin", f"127.0.0.1:{admin}")
            with hamba:
                frontend = lambda: stats_json(admin)["frontends"][0]
                wait_until(lambda: probe_done(admin), what="probe done")
                # The slot: a 1 MiB download at 512 KiB/s, about 2 s.
                busy = parallel(lambda: download(port, 1 << 20, b"slot", timeout=20), [()],
                                timeout=0.01)
                wait_until(lambda: frontend()["servers"][0]["current"] == 1, what="slot taken")
                leavers = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
                wait_until(lambda: frontend()["queued"] == 5, what="five queued")
                for i, s in enumerate(leavers):
                    if i < 2:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                left_at = time.monotonic()
                wait_until(lambda: frontend()["queued"] == 0, timeout=3, what="queue emptied")
                print(f"5 queued clients left; out of the queue after "
                      f"{time.monotonic() - left_at:.2f}s")
                self.assertEqual(abandoned(admin), 5)
                total_before = frontend()["servers"][0]["total"]
                stayer = echo(port, os.urandom(50_000), timeout=20)  # waits for the slot
                self.assertTrue(stayer.ok, stayer)
                # The server got exactly one more connection: the stayer's, none of the five.
                self.assertEqual(frontend()["servers"][0]["total"], total_before + 1)
                self.assertEqual(hamba.stop(), 0, hamba.log())
                del busy


if __name__ == "__main__":
    unittest.main(verbosity=2)
