"""The Docker provider against the real engine (docs/docker.md): hamba runs as a host process
with `--docker` on the engine's socket and no frontend of its own; rng containers started with
`docker run` and only labels are balanced over, scaled 1 -> 5 -> 1 under a client loop (not
one request fails), then 0 (the port closes) -> 3 (it opens again) under another, a second
labelled port opens and closes live, a container whose Docker healthcheck fails leaves and comes
back when it passes again, and a bad label is one line naming the container.

The engine restarted under hamba (only under scripts/fresh-docker, whose engine a test may stop:
`scripts/fresh-docker --stop-engine`, with live-restore, so the containers outlive it): while it
is away hamba serves the last state, every container through it; a container killed then (no
restart policy) is gone once the engine is back, and one with `--restart always` killed then is
started again by the engine at its return and served again: hamba reconnects, lists again and
reconciles.

examples/labels.yml brought up with docker-compose (hamba in a container, the engine's socket
mounted): the stack mines through it, and `--scale rng=5` is followed.

One hamba, a handful of containers: well under a minute once the images are built."""

import os
import threading
import time
import unittest

from docker_e2e import (LABEL, POLL, RUN_ID, SOURCE_DIR, Stack, assert_nothing_left,
                        build_images, engine_socket, hostnames_seen, log, main, require_docker,
                        rng_hostname, run, wait_mining)
from harness import Hamba, assert_stops_cleanly, free_port, wait_until
from hamba_helpers import stats_json
import socket

RNG = "dockercoins/rng"

# A server with a Docker healthcheck the test turns: debian:bookworm-slim (scripts/offline-images
# makes it) has a shell for the check and perl, whose accept loop greets each connection with the
# container's hostname. Unhealthy while /tmp/sick exists.
SICK_SERVER = ("use IO::Socket::INET; open(my $f, '/etc/hostname'); my $h = <$f>;"
               "my $s = IO::Socket::INET->new(LocalPort => 80, Listen => 64, ReuseAddr => 1)"
               " or die; while (my $c = $s->accept) { print $c $h; close $c }")


