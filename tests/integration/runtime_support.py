"""Helpers for the run-time tests (test_runtime_*.py): tagged echo backends, a hamba with its own
control socket, and a client that checks every byte it gets back.

    with TaggedEcho("a") as a, RuntimeHamba([port, f"127.0.0.1:{a.port}"]) as h:
        tag, ok = exchange(port, b"hello")        # ("a", True)
        h.ctl("showconfig")                       # CompletedProcess of `hamba showconfig`
"""

import hashlib
import os
import shutil
import socket
import socketserver
import tempfile
import threading

from harness import Process, bin_path, run, wait_port, wait_until


class TaggedEcho:
    """A backend that greets each connection with "<tag>\\n", then echoes until EOF.

    Counts the connections it accepted (`count`, health checks included) and those that sent
    data (`served`), so tests can see where hamba sent them.
    """

    def __init__(self, tag, host="127.0.0.1", port=0):
        self.tag = tag
        self.count = 0
        self.served = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with outer._lock:
                    outer.count += 1
                conn = self.request
                try:
                    conn.sendall(outer.tag.encode() + b"\n")
                    first = True
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        if first:
                            first = False
                            with outer._lock:
                                outer.served += 1
                        conn.sendall(data)
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.server = Server((host, port), Handler)
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def address(self):
        return f"{self.host}:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def finish(sock, payload):
    """Sends payload on an open connection, shuts its write side, returns all it gets back."""
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def exchange(port, payload, host="127.0.0.1", timeout=10.0):
    """One connection through hamba to a TaggedEcho: returns (tag, payload came back intact)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        reply = finish(s, payload)
    tag, _, echoed = reply.partition(b"\n")
    return tag.decode(errors="replace"), hashlib.sha256(echoed).digest() == hashlib.sha256(
        payload).digest()


class RuntimeHamba:
    """`hamba ARGS...` with its control socket in a private directory; `ctl(...)` runs the
    client commands against it. Killed and cleaned up on exit from the `with` block."""

    def __init__(self, args, env=None, wait_for=None, prefix=None):
        self.dir = tempfile.mkdtemp(prefix="hamba-rt-")
        self.control = os.path.join(self.dir, "ctl.sock")
        self.env = {"HAMBA_CONTROL": self.control}
        self.env.update(env or {})
        self.proc = Process((prefix or []) + [bin_path("hamba")] + [str(a) for a in args],
                            env=self.env)
        wait_until(lambda: os.path.exists(self.control) or not self.proc.running(),
                   what="control socket")
        if not self.proc.running():
            raise RuntimeError(f"hamba exited early:\n{self.proc.log()}")
        if wait_for:
            wait_port(wait_for)

    def ctl(self, *args, env=None):
        full_env = dict(self.env)
        full_env.update(env or {})
        return run([bin_path("hamba")] + [str(a) for a in args], env=full_env)

    def log(self):
        return self.proc.log()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.__exit__(*exc)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
