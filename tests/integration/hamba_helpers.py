"""Small TCP servers for hamba to balance over in the integration tests (stdlib only, threads in
the test process), and clients of hamba's frontends and admin listener.

    with TagServer("a") as a:            # answers every connection with "a", then closes
        hamba, port = start_hamba([f"127.0.0.1:{a.port}"], "--check-interval", "1h")
        with hamba:
            assert greeting(port) == b"a"

Every server listens on 127.0.0.1 (or the loopback `host` given) on a kernel-chosen port (or the
`port` given) and stops (closing its socket) on exit from the `with` block.
"""

import ctypes
import hashlib
import json
import os
import socket
import threading

from fault_server import stream_block
from harness import http_request


def connect(port, host="127.0.0.1", timeout=10.0):
    """A client connection to host:port (blocking, with `timeout` on each operation)."""
    return socket.create_connection((host, port), timeout=timeout)


def greeting(port, host="127.0.0.1", size=64):
    """The first bytes a new connection to `port` receives (one read): which TagServer ("a") or
    TaggedEcho ("a\n") served it."""
    with connect(port, host) as c:
        return c.recv(size)


def stats_json(admin_port):
    """hamba's /stats.json from its admin listener, parsed."""
    status, _, body = http_request(admin_port, "GET", "/stats.json")
    if status != 200:
        raise AssertionError(f"/stats.json answered {status}: {body!r}")
    return json.loads(body)


class _Server:
    def __init__(self, host="127.0.0.1", port=0):
        self.host = host
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.active = 0  # connections open now
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn):
        with self._lock:
            self.active += 1
        try:
            with conn:
                self.serve(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self.active -= 1

    def serve(self, conn):
        raise NotImplementedError

    def address(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def close(self):
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Backend(_Server):
    """Runs `handler(conn)` in a thread of its own for each connection (closed afterwards)."""

    def __init__(self, handler, host="127.0.0.1", port=0):
        self.handler = handler
        super().__init__(host, port)

    def serve(self, conn):
        self.handler(conn)


class TagServer(_Server):
    """Sends its tag and closes: which backend served a connection."""

    def __init__(self, tag):
        self.tag = tag.encode()
        super().__init__()

    def serve(self, conn):
        conn.sendall(self.tag)


class EchoServer(_Server):
    """Echoes until the client's EOF, then sends "bye" and closes (a half-close test)."""

    def serve(self, conn):
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        conn.sendall(b"<eof seen>")


class TaggedEcho(_Server):
    """Greets each connection with "<tag>\\n", then echoes until EOF and shuts its write side.

    `count`: connections accepted (health checks included); `served`: those that sent data, so
    tests can see where hamba sent them.
    """

    def __init__(self, tag, host="127.0.0.1", port=0):
        self.tag = tag
        self.served = 0
        super().__init__(host, port)

    @property
    def count(self):
        return self.accepted

    def serve(self, conn):
        conn.sendall(self.tag.encode() + b"\n")
        first = True
        while True:
            data = conn.recv(65536)
            if not data:
                break
            if first:
                first = False
                with self._lock:
                    self.served += 1
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)


class HashServer(_Server):
    """Sends `size` bytes of a deterministic stream while hashing what it receives.

    After the client's EOF and its own sending, closes. `received_digest` holds the sha256 of what
    it received (per connection, in order)."""

    def __init__(self, size):
        self.size = size
        self.received = []
        super().__init__()

    def serve(self, conn):
        sender = threading.Thread(target=self._send, args=(conn,))
        sender.start()
        received = read_digest(conn)
        sender.join()
        self.received.append(received)

    def _send(self, conn):
        try:
            send_stream(conn, self.size, b"server")
        except OSError:
            pass  # a probe (health check, wait_port) that did not want the stream


class SlowServer(_Server):
    """Accepts and holds connections open, sending `chunk` every `interval` seconds until closed."""

    def __init__(self, chunk=b"", interval=0.1):
        self.chunk = chunk
        self.interval = interval
        self.closed = threading.Event()
        super().__init__()

    def serve(self, conn):
        import time
        conn.settimeout(self.interval)
        while not self._stop:
            if self.chunk:
                conn.sendall(self.chunk)
            try:
                if conn.recv(65536) == b"":
                    return
            except socket.timeout:
                pass
            time.sleep(0)


class FirehoseServer(_Server):
    """Sends `size` bytes as fast as the client takes them, then closes."""

    def __init__(self, size):
        self.size = size
        self.sent = 0
        super().__init__()

    def serve(self, conn):
        block = b"x" * 65536
        left = self.size
        while left > 0:
            n = conn.send(block[: min(left, len(block))])
            left -= n
            self.sent += n


def read_digest(sock):
    """Reads `sock` until EOF: (bytes received, their sha256 hex digest)."""
    digest = hashlib.sha256()
    count = 0
    while True:
        data = sock.recv(1 << 16)
        if not data:
            return count, digest.hexdigest()
        digest.update(data)
        count += len(data)


def stream_blocks(size, seed):
    """The first `size` bytes of fault_server's deterministic stream for `seed`, in blocks."""
    index = 0
    while size > 0:
        block = stream_block(seed, index)[:size]
        yield block
        size -= len(block)
        index += 1


def send_stream(conn, size, seed):
    """Sends `size` bytes of the stream for `seed`, then shuts the write side."""
    for block in stream_blocks(size, seed):
        conn.sendall(block)
    conn.shutdown(socket.SHUT_WR)


def stream_digest(size, seed):
    """sha256 hex of the first `size` bytes of the stream for `seed`."""
    digest = hashlib.sha256()
    for block in stream_blocks(size, seed):
        digest.update(block)
    return digest.hexdigest()


def rss_kib(pid):
    """Resident memory of process `pid`, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


SYS_PIDFD_GETFD = 438  # x86_64 and aarch64 alike


def copy_fd(pid, fd):
    """A copy of descriptor `fd` of process `pid` (pidfd_getfd, Linux 5.6; needs ptrace rights
    over it: root, or the same user with ptrace allowed), to ask its socket options. OSError
    (EPERM, EACCES, ENOSYS) where it cannot be had."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return copy
    finally:
        os.close(pidfd)


def proc_sockets(pid):
    """The TCP and UDP sockets (IPv4 and IPv6) that process `pid` holds, read from /proc (no
    external tools): one dict per socket, with `fd`, `proto` ("tcp", "tcp6", "udp", "udp6"),
    `local` and `remote` (the kernel's hex "ADDR:PORT"), `port` and `peer_port` (ints) and
    `state` (hex, "0A" is LISTEN)."""
    fds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            fds[target[8:-1]] = int(fd)
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with open(f"/proc/{pid}/net/{proto}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[9] in fds:
                    found.append({"fd": fds[fields[9]], "proto": proto, "local": fields[1],
                                  "remote": fields[2], "state": fields[3],
                                  "port": int(fields[1].rsplit(":", 1)[1], 16),
                                  "peer_port": int(fields[2].rsplit(":", 1)[1], 16)})
    return found