def greeting(port):
    """The first line a server behind 127.0.0.1:port sends."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        return s.makefile().readline().strip()


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

    def start(self, name, *labels, restart=None):
        """`docker run -d` an rng named RUN_ID-name with hamba.* labels. At `docker stop`'s
        SIGTERM rng drains (services/README.md): it answers what it has, the connections in its
        accept queue included, and exits; hamba has taken it out at that signal."""
        args = ["docker", "run", "-d", "--label", LABEL, "--name", f"{RUN_ID}-{name}"]
        if restart:
            args += ["--restart", restart]
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
                # 1 -> 5 -> 1 with requests flowing: not one fails.
                more = [self.start(f"rng-{i}", label) for i in (2, 3, 4, 5)]
                wait_until(lambda: len({rng_hostname(port) for _ in range(30)}) == 5,
                           timeout=30, what="five rng through hamba", **POLL)
                self.stop(*more)
                wait_until(lambda: len({rng_hostname(port) for _ in range(6)}) == 1,
                           timeout=30, what="back to one rng", **POLL)
                served = loop.ok
                wait_until(lambda: loop.ok >= served + 20 or not loop.running(), timeout=30,
                           what="more requests")
                self.assertTrue(loop.running(), f"the client loop ended early: {loop.ok} "
                                f"requests, failures {loop.failures[-3:]}")
            self.assertEqual(loop.failures, [], h.log())
            log(f"client loop: {loop.ok} requests, 0 failed, across 1 -> 5 -> 1 rng")

            # A second labelled port opens with its container and closes with it.
            other = self.start("other", f"hamba.frontend=127.0.0.1:{second}",
                               "hamba.balance=leastconn")
            wait_until(lambda: rng_hostname(second), timeout=30, what="the second port", **POLL)
            self.stop(other)
            wait_until(lambda: refused(second), timeout=30, what="the second port closed")
            self.assertTrue(rng_hostname(port))

            # A Docker healthcheck: served once healthy, out while unhealthy, back when healthy.
            sick = f"{RUN_ID}-health"
            self.containers.append(run([
                "docker", "run", "-d", "--label", LABEL, "--name", sick,
                "--label", f"hamba.frontend=127.0.0.1:{second}", "--label", "hamba.port=80",
                "--health-cmd", "test ! -e /tmp/sick", "--health-interval", "1s",
                "--health-retries", "1", "debian:bookworm-slim", "perl", "-e", SICK_SERVER,
            ]).stdout.strip())
            host = wait_until(lambda: greeting(second), timeout=30, what="healthy, served",
                              **POLL)
            self.assertIn(f"for {sick} (", h.log())
            run(["docker", "exec", sick, "touch", "/tmp/sick"])
            wait_until(lambda: refused(second), timeout=30, what="unhealthy, out (port closed)")
            run(["docker", "exec", sick, "rm", "/tmp/sick"])
            self.assertEqual(wait_until(lambda: greeting(second), timeout=30,
                                        what="healthy again, back", **POLL), host)
            run(["docker", "rm", "-f", "-v", sick])
            wait_until(lambda: refused(second), timeout=30, what="the healthcheck's port closed")

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

            # 0 -> 3: the port opens again with the first of them, and all three are served.
            again = [self.start(f"rng-{i}", label) for i in (6, 7, 8)]
            wait_until(lambda: len({rng_hostname(port) for _ in range(12)}) == 3,
                       timeout=30, what="three rng through hamba again", **POLL)
            with ClientLoop(port) as loop:
                wait_until(lambda: loop.ok >= 50 or not loop.running(), timeout=30,
                           what="requests to the three")
            self.assertGreaterEqual(loop.ok, 50, loop.failures[-3:])
            self.assertEqual(loop.failures, [], h.log())
            self.stop(*again)
            wait_until(lambda: refused(port), timeout=30, what="the port closed again")
            assert_stops_cleanly(self, h)
        log(f"test_labels_only: {time.monotonic() - started:.1f} s")

    def engine(self, what):
        run(["scripts/fresh-docker", f"--{what}-engine"], cwd=SOURCE_DIR, timeout=180)

    def test_engine_restart(self):
        if not os.environ.get("HAMBA_FRESH_DOCKER"):
            raise unittest.SkipTest("restarts only the engine of scripts/fresh-docker")
        port, admin = free_port(), free_port()
        label = f"hamba.frontend=127.0.0.1:{port}"
        started = time.monotonic()
        with Hamba("--docker", engine_socket(), "--admin", f"127.0.0.1:{admin}") as h:
            keep = self.start("keep", label)
            gone = self.start("gone", label)
            back = self.start("back", label, restart="always")
            names = lambda: {s["name"] for f in stats_json(admin)["frontends"]  # noqa: E731
                             for s in f["servers"]}
            wait_until(lambda: len(hostnames_seen(port, 12)) == 3, timeout=30,
                       what="three rng through hamba", **POLL)
            hosts = {n: run(["docker", "inspect", "-f", "{{.Config.Hostname}}", n]).stdout.strip()
                     for n in (keep, gone, back)}
            pids = {n: run(["docker", "inspect", "-f", "{{.State.Pid}}", n]).stdout.strip()
                    for n in (gone, back)}
            self.engine("stop")
            try:
                wait_until(lambda: "the containers last listed stay served" in h.log(),
                           timeout=30, what="hamba to see the engine go")
                # The last state stands: every container is served while the engine is away.
                self.assertEqual(hostnames_seen(port, 12), set(hosts.values()), h.log())
                for pid in pids.values():
                    os.kill(int(pid), 9)
                self.assertEqual(names(), {keep, gone, back})
            finally:
                self.engine("start")
            # Back: `gone` is no more, `back` was started again by the engine.
            wait_until(lambda: names() == {keep, back}, timeout=30,
                       what="the lists reconciled after the restart", **POLL)
            wait_until(lambda: hostnames_seen(port, 12) == {hosts[keep], hosts[back]},
                       timeout=30, what="keep and back served", **POLL)
            self.assertIn(f"docker: following {engine_socket()} again", h.log())
            assert_stops_cleanly(self, h)
        log(f"test_engine_restart: {time.monotonic() - started:.1f} s")

    def test_compose_labels_example(self):
        started = time.monotonic()
        with Stack("examples/labels.yml", "labels", env={"DOCKER_SOCKET": engine_socket()}) as s:
            s.up()
            wait_mining(s.webui_port)
            wait_until(lambda: len(hostnames_seen(s.rng_port, 12)) == 3, timeout=30,
                       what="the 3 rng through rng-lb", **POLL)
            s.up("--scale", "rng=5")
            wait_until(lambda: len({rng_hostname(s.rng_port) for _ in range(30)}) == 5,
                       timeout=30, what="5 rng through rng-lb after the scale", **POLL)
            self.assertIn("provider: docker", s.cmd("exec", "-T", "rng-lb", "hamba",
                                                    "showconfig").stdout)
        log(f"test_compose_labels_example: {time.monotonic() - started:.1f} s")


def tearDownModule():
    assert_nothing_left(settle=10)


if __name__ == "__main__":
    main()
