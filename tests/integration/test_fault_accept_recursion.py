"""A long accept queue of clients whose sessions end inside their own accept must not make hamba
recurse once per client. hamba (its stacks limited to 256 KiB, 1 MiB under ThreadSanitizer:
glibc sizes thread stacks from RLIMIT_STACK, and musl's default thread stack is 128 KiB) is stopped (SIGSTOP) while 4000
clients connect and send a first line, then resumed (SIGCONT). Each session ends at its accept,
which frees a slot: hamba must take the next client from the queue in the same loop, not one
stack level deeper per client. Three ways to end there:
- an accept_proxy frontend, a bad PROXY header (read at the accept);
- a frontend with routes, a first byte that is not TLS (read at the accept);
- a server whose connect fails inside connect(2) (a multicast address), on every retry.
Afterwards hamba is alive, every one of the 4000 saw its connection closed (EOF or reset), all
4000 were counted (proxy_header_errors, client_hello_errors, errors in /stats.json), and where
there is a server a good client is served."""

import errno
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

from hamba_helpers import Backend, stats_json
from slow_path import python_client_hello
from harness import Hamba, free_port, probe_done, read_all, wait_until

CLIENTS = 4000
# ThreadSanitizer's runtime needs more than 256 KiB of stack for a thread to start at all
# (hamba segfaults before its first line); 1 MiB still holds a few hundred levels of the old
# recursion, not 4000.
STACK = (1024 if os.environ.get("HAMBA_SANITIZE") == "thread" else 256) * 1024
BAD_HEADER = b"GET / HTTP/1.0\r\n\r\n"  # no PROXY header: refused as soon as it is read
# hamba's stack limited, then exec'd (same pid, so SIGSTOP and SIGCONT reach it).
STACK_SHIM = [sys.executable, "-c",
              "import os, resource, sys; "
              f"resource.setrlimit(resource.RLIMIT_STACK, ({STACK}, {STACK})); "
              "os.execv(sys.argv[1], sys.argv[1:])"]


def serve(conn):
    """The server: "served", its write side shut, then what the client sends read to its EOF
    (closing with bytes unread would reset the connection)."""
    conn.settimeout(10)
    conn.sendall(b"served")
    conn.shutdown(socket.SHUT_WR)
    while conn.recv(65536):
        pass


def listen_backlog(port):
    """Connections waiting in the accept queues of the sockets listening on `port` (the
    rx_queue column of a LISTEN socket in /proc/net/tcp is its accept backlog)."""
    total = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                total += int(fields[4].split(":")[1], 16)
    return total


def process_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def connect_all(port, count, batch=250, timeout=20.0):
    """`count` connections to 127.0.0.1:port, each sending BAD_HEADER once connected; made
    non-blocking, `batch` at a time. Returns the sockets."""
    socks = []
    deadline = time.monotonic() + timeout
    while len(socks) < count:
        pending = {}
        for _ in range(min(batch, count - len(socks))):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                raise AssertionError(f"connect: {os.strerror(err)}")
            pending[s.fileno()] = s
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(pending)} connects not done in {timeout}s "
                                     f"({len(socks)} done)")
            for fd, _ in poller.poll(500):
                s = pending.pop(fd)
                poller.unregister(fd)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise AssertionError(f"connect: {os.strerror(err)}")
                s.sendall(BAD_HEADER)
                socks.append(s)
    return socks


def wait_all_closed(socks, timeout=30.0):
    """Reads every socket until its EOF or reset; returns those still open after `timeout`."""
    open_ = {s.fileno(): s for s in socks}
    poller = select.poll()
    for fd in open_:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for fd, _ in poller.poll(500):
            s = open_[fd]
            try:
                if s.recv(4096):
                    continue  # hamba answers nothing; a byte would show in the assertion
            except BlockingIOError:
                continue
            except OSError:
                pass  # reset: closed too
            poller.unregister(fd)
            del open_[fd]
    return list(open_.values())


