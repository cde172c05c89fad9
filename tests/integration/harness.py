"""Shared helpers for the integration and end-to-end tests (stdlib only).

Every test script starts real processes on loopback and must clean them up, even when it fails:
use `with Process(...)` or `ProcessGroup`, which kill what they started on exit. Ports come from
`free_port()` (the kernel picks one), never hard-coded, so tests can run side by side.

    from harness import Process, bin_path, free_port, wait_port
    port = free_port()
    with Process([bin_path("hamba"), str(port), f"127.0.0.1:{backend}"]) as hamba:
        wait_port(port)
        ...
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN_DIR = os.environ.get("HAMBA_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE_DIR = os.environ.get("HAMBA_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS_DIR = os.environ.get("HAMBA_ARTIFACTS_DIR") or os.path.join(SOURCE_DIR, "build",
                                                                      "test-artifacts")


def bin_path(name):
    """Absolute path of one of the project's executables in build/bin."""
    path = os.path.abspath(os.path.join(BIN_DIR, name))
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not built (set HAMBA_BIN_DIR or build first)")
    return path


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host (the kernel's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0):
    """Block until something accepts TCP connections on host:port, or raise after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as e:
            last = e
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s ({last})")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it returns a truthy value (returned), or raise after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met after {timeout}s")


class Process:
    """A child process whose stderr (and stdout) go to a temporary log file.

    Killed (SIGKILL, whole process group) on exit from the `with` block if still running.
    `log()` returns what it printed so far, for assertions and for failure messages.
    """

    def __init__(self, argv, env=None, cwd=None, stdin=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        self._logfile = tempfile.NamedTemporaryFile(prefix="hamba-test-", suffix=".log",
                                                    delete=False)
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        self.proc = subprocess.Popen(self.argv, stdout=self._logfile, stderr=subprocess.STDOUT,
                                     stdin=stdin, env=full_env, cwd=cwd, start_new_session=True)
        self.pid = self.proc.pid

    def log(self):
        with open(self._logfile.name, "r", errors="replace") as f:
            return f.read()

    def running(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout=10.0):
        """Wait for exit and return the exit code (negative: killed by that signal)."""
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=None, timeout=10.0):
        """Send sig (default SIGTERM), wait for exit, SIGKILL if it does not come; return the
        exit code."""
        # (the default cannot be written signal.SIGTERM: in the class body `signal` is the method)
        if sig is None:
            sig = signal.SIGTERM
        self.signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.wait()

    def kill(self):
        if self.running():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self._logfile.close()
        if exc[0] is not None:
            sys.stderr.write(f"--- log of {' '.join(self.argv)} ---\n{self.log()}\n---\n")
        try:
            os.unlink(self._logfile.name)
        except OSError:
            pass
        return False


def run(argv, timeout=30.0, env=None, input=None):
    """Run a command to completion; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, env=full_env, input=input)


def start_redis(port=None):
    """A throwaway redis-server on 127.0.0.1 (no persistence); returns (Process, port)."""
    exe = shutil.which("redis-server")
    if not exe:
        raise unittest.SkipTest("redis-server not installed")
    port = port or free_port()
    proc = Process([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--daemonize", "no"])
    wait_port(port)
    return proc, port


def read_all(sock, size=65536):
    """Everything `sock` receives until the other side closes (EOF)."""
    chunks = []
    while True:
        chunk = sock.recv(size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def send_and_read_all(sock, payload):
    """Sends payload on an open connection, shuts its write side, returns all it gets back."""
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    return read_all(sock)


def http_request(port, method, path, body=None, headers=None, host="127.0.0.1", timeout=15.0):
    """One HTTP request on a new connection; returns (status, headers with lower-case names,
    body). Any status is returned, 4xx and 5xx too."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def artifact_path(name):
    """Where a test keeps something for a human to look at afterwards (screenshots, logs)."""
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)
    return os.path.join(ARTIFACTS_DIR, name)
