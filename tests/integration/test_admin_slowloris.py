"""A slowloris attack does not take the admin endpoint away:

- 500 connections to hamba's admin port send a request head one byte a second and never finish
  it (each one closed by hamba, by eviction or by the head deadline, is opened again at once);
- meanwhile a scraper GETs /metrics on a new connection every second, for longer than two head
  deadlines (10 s each): every scrape is answered, 200 with the metrics.

hamba's admin server holds 64 connections; when they are full it evicts the oldest one that
never completed a request. Without that, the attack's connections fill the 64 places again as
soon as any frees up, and the scrapes fail ("Connection reset by peer", "Remote end closed
connection without response").

The test raises its own soft RLIMIT_NOFILE (inherited by hamba) to hold 500 sockets.
"""

import http.client
import os
import resource
import socket
import threading
import time
import unittest

from harness import bin_path, free_port, wait_port, Process
from hamba_helpers import TagServer

ATTACKERS = 500
DURATION = 25.0  # seconds of attack, with a scrape every second
HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} < {wanted}")


class Slowloris:
    """ATTACKERS sockets on the admin port, each with a request head that never ends."""

    def __init__(self, port):
        self.port = port
        self.socks = [None] * ATTACKERS
        self.reopened = 0      # connections hamba closed and the attack opened again
        self.answered = 0      # of them, closed with an answer (the 408 of the head deadline)
        self.refused = 0       # connects that failed (timeout, reset): tried again next round

    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(HEAD)
        except OSError:
            s.close()
            self.refused += 1
            return
        s.setblocking(False)
        self.socks[i] = s

    def _closed_by_hamba(self, s):
        try:
            data = s.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if data.startswith(b"HTTP/1.1 408"):
            self.answered += 1
        return True

    def round(self):
        """Opens what is missing, reopens what hamba closed, sends a byte on each of the rest."""
        for i, s in enumerate(self.socks):
            if s is not None and self._closed_by_hamba(s):
                s.close()
                self.socks[i] = s = None
                self.reopened += 1
            if s is None:
                self._open(i)
                continue
            try:
                s.send(b"x")
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                self.socks[i] = None
                self.reopened += 1

    def open_count(self):
        return sum(1 for s in self.socks if s is not None)

    def close(self):
        for s in self.socks:
            if s is not None:
                s.close()


class Scraper(threading.Thread):
    """GET /metrics on a new connection every second until `stop` is set."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.slowest = 0.0

    def run(self):
        while not self.stop.is_set():
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/metrics")
                r = conn.getresponse()
                body = r.read()
                if r.status == 200 and b"hamba_" in body:
                    self.ok += 1
                else:
                    self.failures.append(f"status {r.status}")
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(f"{type(e).__name__}: {e}")
            finally:
                conn.close()
            took = time.monotonic() - started
            self.slowest = max(self.slowest, took)
            self.stop.wait(max(0.0, 1.0 - took))


class AdminUnderSlowloris(unittest.TestCase):
    def test_scrapes_succeed_while_500_connections_trickle(self):
        raise_fd_limit(ATTACKERS + 1024)  # the attack, the scraper, hamba's own
        admin = free_port()
        port = free_port()
        with TagServer("a") as backend, Process(
                [bin_path("hamba"), "--admin", f"127.0.0.1:{admin}", "--check-interval", "1h",
                 port, f"127.0.0.1:{backend.port}"]) as hamba:
            wait_port(admin)
            wait_port(port)
            attack = Slowloris(admin)
            scraper = Scraper(admin)
            try:
                attack.round()  # the 500 connections, before the first scrape
                self.assertGreaterEqual(attack.open_count(), ATTACKERS - 10)
                scraper.start()
                end = time.monotonic() + DURATION
                rounds = 0
                while time.monotonic() < end:
                    started = time.monotonic()
                    attack.round()
                    rounds += 1
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
                held = attack.open_count()
                fds = len(os.listdir(f"/proc/{hamba.pid}/fd"))
            finally:
                scraper.stop.set()
                scraper.join(timeout=10)
                attack.close()
            print(f"slowloris: {ATTACKERS} connections trickling for {DURATION:.0f} s "
                  f"({rounds} rounds, {held} open at the end, {attack.reopened} reopened after "
                  f"hamba closed them, {attack.answered} of those with 408, "
                  f"{attack.refused} connects failed); scrapes: {scraper.ok} answered, "
                  f"{len(scraper.failures)} failed, slowest {scraper.slowest * 1000:.0f} ms; "
                  f"hamba holds {fds} descriptors")
            self.assertTrue(hamba.running(), hamba.log())
            self.assertEqual(scraper.failures, [])
            self.assertGreaterEqual(scraper.ok, DURATION - 3)
            # The attack was real: it kept (nearly) all its connections open to the end, and
            # hamba had to close some (eviction, or the head deadline).
            self.assertGreaterEqual(held, ATTACKERS - 10)
            self.assertGreater(attack.reopened, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
