"""Small TCP backends for the hamba integration tests (stdlib only, threads in the test process).

    with TagServer("a") as a:            # answers every connection with "a", then closes
        hamba = Process([bin_path("hamba"), port, f"127.0.0.1:{a.port}"])

Every server listens on 127.0.0.1 on a kernel-chosen port and stops (closing its socket) on exit
from the `with` block.
"""

import hashlib
import socket
import threading


class _Server:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
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


class HashServer(_Server):
    """Sends `size` bytes of a deterministic stream while hashing what it receives.

    After the client's EOF and its own sending, closes. `received_digest` holds the sha256 of what
    it received (per connection, in order)."""

    def __init__(self, size):
        self.size = size
        self.received = []
        super().__init__()

    def serve(self, conn):
        digest = hashlib.sha256()
        sender = threading.Thread(target=self._send, args=(conn,))
        sender.start()
        count = 0
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            digest.update(data)
            count += len(data)
        sender.join()
        self.received.append((count, digest.hexdigest()))

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


def read_all(sock, size=65536):
    """Everything `sock` receives until EOF."""
    data = b""
    while True:
        chunk = sock.recv(size)
        if not chunk:
            return data
        data += chunk


def stream_block(seed, index):
    """Block `index` of a deterministic pseudo-random stream (1 MiB blocks)."""
    return hashlib.sha256(seed + index.to_bytes(8, "big")).digest() * (1 << 15)


def send_stream(conn, size, seed):
    """Sends `size` bytes of the stream for `seed`, then shuts the write side."""
    index = 0
    left = size
    while left > 0:
        block = stream_block(seed, index)[:left]
        conn.sendall(block)
        left -= len(block)
        index += 1
    conn.shutdown(socket.SHUT_WR)


def stream_digest(size, seed):
    digest = hashlib.sha256()
    index = 0
    left = size
    while left > 0:
        block = stream_block(seed, index)[:left]
        digest.update(block)
        left -= len(block)
        index += 1
    return digest.hexdigest()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")

