"""Helpers for the fault suite (test_fault_*.py, CTest label `fault`): backends that are
processes of their own (fault_server.py, so a test can kill them), clients that check every byte
by sha256 and say how their connection ended, a small in-test proxy that injects Toxiproxy's
faults on the server side (latency, bandwidth, slow close, reset, limit data, timeout), and
hamba's descriptor and memory use read from /proc.

    with ServerProcess("a") as a:
        hamba, port = start_hamba([a.address()], "--check-interval", "1h")
        with hamba:
            r = download(port, 1 << 20, b"seed")      # Transfer(ok=True, end="eof", ...)

Every client call is bounded in time (socket timeouts); every thread is a daemon.
"""

import hashlib
import os
import socket
import sys
import threading
import time

from hamba_helpers import _Server, stream_digest
from harness import Process, free_port, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
# Memory bounds do not apply under a sanitizer (ASan and TSan shadow memory grows with use).
SANITIZED = os.environ.get("HAMBA_SANITIZE") in ("ON", "thread")


def is_stream_prefix(data_len, digest, seed):
    """True when `data_len` bytes with sha256 `digest` are the start of the stream for `seed`."""
    return stream_digest(data_len, seed) == digest


class ServerProcess:
    """fault_server.py as a child process on 127.0.0.1 (a fixed `port` to restart it on the same
    address). kill() is SIGKILL: the kernel closes its sockets as a crash would."""

    def __init__(self, tag, port=None, host="127.0.0.1", pace_kib_s=0, silent=False):
        self.tag = tag
        self.silent = silent
        self.host = host
        self.port = port or free_port(host)
        self.pace = pace_kib_s
        self.proc = None
        self.start()

    def start(self):
        argv = [sys.executable, os.path.join(HERE, "fault_server.py"), "--host", self.host,
                "--port", self.port, "--tag", self.tag]
        if self.pace:
            argv += ["--pace-kib-s", self.pace]
        if self.silent:
            argv.append("--silent")
        self.proc = Process(argv)
        wait_port(self.port, self.host)

    def kill(self):
        self.proc.kill()

    def address(self):
        return f"{self.host}:{self.port}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.__exit__(*exc)
        return False


class Transfer:
    """How one client connection went: bytes and sha256 of what came back, and how it ended:
    "eof" (orderly close), "reset" (ECONNRESET / EPIPE), "timeout" (no byte for `timeout` s) or
    "refused"."""

    def __init__(self):
        self.count = 0
        self.digest = hashlib.sha256()
        self.end = None
        self.seconds = 0.0
        self.tag = None

    def hexdigest(self):
        return self.digest.hexdigest()

    def __repr__(self):
        return f"Transfer(count={self.count}, end={self.end}, {self.seconds:.2f}s)"


def _read_into(sock, t, read_size=1 << 16, pause=0.0, limit=None):
    while True:
        data = sock.recv(read_size)
        if not data:
            t.end = "eof"
            return
        t.digest.update(data)
        t.count += len(data)
        if pause:
            time.sleep(pause)
        if limit is not None and t.count >= limit:
            return


def run_client(port, command, payload=b"", timeout=10.0, read_size=1 << 16, pause=0.0,
               on_connected=None, host="127.0.0.1"):
    """One connection: sends `command` line, then `payload` (in a thread, then shuts the write
    side), reads until EOF, reset or `timeout` seconds without a byte. Returns a Transfer."""
    t = Transfer()
    start = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        t.end = "refused"
        return t
    with sock:
        if on_connected:
            on_connected(sock)
        sender_error = []

        def send():
            try:
                sock.sendall(command + payload)
                sock.shutdown(socket.SHUT_WR)
            except OSError as e:
                sender_error.append(e)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            _read_into(sock, t, read_size, pause)
        except (ConnectionResetError, BrokenPipeError):
            t.end = "reset"
        except socket.timeout:
            t.end = "timeout"
        sender.join(timeout)
    t.seconds = time.monotonic() - start
    return t


