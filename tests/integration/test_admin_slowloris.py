"""A slowloris attack does not take the admin endpoint away, and its connections are cut at the
request head deadline:

- flood: 500 connections to hamba's admin port, far more than the 64 it holds, each sending a
  request head one byte a round and never finishing it (each one hamba closes is opened again at
  once); after every round a scraper GETs /metrics on a new connection, and every scrape is
  answered, 200 with the metrics. When its 64 places are full, hamba's admin server evicts the
  oldest connection that never completed a request; without that the attack's connections fill
  the places again as soon as any frees up, and the scrapes fail ("Connection reset by peer",
  "Remote end closed connection without response").
- deadline: 48 such connections, fewer than the 64 places, so none is evicted: each one is cut
  with a 408 once its head has taken longer than the head deadline (10 s from the accept),
  however the bytes trickle, and scrapes are answered meanwhile.

The scrapes run between the attack's rounds, in the test's one thread. A scrape sent while the
attack is connecting would race it: a connection whose request has not arrived yet is evicted
once 64 newer ones have come, so on a loaded machine a scraper that gets the CPU late after its
connect loses its place to the attack's reconnects. That race is between the test's own
threads (an idle machine does not show it), not the property under test.

No assertion depends on the machine's speed: rounds are counted, the wait for the cuts ends on
a condition with a generous bound, and the one bound on a time is a lower one (a loaded machine
only cuts later).
The test raises its own soft RLIMIT_NOFILE (inherited by hamba) to hold 500 sockets.
"""

import contextlib
import http.client
import os
import resource
import socket
import time
import unittest

from harness import bin_path, free_port, wait_port, wait_until, Process
from hamba_helpers import TagServer

FLOOD = 500            # attack connections, against the admin server's 64 places
FLOOD_ROUNDS = 15      # a byte on each and a scrape, once a second
BELOW_LIMIT = 48       # attack connections that never have to be evicted
HEAD_TIMEOUT = 10.0    # the admin server's request head deadline, in seconds
HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} < {wanted}")


CUT = "cut"  # a connection hamba closed and the attack does not open again


class Slowloris:
    """`count` sockets on the admin port, each with a request head that never ends. With
    `reopen`, a connection hamba closed is opened again at once; without, it is CUT."""

    def __init__(self, port, count, reopen):
        self.port = port
        self.reopen = reopen
        self.socks = [None] * count  # a socket, None (to open) or CUT
        self.opened_at = [0.0] * count  # time.monotonic() before the connect
        self.closed = 0  # connections hamba closed
        self.timed_out = 0  # of them, closed with the 408 of the head deadline
        self.refused = 0  # connects that failed: tried again on the next round
        self.cut_after = []  # per 408: seconds from the connect to its being seen

    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10.0)  # a bound, not an expectation: loopback connects complete at once
        self.opened_at[i] = time.monotonic()
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(HEAD)
        except OSError:
            s.close()
            self.refused += 1
            return
        s.setblocking(False)
        self.socks[i] = s

    def _closed_by_hamba(self, i, s):
        try:
            data = s.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if data.startswith(b"HTTP/1.1 408"):
            self.timed_out += 1
            self.cut_after.append(time.monotonic() - self.opened_at[i])
        return True

    def _drop(self, i):
        self.socks[i].close()
        self.socks[i] = None if self.reopen else CUT
        self.closed += 1

    def round(self):
        """Opens what is missing, notes what hamba closed, sends a byte on each of the rest."""
        for i, s in enumerate(self.socks):
            if s is not None and s is not CUT and self._closed_by_hamba(i, s):
                self._drop(i)
                s = self.socks[i]
            if s is CUT:
                continue
            if s is None:
                self._open(i)
                continue
            try:
                s.send(b"x")
            except BlockingIOError:
                pass
            except OSError:
                self._drop(i)

    def open_count(self):
        return sum(1 for s in self.socks if s is not None and s is not CUT)

    def all_cut(self):
        return all(s is CUT for s in self.socks)

    def close(self):
        for s in self.socks:
            if s is not None and s is not CUT:
                s.close()


class Scrapes:
    """GET /metrics on a new connection each time; every failure is kept."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.failures = []

    def scrape(self):
        # A bound for a loaded machine, not an expectation: an answer takes milliseconds.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
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


def pause_rest_of_second(started):
    """The attack's pace: a byte a second on each connection (a slower machine: slower)."""
    time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


