"""Helpers for the DockerCoins tests (stdlib only): HTTP requests, redis-cli, the services and
whole topologies started with scripts/run-local, and the mining rate measured from /json.

    with service("rng", "--delay-ms", 0) as rng:
        status, headers, body = http_request(rng.port, "GET", "/32")
    with RunLocal(workers=1) as stack:
        rate = measure_rate(stack.webui_port, 12)     # hashes/s, as the web page computes it
"""

import json
import os
import shutil
import socket
import sys
import time
import unittest

from harness import (BIN_DIR, SOURCE_DIR, Process, bin_path, free_port, http_request, read_all,
                     run, wait_port)


def raw_request(port, data, host="127.0.0.1", timeout=10.0):
    """Sends raw bytes, returns everything the server sent until it closed the connection."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        return read_all(s)


def get_json(port):
    status, _, body = http_request(port, "GET", "/json")
    if status != 200:
        raise AssertionError(f"/json answered {status}: {body!r}")
    return json.loads(body)


def assert_hello(test, name, banner):
    """GET / on service `name` answers 200 with "<banner> running on <hostname>\\n"."""
    with service(name, "--delay-ms", "0") as svc:
        status, _, body = http_request(svc.port, "GET", "/")
        test.assertEqual(status, 200)
        test.assertEqual(body, f"{banner} running on {socket.gethostname()}\n".encode())


def redis_cli(port, *args):
    exe = shutil.which("redis-cli")
    if not exe:
        raise unittest.SkipTest("redis-cli not installed")
    r = run([exe, "-h", "127.0.0.1", "-p", port] + [str(a) for a in args])
    if r.returncode != 0:
        raise AssertionError(f"redis-cli {args}: {r.stderr}")
    return r.stdout.strip()


class service(Process):
    """One DockerCoins service listening on a free loopback port (`.port`)."""

    def __init__(self, name, *args, env=None):
        self.port = free_port()
        super().__init__([bin_path(name), "--listen", f"127.0.0.1:{self.port}", *args], env=env)
        try:
            wait_port(self.port)
        except Exception:
            sys.stderr.write(self.log())
            self.kill()
            raise


class RunLocal(Process):
    """scripts/run-local on free ports; `webui_port`, `rng_port`, `hasher_port`, `redis_port`."""

    def __init__(self, topology="plain", workers=1, redis_port=None, external_redis=False,
                 extra=()):
        self.webui_port, self.rng_port, self.hasher_port = free_port(), free_port(), free_port()
        self.redis_port = redis_port or free_port()
        argv = [sys.executable, os.path.join(SOURCE_DIR, "scripts", "run-local"),
                "--bin", os.path.abspath(BIN_DIR), "--topology", topology,
                "--workers", workers, "--webui-port", self.webui_port,
                "--rng-port", self.rng_port, "--hasher-port", self.hasher_port,
                "--redis-port", self.redis_port, *extra]
        if external_redis:
            argv.append("--external-redis")
        super().__init__(argv)
        self.wait_up()

    def wait_up(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "is up:" in self.log():
                return
            if not self.running():
                break
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"run-local did not come up:\n{self.log()}")


def sample_after_change(port, timeout=10.0):
    """The first /json sample whose `hashes` differs from the one before: a moment right after a
    worker's update, so a rate between two such samples is not off by a partial update."""
    first = get_json(port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = get_json(port)
        if s["hashes"] != first["hashes"]:
            return s
        time.sleep(0.02)
    raise AssertionError(f"hashes stuck at {first['hashes']} for {timeout}s")


def measure_rate(port, seconds):
    """Hashes per second over at least `seconds`, from /json as the page computes it:
    (hashes2 - hashes1) / (now2 - now1)."""
    a = sample_after_change(port)
    time.sleep(seconds)
    b = sample_after_change(port)
    return (b["hashes"] - a["hashes"]) / (b["now"] - a["now"])