def download(port, size, seed, **kw):
    """`get SIZE SEED` through hamba; the Transfer is ok when its digest is the full stream."""
    t = run_client(port, f"get {size} {seed.decode()}\n".encode(), **kw)
    t.ok = t.end == "eof" and t.count == size and t.hexdigest() == stream_digest(size, seed)
    t.prefix = is_stream_prefix(t.count, t.hexdigest(), seed)
    return t


def echo(port, payload, **kw):
    """`echo` through hamba; ok when exactly `payload` came back, then an orderly EOF."""
    t = run_client(port, b"echo\n", payload, **kw)
    t.ok = t.end == "eof" and t.count == len(payload) and \
        t.hexdigest() == hashlib.sha256(payload).hexdigest()
    return t


def who(port, timeout=10.0):
    """The tag of the server a new connection through hamba reaches ("" if none answered)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"who\n")
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    return data.decode(errors="replace").strip()


def fd_count(pid):
    """Open descriptors of process `pid`."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class Toxics:
    """What ToxicProxy does to the server's side of each connection (Toxiproxy's catalogue).
    Every field off (0 / None) by default."""

    def __init__(self, latency_ms=0, rate_kib_s=0, slow_close_ms=0, reset_after=None,
                 limit_data=None, timeout=False):
        self.latency_ms = latency_ms      # each chunk delayed that long, both directions
        self.rate_kib_s = rate_kib_s      # each direction paced to that rate
        self.slow_close_ms = slow_close_ms  # an EOF passed on that much later
        self.reset_after = reset_after    # bytes server -> client, then both sides reset
        self.limit_data = limit_data      # bytes server -> client, then an orderly close
        self.timeout = timeout            # connect upstream, then pass nothing ever


def _reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    except OSError:
        pass


class ToxicProxy(_Server):
    """A TCP proxy on 127.0.0.1 in front of `upstream` (HOST:PORT) that applies `toxics` (which a
    test may replace between connections). hamba's server is the proxy's address."""

    def __init__(self, upstream, toxics=None):
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.toxics = toxics or Toxics()
        super().__init__()

    def serve(self, down):
        self._serve(down, self.toxics)

    def _serve(self, down, tx):
        try:
            up = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(down)
            return
        if tx.timeout:
            # Toxiproxy's "timeout": the connection stays, nothing passes, until the other side
            # gives up.
            try:
                down.settimeout(60)
                while down.recv(65536):
                    pass
            except OSError:
                pass
            _reset(up)
            down.close()
            return
        state = {"done": 0, "reset": False}
        lock = threading.Lock()

        def pump(src, dst, to_client):
            sent = 0
            start = time.monotonic()
            limit = (tx.reset_after if tx.reset_after is not None else tx.limit_data) \
                if to_client else None
            try:
                while True:
                    data = src.recv(16384)
                    if not data:
                        break
                    if limit is not None:
                        data = data[:max(0, limit - sent)]
                    if tx.latency_ms:
                        time.sleep(tx.latency_ms / 1000)
                    if data:
                        dst.sendall(data)
                        sent += len(data)
                    if tx.rate_kib_s:
                        ahead = sent / (tx.rate_kib_s * 1024) - (time.monotonic() - start)
                        if ahead > 0:
                            time.sleep(ahead)
                    if limit is not None and sent >= limit:
                        if tx.reset_after is not None:
                            with lock:
                                state["reset"] = True
                            _reset(dst)
                            _reset(src)
                            return
                        break
                if tx.slow_close_ms:
                    time.sleep(tx.slow_close_ms / 1000)
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                with lock:
                    state["reset"] = True
                _reset(dst)
                _reset(src)
                return
            finally:
                with lock:
                    state["done"] += 1

        t1 = threading.Thread(target=pump, args=(down, up, False), daemon=True)
        t2 = threading.Thread(target=pump, args=(up, down, True), daemon=True)
        t1.start()
        t2.start()
        t1.join()
        t2.join()
        for s in (down, up):
            try:
                s.close()
            except OSError:
                pass


def parallel(fn, args_list, timeout=60.0):
    """Runs fn(*args) for each args in threads; returns their results in order (None for one
    still running after `timeout`, which the caller's assertions then catch)."""
    results = [None] * len(args_list)

    def run(i, args):
        results[i] = fn(*args)

    threads = [threading.Thread(target=run, args=(i, a), daemon=True)
               for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return results
