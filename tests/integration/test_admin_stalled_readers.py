"""Clients that ask for /metrics and never read the answer do not lock the scrapers out of
hamba's admin endpoint.

64 connections (the admin server's cap) each send `GET /metrics` and never read: a tiny receive
buffer and a small MSS announced in the SYN keep what the kernels buffer (tens of KB) well below
the answer (~2 KB per server, with 64 servers), so hamba's write of every answer stalls on a
zero window. Once hamba has started all 64 answers and they have been stalled longer than the
admin server's write_stall_ms (1 s), a scraper GETs /metrics on a new connection, 10 times, each
with a 1 s socket timeout, and every scrape must be answered: 200 with the whole body. Between
scrapes the attack opens again every connection hamba closed, so every scrape finds the 64
places taken. hamba makes room by evicting the connection whose answer has been stalled the
longest (reset, which the attack sees); without that, the new connection is closed unanswered
("Connection reset by peer", "Remote end closed connection without response").

The write deadline (10 s) that also cuts such connections is not waited for here: the unit tests
(services_http_server_limits.cpp) check it with a short one.

No assertion depends on the machine's speed: the one wait on time is a lower bound (the stall
must have lasted write_stall_ms, counted from when every answer was seen to start), and the
1 s per scrape is a socket timeout on loopback, where an answer takes milliseconds.
"""

import http.client
import socket
import struct
import time
import unittest

from harness import free_port, start_hamba, wait_port, wait_until
from hamba_helpers import TagServer

ATTACKERS = 64       # the admin server's max_connections
SERVERS = 64         # /metrics grows ~2 KB per server
SCRAPES = 10
SCRAPE_TIMEOUT = 1.0  # seconds, per socket operation of a scrape
STALL = 1.0          # the admin server's write_stall_ms, in seconds
RCVBUF = 1024        # the attack's receive buffer (the kernel doubles it, ~2 KB)
MSS = 536            # announced in the attack's SYN: hamba's kernel sizes its send buffer on it
REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8  # tcp_info.tcpi_state (linux/tcp_states.h)


def stalled_socket():
    """A client socket that holds a zero window: set before the connect, never read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
    return s


def closed_by_peer(s):
    """The peer's FIN or RST has come, seen without reading (reading would open the window)."""
    state = struct.unpack("B", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0]
    return state in (TCP_CLOSE, TCP_CLOSE_WAIT)


def kernel_buffering():
    """How many bytes a sender's and a stalled reader's kernels take on loopback before the
    sender's writes block: what an answer must exceed for its write to stall."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with stalled_socket() as reader:
            reader.connect(listener.getsockname())
            sender, _ = listener.accept()
            with sender:
                sender.setblocking(False)
                total = 0
                for _ in range(3):  # the buffers do not grow while the window is shut
                    try:
                        while True:
                            total += sender.send(b"x" * 65536)
                    except BlockingIOError:
                        pass
                    time.sleep(0.05)
                return total


class StalledReaders:
    """`count` connections to the admin port, each with one GET /metrics it never reads."""

    def __init__(self, port, count):
        self.port = port
        self.socks = [None] * count
        self.closed = 0  # connections hamba closed (each opened again)

    def _open(self, i):
        s = stalled_socket()
        s.settimeout(10.0)  # a bound, not an expectation: loopback connects complete at once
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(REQUEST)
        except OSError:
            s.close()
            return
        self.socks[i] = s

    def round(self):
        """Opens again what hamba closed (and what failed to open)."""
        for i, s in enumerate(self.socks):
            if s is not None and closed_by_peer(s):
                s.close()
                self.socks[i] = None
                self.closed += 1
            if self.socks[i] is None:
                self._open(i)

    def all_answering(self):
        """Every connection has the first bytes of its answer: hamba accepted it and is writing."""
        for s in self.socks:
            try:
                if s is None or not s.recv(12, socket.MSG_PEEK | socket.MSG_DONTWAIT).startswith(
                        b"HTTP/1.1 200"):
                    return False
            except BlockingIOError:
                return False
        return True

    def close(self):
        for s in self.socks:
            if s is not None:
                s.close()


def scrape(port):
    """GET /metrics on a new connection: None when answered in full, else what went wrong."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SCRAPE_TIMEOUT)
    try:
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        body = r.read()  # raises IncompleteRead on a short body
        if r.status != 200 or b"hamba_frontend_connections_total" not in body:
            return f"status {r.status}, {len(body)} bytes"
        return None
    except (OSError, http.client.HTTPException) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        conn.close()


class AdminWithStalledReaders(unittest.TestCase):
    def test_scrapes_answered_while_64_clients_do_not_read(self):
        admin = free_port()
        with TagServer("a") as backend:
            # One server that answers, the others on loopback addresses where nothing listens
            # (down when checked; only their lines in /metrics matter).
            servers = [f"127.0.0.{i + 1}:{backend.port}" for i in range(SERVERS)]
            hamba, _ = start_hamba(servers, "--admin", f"127.0.0.1:{admin}",
                                   "--check-interval", "1h")
            with hamba:
                wait_port(admin)
                metrics = self._metrics_size(admin)
                buffered = kernel_buffering()
                # The premise: an answer the reader does not take stays in hamba's hands.
                self.assertGreater(metrics, 2 * buffered,
                                   f"/metrics is {metrics} bytes, the kernels take {buffered}")

                attack = StalledReaders(admin, ATTACKERS)
                failures = []
                try:
                    attack.round()
                    wait_until(attack.all_answering, timeout=10.0,
                               what=f"hamba to start answering {ATTACKERS} stalled readers")
                    time.sleep(STALL + 0.2)  # every answer now stalled for write_stall_ms
                    for i in range(SCRAPES):
                        attack.round()
                        problem = scrape(admin)
                        if problem:
                            failures.append(f"scrape {i + 1}: {problem}")
                        time.sleep(0.2)  # the scrapes' pace: 10 over a few seconds
                    attack.round()
                    held = sum(1 for s in attack.socks if s is not None)
                finally:
                    attack.close()
                print(f"stalled readers: {ATTACKERS} connections, {attack.closed} closed by "
                      f"hamba (each opened again), {held} open at the end; /metrics {metrics} "
                      f"bytes, the kernels buffer {buffered}; scrapes: {SCRAPES - len(failures)} "
                      f"answered, {len(failures)} failed")
                self.assertTrue(hamba.running(), hamba.log())
                self.assertEqual(failures, [])
                # The attack was real: hamba had to evict stalled readers to answer.
                self.assertGreater(attack.closed, 0)

    def _metrics_size(self, admin):
        conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=10)
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            return len(r.read())
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
