"""The Docker provider against the real engine (docs/docker.md): hamba runs as a host process
with `--docker` on the engine's socket and no frontend of its own; rng containers started with
`docker run` and only labels are balanced over, scaled up and down under a client loop, a second
labelled port opens and closes live, and a bad label is one line naming the container.

One hamba, a handful of containers: well under a minute once the images are built."""

import os
import threading
import time
import unittest

from docker_e2e import (LABEL, POLL, RUN_ID, assert_nothing_left, build_images, log, main,
                        require_docker, rng_hostname, run)
from harness import Hamba, assert_stops_cleanly, free_port, wait_until
import socket

RNG = "dockercoins/rng"


def engine_socket():
    """The engine's unix socket, as the docker CLI finds it (scripts/fresh-docker sets
    DOCKER_HOST)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


class ClientLoop:
    """GET / through hamba, one request after another, counting answers and failures; bounded in
    count and time."""

    def __init__(self, port, limit=100000, seconds=120):
        self.port, self.limit, self.seconds = port, limit, seconds
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        end = time.monotonic() + self.seconds
        while not self._stop.is_set() and time.monotonic() < end and self.ok < self.limit:
            try:
                rng_hostname(self.port)
                self.ok += 1
            except Exception as e:  # every failure is one the test reports
                self.failures.append(f"{time.strftime('%H:%M:%S')} {e!r}")

    def running(self):
        return self._thread.is_alive()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        return False


class DockerLabelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()

    def setUp(self):
        self.containers = []

    def tearDown(self):
        if self.containers:
            run(["docker", "rm", "-f", "-v", *self.containers], check=False, quiet=True)

    def start(self, name, *labels):
        """`docker run -d` an rng named RUN_ID-name with hamba.* labels.

        Its stop signal is SIGWINCH (httpd's graceful stop), which rng ignores: `docker stop`
        then leaves it serving for its timeout before the SIGKILL, as a server that drains on
        its stop signal would. rng itself closes everything at SIGTERM, and a connection that
        reached its accept queue just before would be reset whatever the balancer does."""
        args = ["docker", "run", "-d", "--label", LABEL, "--name", f"{RUN_ID}-{name}",
                "--stop-signal", "SIGWINCH"]
        for label in labels:
            args += ["--label", label]
        cid = run([*args, RNG]).stdout.strip()
        self.containers.append(cid)
        return f"{RUN_ID}-{name}"

    def stop(self, *names):
        """A graceful stop (the stop signal, then SIGKILL a second later), then the removal."""
        run(["docker", "stop", "-t", "1", *names])
        run(["docker", "rm", "-v", *names])

    def test_labels_only(self):
        port, second = free_port(), free_port()
        label = f"hamba.frontend=127.0.0.1:{port}"
        started = time.monotonic()
        with Hamba("--docker", engine_socket()) as h:
            first = self.start("rng-1", label)
            wait_until(lambda: rng_hostname(port), timeout=30, what="rng-1 through hamba",
                       **POLL)
            with ClientLoop(port) as loop:
                # 1 -> 3 -> 1 with requests flowing: not one fails.
                more = [self.start(f"rng-{i}", label) for i in (2, 3)]
                wait_until(lambda: len({rng_hostname(port) for _ in range(12)}) == 3,
                           timeout=30, what="three rng through hamba", **POLL)
                self.stop(*more)
                wait_until(lambda: len({rng_hostname(port) for _ in range(6)}) == 1,
                           timeout=30, what="back to one rng", **POLL)
                served = loop.ok
                wait_until(lambda: loop.ok >= served + 20 or not loop.running(), timeout=30,
                           what="more requests")
                self.assertTrue(loop.running(), f"the client loop ended early: {loop.ok} "
                                f"requests, failures {loop.failures[-3:]}")
            self.assertEqual(loop.failures, [], h.log())
            log(f"client loop: {loop.ok} requests, 0 failed, across 1 -> 3 -> 1 rng")

            # A second labelled port opens with its container and closes with it.
            other = self.start("other", f"hamba.frontend=127.0.0.1:{second}",
                               "hamba.balance=leastconn")
            wait_until(lambda: rng_hostname(second), timeout=30, what="the second port", **POLL)
            self.stop(other)
            wait_until(lambda: refused(second), timeout=30, what="the second port closed")
            self.assertTrue(rng_hostname(port))

            # A bad label: one line naming the container and the label; the others are served.
            bad = self.start("bad", label, "hamba.weight=heavy")
            wait_until(lambda: f'container {bad} skipped: label hamba.weight="heavy"' in h.log(),
                       timeout=30, what="the bad label's line")
            self.assertEqual(len({rng_hostname(port) for _ in range(6)}), 1)

            shown = h.ctl("showconfig").stdout
            self.assertIn("provider: docker", shown, h.log())
            self.assertIn(f'name: "{first}"', shown)

            # The last one goes: the port closes.
            self.stop(first, bad)
            wait_until(lambda: refused(port), timeout=30, what="the port closed with rng-1")
            assert_stops_cleanly(self, h)
        log(f"test_labels_only: {time.monotonic() - started:.1f} s")


def tearDownModule():
    assert_nothing_left(settle=10)


if __name__ == "__main__":
    main()
