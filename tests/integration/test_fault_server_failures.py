"""Servers that fail under hamba: one killed in the middle of a transfer (its client's connection
ends promptly, with only bytes of the stream before it; new clients go to the other server), one
that accepts and never answers (the idle timeout ends it; the other server's clients are not
affected), and one whose accept queue is full (the connect timeout, then another server, with
every byte intact)."""

import os
import socket
import threading
import time
import unittest

from fault_support import ServerProcess, download, echo, parallel, who
from hamba_helpers import stats_json
from harness import free_port, probe_done, start_hamba, wait_port, wait_until

MIB = 1 << 20


def servers_by_current(admin):
    """{address: current connections} of the first frontend."""
    return {s["address"]: s["current"] for s in stats_json(admin)["frontends"][0]["servers"]}


class ServerFailures(unittest.TestCase):
    def start(self, servers, *options):
        self.admin = free_port()
        hamba, port = start_hamba([s.address() for s in servers], "--admin",
                                  f"127.0.0.1:{self.admin}", *options)
        # start_hamba waits for the frontend's port only; the stats polls need the admin's too.
        wait_port(self.admin)
        return hamba, port

    def test_server_killed_mid_transfer(self):
        # 256 KiB/s: a 16 MiB download would take a minute; the server dies a second in.
        with ServerProcess("a", pace_kib_s=256) as a, ServerProcess("b", pace_kib_s=256) as b:
            hamba, port = self.start([a, b], "--check-interval", "300ms")
            with hamba:
                # start_hamba's readiness probe went through hamba too: it must be gone first.
                wait_until(lambda: probe_done(self.admin), what="probe done")
                result = []
                t = threading.Thread(target=lambda: result.append(
                    download(port, 16 * MIB, b"killed", timeout=20)))
                t.start()
                busy = wait_until(lambda: [k for k, v in servers_by_current(self.admin).items()
                                           if v == 1], what="transfer started")
                victim, survivor = (a, b) if busy[0] == a.address() else (b, a)
                time.sleep(1.0)
                killed_at = time.monotonic()
                victim.kill()
                t.join(20)
                r = result[0]
                ended_after = time.monotonic() - killed_at
                print(f"killed mid-transfer: {r}, ended {ended_after:.2f}s after the kill")
                # Promptly: the kernel closed the dead server's socket, hamba passed it on.
                self.assertLess(ended_after, 3.0)
                self.assertIn(r.end, ("eof", "reset"))
                self.assertGreater(r.count, 0)
                self.assertLess(r.count, 16 * MIB)
                self.assertTrue(r.prefix, "bytes before the kill are not the stream's")
                # New clients: all on the survivor, every byte intact, none refused.
                tags = [who(port) for _ in range(6)]
                self.assertEqual(set(tags), {survivor.tag}, tags)
                results = parallel(lambda i: echo(port, os.urandom(200_000) + bytes([i])),
                                   [(i,) for i in range(8)])
                self.assertTrue(all(x and x.ok for x in results), results)
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())

    def test_server_accepts_and_never_answers(self):
        with ServerProcess("silent", silent=True) as silent, ServerProcess("b") as b:
            hamba, port = self.start([silent, b], "--check-interval", "1h",
                                     "--idle-timeout", "1s")
            with hamba:
                # Every client asks for an echo: those that reach the silent server are closed
                # by the idle timeout with nothing received, the others are served meanwhile,
                # byte for byte.
                results = parallel(lambda i: echo(port, os.urandom(100_000)),
                                   [(i,) for i in range(8)], timeout=30)
                print(f"silent server: {results}")
                self.assertTrue(all(results), results)
                served = [r for r in results if r.ok]
                hung = [r for r in results if not r.ok]
                self.assertTrue(served and hung, results)
                for r in hung:
                    self.assertEqual((r.end, r.count), ("eof", 0), r)
                    self.assertGreaterEqual(r.seconds, 0.9, r)
                    self.assertLess(r.seconds, 5.0, r)
                wait_until(lambda: stats_json(self.admin)["frontends"][0]["current"] == 0,
                           what="every session ended")
                self.assertEqual(hamba.stop(), 0, hamba.log())

    def test_server_accept_queue_full(self):
        # A listening socket that never accepts, its queue filled by connections of our own:
        # the kernel drops hamba's SYNs, hamba's connect times out and it tries the other one.
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        full_port = full.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", full_port))
                fillers.append(s)
            time.sleep(0.3)
            with ServerProcess("b") as b:
                class Full:
                    def address(self):
                        return f"127.0.0.1:{full_port}"

                hamba, port = self.start([Full(), b], "--check-interval", "1h",
                                         "--connect-timeout", "500ms", "--retries", "3")
                with hamba:
                    results = parallel(lambda i: echo(port, os.urandom(300_000)),
                                       [(i,) for i in range(6)], timeout=30)
                    print(f"accept queue full: {results}")
                    self.assertTrue(all(r and r.ok for r in results), results)
                    # Some went through the timeout (the full server was tried first).
                    self.assertTrue(any(r.seconds >= 0.45 for r in results), results)
                    self.assertIn("connect timeout", hamba.log())
                    self.assertEqual(hamba.stop(), 0, hamba.log())
        finally:
            for s in fillers:
                s.close()
            full.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