class AcceptQueueRecursion(unittest.TestCase):
    def setUp(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = CLIENTS + 1000
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest(f"RLIMIT_NOFILE hard limit {hard} < {want}")
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        with open("/proc/sys/net/core/somaxconn") as f:
            somaxconn = int(f.read())
        if somaxconn < CLIENTS:  # hamba listens with a backlog of 4096, capped by it
            self.skipTest(f"net.core.somaxconn {somaxconn} < {CLIENTS}: the accept queue "
                          f"cannot hold the clients")

    def test_bad_proxy_headers(self):
        def good(port):  # a valid header is served
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 4000 80\r\n")
                self.assertEqual(read_all(c), b"served")
        self.check("    accept_proxy: true\n", "proxy_header_errors", good)

    def test_not_tls_on_a_routes_frontend(self):
        def good(port):  # a ClientHello for a.test reaches its route's server
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(python_client_hello("a.test"))
                self.assertEqual(read_all(c), b"served")
        self.check("    routes:\n      - name: a\n        sni: [a.test]\n"
                   "        servers: [\"{server}\"]\n", "client_hello_errors", good)

    def test_connect_fails_at_once_on_every_try(self):
        # A TCP connect to a multicast address fails inside connect(2) (ENETUNREACH), on each of
        # the retries: the session ends in its accept.
        self.check("", "errors", None, servers=["224.0.0.1:9"])

    def check(self, options, counter, good, servers=None):
        self.socks = []
        try:
            self.run_check(options, counter, good, servers)
        finally:
            for s in self.socks:
                s.close()

    def run_check(self, options, counter, good, servers):
        port, admin = free_port(), free_port()
        with Backend(serve) as server:
            servers = servers or [server.address()]
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                      f'  - name: f\n    bind: "127.0.0.1:{port}"\n    check: false\n'
                      f'    servers: {json.dumps(servers)}\n'
                      + options.replace("{server}", server.address()))
            with Hamba(config=config, ports=[port, admin], wrapper=STACK_SHIM) as hamba:
                frontend = lambda: stats_json(admin)["frontends"][0]
                try:
                    wait_until(lambda: probe_done(admin), what="the readiness probe done")
                    before = frontend()[counter]
                    hamba.signal(signal.SIGSTOP)
                    wait_until(lambda: process_state(hamba.pid) == "T", what="hamba stopped")
                    started = time.monotonic()
                    self.socks = connect_all(port, CLIENTS)
                    # Each is in an accept queue once its first bytes are there (where the client
                    # speaks first, the listener defers accepts: TCP_DEFER_ACCEPT).
                    wait_until(lambda: listen_backlog(port) >= CLIENTS, timeout=20,
                               what=f"{CLIENTS} clients in hamba's accept queues")
                    print(f"{CLIENTS} clients queued in {time.monotonic() - started:.1f}s")
                finally:
                    hamba.signal(signal.SIGCONT)
                still_open = wait_all_closed(self.socks)
                try:
                    frontend()  # alive: it answers (a crash closes its sockets before it exits)
                except OSError as e:
                    try:
                        code = hamba.wait(10)
                    except subprocess.TimeoutExpired:
                        code = f"none yet, its admin listener: {e}"
                    closed = hamba.log().count("closing client")
                    self.fail(f"hamba died (exit {code}) after closing {closed} of {CLIENTS} "
                              f"clients:\n{hamba.log()[-2000:]}")
                self.assertEqual(len(still_open), 0,
                                 f"{len(still_open)} of {CLIENTS} clients not closed")
                wait_until(lambda: frontend()[counter] - before == CLIENTS,
                           what=f"{CLIENTS} more {counter} counted")
                if good:
                    good(port)
                print(f"all {CLIENTS} closed {time.monotonic() - started:.1f}s after the first "
                      f"connect" + ("; a good client served afterwards" if good else ""))
                self.assertEqual(hamba.stop(), 0, hamba.log()[-3000:])
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
