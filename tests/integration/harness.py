"""Shared helpers for the integration and end-to-end tests (stdlib only).

Every test script starts real processes on loopback and must clean them up, even when it fails:
use `with Process(...)` (any program) or `with Hamba(...)` (hamba itself, with its own control
socket and config file), which kill what they started on exit. Ports come from `free_port()` (the
kernel picks one), never hard-coded, so tests can run side by side. wait_until() is the one way
to wait for a condition, in the integration tests and the Docker ones (tests/e2e) alike.

    from harness import assert_stops_cleanly, start_hamba
    hamba, port = start_hamba([f"127.0.0.1:{server_port}"], "--check-interval", "1h")
    with hamba:
        ...
        assert_stops_cleanly(self, hamba)
"""

import errno
import fcntl
import http.client
import json
import os
import random
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


_handed_out = set()


def _free_port_range():
    """[first, end) of the ports free_port() hands out: the 12000 below the kernel's ephemeral
    range. The kernel takes the local port of every outgoing connection, and of every bind to
    port 0, from that range, so a port chosen there can be taken by some test's client between
    the choice and the bind (hamba then exits with EADDRINUSE); below it, only another
    free_port() could, which the reservations below rule out. Empty where that range starts too
    low to leave room."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(10000, low - 12000), low


def _bindable(host, port):
    """True if port binds on host and on the wildcard address (hamba's bare PORT form listens on
    [::] or 0.0.0.0): nothing listens there, nothing is connected from it, no TIME_WAIT."""
    wildcards = ["::", "0.0.0.0"] if socket.has_ipv6 else ["0.0.0.0"]
    for h in [host, *wildcards]:
        family = socket.AF_INET6 if ":" in h else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((h, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return False
            if h == host:
                raise  # not an address of this machine: the caller's mistake
            # no IPv6 here: the IPv4 wildcard is the one that counts
    return True


_RESERVATION_SECONDS = 900  # longer than any test's CTest timeout (600 s)


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host (and on the wildcard address) now, and that no test
    process was handed in the last 15 minutes: the port is reserved in a directory every test
    process on this machine shares, under a lock, so tests that run side by side (ctest -j2, the
    two twins of one script) never get the same one. Outside the kernel's ephemeral range (see
    _free_port_range); where that leaves no room, the kernel's choice, unique in this process
    only."""
    first, end = _free_port_range()
    if end - first < 1000:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for _ in range(100):
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
        raise AssertionError("no fresh port in 100 tries")
    directory = os.path.join(tempfile.gettempdir(), f"hamba-test-ports-{os.getuid()}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        for _ in range(500):
            port = random.randrange(first, end)
            mark = os.path.join(directory, str(port))
            try:
                if time.time() - os.stat(mark).st_mtime < _RESERVATION_SECONDS:
                    continue  # another test's, or this one's
            except FileNotFoundError:
                pass
            if port in _handed_out or not _bindable(host, port):
                continue
            with open(mark, "w"):
                pass  # (re)written: its time is the reservation's
            _handed_out.add(port)
            return port
    raise AssertionError(f"no free port in {first}-{end - 1} after 500 tries")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition", retry_on=()):
    """Polls predicate() until it returns a truthy value, which it returns; fails the test
    (AssertionError) after `timeout` seconds. An exception of a type in `retry_on` counts as "not
    yet" (the last one is in the failure message); any other propagates."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except retry_on as e:
            last = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                 + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def wait_port(port, host="127.0.0.1", timeout=10.0):
    """Blocks until something accepts TCP connections on host:port; fails after `timeout`."""
    def accepts():
        with socket.create_connection((host, port), timeout=1.0):
            return True
    wait_until(accepts, timeout, interval=0.02, what=f"a listener on {host}:{port}",
               retry_on=OSError)


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


def write_file(path, text):
    """(Re)writes the file at `path` with `text`; returns the path."""
    with open(path, "w") as f:
        f.write(text)
    return path


def hamba_command(*args, env=None, timeout=30.0):
    """`hamba ARGS...` run to completion (CompletedProcess with text stdout and stderr)."""
    return run([bin_path("hamba"), *args], timeout=timeout, env=env)


class Hamba(Process):
    """`hamba ARGS...` under test, returned once it is up: its control socket exists and every
    port in `ports` accepts connections (the readiness probe of a frontend port goes through
    hamba to a server). Killed, and its directory removed, on exit from the `with` block.

    It has a private directory: `control` is its control socket, given as HAMBA_CONTROL so it
    never meets another test's; `config` is a YAML path that `config=TEXT` fills before the start
    (and adds `--config` to the arguments) and write_config() rewrites for a reconfigure. The
    test's environment reaches hamba (HAMBA_THREADS, sanitizer options), with `env` on top.
    `wrapper` goes before the binary: a command that execs it (prlimit, unshare).

        port = free_port()
        with Hamba(config=f'frontends:\n  - bind: "127.0.0.1:{port}"\n ...', ports=[port]) as h:
            h.write_config(...)
            h.ctl("reconfigure", "--config", h.config)
            assert_stops_cleanly(self, h)
    """

    def __init__(self, *args, config=None, ports=(), env=None, wrapper=()):
        self.dir = tempfile.mkdtemp(prefix="hamba-test-")
        self.control = os.path.join(self.dir, "ctl.sock")
        self.config = os.path.join(self.dir, "hamba.yaml")
        if config is not None:
            self.write_config(config)
            args = ("--config", self.config, *args)
        self.env = {"HAMBA_CONTROL": self.control, **(env or {})}
        self.control = self.env["HAMBA_CONTROL"]  # a test may choose its own
        super().__init__([*wrapper, bin_path("hamba"), *args], env=self.env)
        try:
            wait_until(self._control_accepts, what="hamba's control socket", retry_on=OSError)
            if not self.running():
                raise AssertionError(f"hamba exited early:\n{self.log()}")
            for port in ports:
                wait_port(port)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise

    def _control_accepts(self):
        """True once the control socket takes a connection (it exists a moment before it
        listens), or once hamba has exited."""
        if not self.running():
            return True
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.control)
        return True

    def write_config(self, text):
        """(Re)writes `config` with `text`; returns its path."""
        return write_file(self.config, text)

    def ctl(self, *args, env=None):
        """`hamba ARGS...` against this hamba's control socket, run to completion."""
        return hamba_command(*args, env={**self.env, **(env or {})})

    def __exit__(self, *exc):
        super().__exit__(*exc)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def start_hamba(servers, *options, env=None):
    """`hamba OPTIONS... PORT SERVERS...` on a free port: (Hamba, port), once it is up."""
    port = free_port()
    return Hamba(*options, port, *servers, ports=[port], env=env), port


def assert_stops_cleanly(test, proc):
    """SIGTERM: `proc` (a Process) exits 0 and its log holds no sanitizer report."""
    test.assertEqual(proc.stop(), 0, proc.log())
    test.assertNotIn("Sanitizer", proc.log())


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


def recv_until(sock, end, size=4096):
    """What `sock` receives until it ends with `end`, or until the other side closes first (the
    caller's assertion then sees what came)."""
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(size)
        if not chunk:
            break
        data += chunk
    return data


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


def probe_done(admin, frontend=0):
    """True once hamba's admin endpoint at port `admin` counts a connection on its frontend and
    has none open: wait_port's probe has taken its turn. A worker may accept the probe a moment
    after the port answered, so tests that count turns wait for this first."""
    f = json.loads(http_request(admin, "GET", "/stats.json")[2])["frontends"][frontend]
    return f["total"] >= 1 and f["current"] == 0


def artifact_path(name):
    """Where a test keeps something for a human to look at afterwards (screenshots, logs)."""
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)
    return os.path.join(ARTIFACTS_DIR, name)
