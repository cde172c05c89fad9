"""Slow links and slow readers: hamba's throughput follows the slowest side and its memory stays
bounded while the other side pushes as fast as it can.
- latency (30 ms per chunk) and bandwidth (512 KiB/s) on the server side, from an in-test proxy:
  4 clients upload and get back 1 MiB each, every byte checked; the rate is that of the link
  (neither above it, nor collapsed), and hamba's RSS grows by a bounded amount;
- slow readers: 6 clients read a fast server's 1 MiB stream in small sips with a small receive
  buffer; every byte arrives, and hamba holds at most tens of KiB per connection meanwhile.
RSS bounds are skipped under the sanitizers (their allocator hides them), as elsewhere.
"""

import os
import socket
import threading
import time
import unittest

from fault_support import SANITIZED, ServerProcess, ToxicProxy, Toxics, download, echo, parallel
from hamba_helpers import rss_kib
from harness import free_port, probe_done, start_hamba, wait_until

KIB = 1024
MIB = 1 << 20


class RssWatch:
    """Samples a process's RSS every 50 ms in a thread; `peak` is the largest seen."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


class SlowLinks(unittest.TestCase):
    def start(self, server):
        self.admin = free_port()
        hamba, port = start_hamba([server.address()], "--check-interval", "1h",
                                  "--admin", f"127.0.0.1:{self.admin}")
        wait_until(lambda: probe_done(self.admin), what="probe done")
        return hamba, port

    def test_latency_and_bandwidth_on_the_server_side(self):
        clients, size, rate = 4, MIB, 512
        toxics = Toxics(latency_ms=30, rate_kib_s=rate)
        with ServerProcess("a") as a, ToxicProxy(a.address(), toxics) as proxy:
            hamba, port = self.start(proxy)
            with hamba:
                before = rss_kib(hamba.pid)
                watch = RssWatch(hamba.pid)
                start = time.monotonic()
                results = parallel(lambda i: echo(port, os.urandom(size), timeout=30),
                                   [(i,) for i in range(clients)], timeout=60)
                seconds = time.monotonic() - start
                grown = watch.stop() - before
                per_client = size / KIB / seconds
                print(f"latency 30 ms, {rate} KiB/s each way: {clients} x {size // KIB} KiB "
                      f"echoed in {seconds:.2f}s ({per_client:.0f} KiB/s per client); "
                      f"hamba RSS peak +{grown} KiB")
                self.assertTrue(all(r and r.ok for r in results), results)
                # The link's rate: not above it (hamba invents no bandwidth), and not far below
                # it (backpressure does not stall the stream).
                self.assertLess(per_client, rate * 1.25)
                self.assertGreater(per_client, rate * 0.5)
                if not SANITIZED:
                    self.assertLess(grown, 2048, "hamba buffered what the link could not take")
                self.assertEqual(hamba.stop(), 0, hamba.log())

    def test_slow_readers_memory_is_bounded(self):
        clients, size = 6, MIB

        def small_buffer(sock):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * KIB)

        with ServerProcess("a") as a:
            hamba, port = self.start(a)
            with hamba:
                before = rss_kib(hamba.pid)
                watch = RssWatch(hamba.pid)
                results = parallel(
                    lambda i: download(port, size, b"sip%d" % i, read_size=16 * KIB,
                                       pause=0.002, on_connected=small_buffer, timeout=30),
                    [(i,) for i in range(clients)], timeout=90)
                grown = watch.stop() - before
                print(f"{clients} slow readers of {size // MIB} MiB in sips: {results}; hamba RSS peak "
                      f"+{grown} KiB ({grown / clients:.1f} KiB per connection)")
                self.assertTrue(all(r and r.ok for r in results), results)
                if not SANITIZED:
                    self.assertLess(grown / clients, 128)
                self.assertEqual(hamba.stop(), 0, hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