@contextlib.contextmanager
def hamba_with_admin():
    """hamba with an admin port and one frontend; yields the process and the admin port."""
    admin = free_port()
    port = free_port()
    with TagServer("a") as backend, Process(
            [bin_path("hamba"), "--admin", f"127.0.0.1:{admin}", "--check-interval", "1h", port,
             f"127.0.0.1:{backend.port}"]) as hamba:
        wait_port(admin)
        wait_port(port)
        yield hamba, admin


class AdminUnderSlowloris(unittest.TestCase):
    def test_scrapes_answered_while_500_connections_trickle(self):
        raise_fd_limit(FLOOD + 1024)  # the attack, the scraper, hamba's own
        with hamba_with_admin() as (hamba, admin):
            attack = Slowloris(admin, FLOOD, reopen=True)
            scrapes = Scrapes(admin)
            try:
                attack.round()  # the 500 connections, before the first scrape
                self.assertGreaterEqual(attack.open_count(), FLOOD - 10)
                for _ in range(FLOOD_ROUNDS):
                    started = time.monotonic()
                    attack.round()
                    scrapes.scrape()
                    pause_rest_of_second(started)
                held = attack.open_count()
                fds = len(os.listdir(f"/proc/{hamba.pid}/fd"))
            finally:
                attack.close()
            evicted = attack.closed - attack.timed_out
            print(f"slowloris flood: {FLOOD} connections, {FLOOD_ROUNDS} rounds, {held} open at "
                  f"the end, {attack.closed} closed by hamba ({evicted} without an answer, "
                  f"{attack.timed_out} with 408), {attack.refused} connects failed; scrapes: "
                  f"{scrapes.ok} answered, {len(scrapes.failures)} failed; hamba holds {fds} "
                  f"descriptors")
            self.assertTrue(hamba.running(), hamba.log())
            self.assertEqual(scrapes.failures, [])
            self.assertEqual(scrapes.ok, FLOOD_ROUNDS)
            # The attack was real: it kept (nearly) all its connections open to the end, and
            # hamba had to evict some of them to answer.
            self.assertGreaterEqual(held, FLOOD - 10)
            self.assertGreater(evicted, 0)

    def test_trickling_heads_are_cut_at_the_head_deadline(self):
        with hamba_with_admin() as (hamba, admin):
            attack = Slowloris(admin, BELOW_LIMIT, reopen=False)
            scrapes = Scrapes(admin)
            rounds = 0

            def one_round():
                nonlocal rounds
                started = time.monotonic()
                attack.round()
                scrapes.scrape()
                rounds += 1
                if attack.all_cut():
                    return True
                pause_rest_of_second(started)
                return False

            try:
                attack.round()
                self.assertEqual(attack.open_count(), BELOW_LIMIT)
                # Six head deadlines: a loaded machine only makes the cut later, a missing
                # deadline never cuts (the trickle keeps clear of the 60 s idle timeout too).
                try:
                    wait_until(one_round, timeout=6 * HEAD_TIMEOUT, interval=0,
                               what=f"hamba to cut {BELOW_LIMIT} trickling heads")
                except AssertionError as e:
                    self.fail(f"{e}: {attack.closed} closed, {attack.timed_out} of them with 408")
            finally:
                attack.close()
            print(f"slowloris below the limit: {BELOW_LIMIT} connections cut after {rounds} "
                  f"rounds, {attack.timed_out} with 408, {min(attack.cut_after):.1f} to "
                  f"{max(attack.cut_after):.1f} s after their connect; scrapes: {scrapes.ok} "
                  f"answered, {len(scrapes.failures)} failed")
            self.assertTrue(hamba.running(), hamba.log())
            self.assertEqual(scrapes.failures, [])
            self.assertEqual(scrapes.ok, rounds)
            # Every one by the head deadline, none by eviction or anything else, and none before
            # the deadline could have run out: the accept follows the connect and a loaded
            # machine only delays the cut (half the deadline leaves room for the loop's cached
            # clock).
            self.assertEqual(attack.timed_out, BELOW_LIMIT)
            self.assertGreaterEqual(min(attack.cut_after), HEAD_TIMEOUT / 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
