"""Shared helpers for the Docker end-to-end tests (stdlib only, real docker and docker-compose).

Every test script builds the images once through `build_images()` (the Docker layer cache makes
later calls cheap), runs compose projects and containers through context managers that tear them
down even when a test fails, and checks in its tearDownModule (assert_nothing_left) that nothing
of its run is left behind.

    from docker_e2e import Stack, build_images, require_docker, hash_rate
    require_docker()                     # unittest.SkipTest when no Docker engine answers
    build_images()
    with Stack("examples/plain.yml") as stack:
        stack.up("--scale", "worker=10")
        print(hash_rate(stack.webui_port))

Addresses used: published ports on 127.0.0.1 only, and the host's address on Docker's default
bridge (docker0's own address, e.g. 172.17.0.1) for the "remote" Redis that stacks reach from
their own networks. Nothing else.
"""

import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import unittest
import urllib.request
import uuid

from harness import free_port, wait_until

SOURCE_DIR = os.environ.get("HAMBA_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

# Dockerfile target -> image name, as the compose files name them.
IMAGES = {
    "hamba": "hamba",
    "rng": "dockercoins/rng",
    "hasher": "dockercoins/hasher",
    "worker": "dockercoins/worker",
    "webui": "dockercoins/webui",
}
REDIS_IMAGE = "redis:7"

# How the tests poll Docker and the containers' ports: wait_until(..., **POLL). Docker commands
# are slow, hence a quarter of a second; a refused or reset connection or a half-written answer
# of something still starting counts as "not yet".
POLL = {"interval": 0.25, "retry_on": (OSError, ValueError, KeyError)}

# One id per test process: every project and container it makes carries it, so the final check
# (and a human) can tell what belongs to which run.
RUN_ID = f"e2e{os.getpid()}{uuid.uuid4().hex[:4]}"
LABEL = f"hamba-e2e={RUN_ID}"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(args, timeout=300, check=True, env=None, quiet=False, cwd=None):
    """Runs a command, returns its CompletedProcess (text); fails the test with its output."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              env=full_env, stdin=subprocess.DEVNULL, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(args)}: still running after {timeout}s\n"
                             f"{e.stdout or ''}{e.stderr or ''}") from None
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    if not quiet and proc.returncode != 0:
        log(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc


# Networks Docker itself keeps with no container attached (moby/moby#42119): found by
# Stack.remove_networks, and not counted as the run's leftovers.
DOCKER_LEAKED_NETWORKS = set()
_engine_answered = False  # set by require_docker(): until then the run cannot have left anything


def require_docker():
    """Skips the whole test (exit 0) when no Docker engine answers; anything else must work."""
    global _engine_answered
    if shutil.which("docker") is None:
        raise unittest.SkipTest("docker is not installed (.ci/run installs it and starts dockerd)")
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["docker info failed"])[-1]
        raise unittest.SkipTest(f"no Docker engine answers ({why}); start dockerd or run .ci/run")
    _engine_answered = True


def compose_command():
    """docker-compose (1.29, Debian's) when installed, else Compose v2 (`docker compose`)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    raise AssertionError("neither docker-compose nor `docker compose` is installed "
                         "(scripts/docker-setup installs Debian's docker-compose)")


_built = False

# How the README builds each image, word for word (test_images checks that the README still
# says so): the hamba image is the Dockerfile's default target, the others are named.
BUILD_COMMANDS = {
    "hamba": ["docker", "build", "-t", "hamba", "."],
    **{target: ["docker", "build", "--target", target, "-t", image, "."]
       for target, image in IMAGES.items() if target != "hamba"},
}


def build_images():
    """Makes the base images if needed and builds every image once, as the README says (in the
    source directory, with whatever builder the engine defaults to: the legacy one on Docker
    20.10, which builds every stage before the target, so the Dockerfile must hold no slow
    stage that the images do not need)."""
    global _built
    if _built:
        return
    run([os.path.join(SOURCE_DIR, "scripts", "offline-images")], timeout=900)
    for target, command in BUILD_COMMANDS.items():
        start = time.monotonic()
        run(command, timeout=1800, cwd=SOURCE_DIR)
        log(f"built {IMAGES[target]} ({time.monotonic() - start:.1f} s)")
    _built = True


def bridge_gateway():
    """The host's IPv4 address on Docker's default bridge: how containers reach the host.

    Read from the bridge interface itself (docker0 unless the daemon names another), not from
    `docker network inspect bridge`: a dockerd started for the first time (Docker 20.10 from
    Debian, fresh /var/lib/docker) lists the bridge's subnet but no IPAM Gateway, while the
    interface always carries the address containers route through. `extra_hosts: ...:host-gateway`
    would name the same address inside containers, but the tests also need it on the host side,
    to publish Redis on it, so they read it once here and pass it to both."""
    name = run(["docker", "network", "inspect", "bridge", "-f",
                '{{index .Options "com.docker.network.bridge.name"}}']).stdout.strip()
    name = name if name and name != "<no value>" else "docker0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            # SIOCGIFADDR: the interface's IPv4 address, as `ip -4 addr show` prints it.
            req = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
        except OSError as e:
            raise AssertionError(f"Docker's default bridge {name} has no IPv4 address ({e}); "
                                 "is dockerd running with its default bridge?") from None
    return socket.inet_ntoa(req[20:24])


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read()


def webui_json(port):
    _, body = http_get(f"http://127.0.0.1:{port}/json")
    data = json.loads(body)
    return float(data["now"]), int(data.get("hashes") or 0), int(data.get("coins") or 0)


def engine_socket():
    """The engine's unix socket, as the docker CLI finds it (scripts/fresh-docker sets
    DOCKER_HOST)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"


def rng_hostname(port):
    """Which rng answered a new connection to 127.0.0.1:port (its `GET /` names its host)."""
    _, body = http_get(f"http://127.0.0.1:{port}/", timeout=5)
    text = body.decode()
    if not text.startswith("RNG running on "):
        raise AssertionError(f"unexpected answer from an rng: {text!r}")
    return text.split()[-1]


def hostnames_seen(port, requests=8):
    """The set of rng hosts that answered `requests` new connections to port."""
    return {rng_hostname(port) for _ in range(requests)}


def wait_mining(port, timeout=60.0):
    """Waits until the webui on port shows the hash counter moving."""
    first = wait_until(lambda: webui_json(port), timeout=timeout,
                       what=f"webui on port {port} to answer /json", **POLL)
    wait_until(lambda: webui_json(port)[1] > first[1], timeout=timeout,
               what=f"the hash counter behind port {port} to move", **POLL)


def hash_rate(port, window=10.0, poll=0.2):
    """Hashes per second as the web page computes it, from /json's `hashes` and `now`, over about
    `window` seconds. Workers add their work to the counter about once a second, so the rate is
    taken between the first and the last change seen (both observed within `poll`), which keeps
    the error near poll/window instead of one update in the window."""
    def next_change(after_hashes, deadline):
        while time.monotonic() < deadline:
            now, hashes, _ = webui_json(port)
            if hashes != after_hashes:
                return now, hashes
            time.sleep(poll)
        raise AssertionError(f"hash counter behind port {port} stopped at {after_hashes}")

    _, h, _ = webui_json(port)
    t0, h0 = next_change(h, time.monotonic() + 15)
    t1, h1 = t0, h0
    end = time.monotonic() + window
    while time.monotonic() < end:
        now, hashes, _ = webui_json(port)
        if hashes != h1:
            t1, h1 = now, hashes
        time.sleep(poll)
    if t1 - t0 < window / 2:
        raise AssertionError(f"too few counter updates behind port {port} in {window}s")
    return (h1 - h0) / (t1 - t0)


class Stack:
    """One compose project (one "host" of the workshop) from a compose file of the repository,
    with its published ports on 127.0.0.1 at free ports. Torn down (containers, networks,
    volumes) on exit, whatever happened."""

    def __init__(self, compose_file, name="stack", env=None):
        self.file = os.path.join(SOURCE_DIR, compose_file)
        self.project = f"{RUN_ID}{name}".lower()
        self.webui_port, self.rng_port, self.hasher_port = free_port(), free_port(), free_port()
        self.env = {"PUBLISH_IP": "127.0.0.1", "WEBUI_PORT": str(self.webui_port),
                    "RNG_PORT": str(self.rng_port), "HASHER_PORT": str(self.hasher_port)}
        self.env.update(env or {})
        self.compose = compose_command()

    def cmd(self, *args, timeout=300, check=True):
        return run([*self.compose, "-f", self.file, "-p", self.project, *args], timeout=timeout,
                   check=check, env=self.env, quiet=not check)

    def up(self, *args):
        self.cmd("up", "-d", "--no-build", *args)
        return self

    def down(self):
        """Stops and removes the project. Returns (seconds `down` took, {container: (seconds from
        its SIGTERM to its exit, exit code)}), read from Docker's kill and die events."""
        asked = time.time()
        start = time.monotonic()
        proc = self.cmd("down", "-v", "--remove-orphans", timeout=120, check=False)
        took = time.monotonic() - start  # the containers' stop; the rest is Docker's cleanup
        if proc.returncode != 0 and "has active endpoints" in proc.stderr:
            self.remove_networks()
            proc = self.cmd("down", "-v", "--remove-orphans", timeout=120, check=False)
        if (proc.returncode != 0 and "has active endpoints" in proc.stderr
                and not self.containers(all_states=True) and self.leaked_networks_only()):
            proc = subprocess.CompletedProcess(proc.args, 0, proc.stdout, proc.stderr)
        if proc.returncode != 0:
            raise AssertionError(f"docker-compose down {self.project} exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
        events = run(["docker", "events", "--since", f"{asked:.3f}", "--until",
                      f"{time.time():.3f}", "--filter", "event=kill", "--filter", "event=die",
                      "--filter", f"label=com.docker.compose.project={self.project}", "--format",
                      '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "name"}} '
                      '{{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}'],
                     timeout=30).stdout.split("\n")
        termed, exits = {}, {}
        for line in filter(None, events):
            nanos, action, name, value = line.split()
            if action == "kill" and value == "15":
                termed.setdefault(name, int(nanos) / 1e9)
            elif action == "die":
                exits[name] = (int(nanos) / 1e9 - termed.get(name, asked), value)
        return took, exits

    def leaked_networks_only(self):
        """True when every network of the project still there is one Docker keeps with no
        container attached (remove_networks noted it)."""
        nets = run(["docker", "network", "ls", "--format", "{{.Name}}", "--filter",
                    f"label=com.docker.compose.project={self.project}"]).stdout.split()
        return all(n in DOCKER_LEAKED_NETWORKS for n in nets)

    def remove_networks(self):
        """Removes the project's networks once its containers are gone. Docker may still be
        detaching the last endpoints when compose removes a network ("has active endpoints"):
        it goes on a later try. And after many containers were recreated, Docker can keep an
        endpoint whose container is gone, for good (moby/moby#42119, seen after the scaled-rng
        test recreated 16 workers three times): each endpoint the network still lists is then
        disconnected by force. What was found is logged; a network that stays is left for the
        caller's check to report, with what Docker says of it."""
        nets = run(["docker", "network", "ls", "-q", "--filter",
                    f"label=com.docker.compose.project={self.project}"]).stdout.split()
        for net in nets:
            deadline = time.monotonic() + 10
            forced = False
            while True:
                if run(["docker", "network", "rm", net], check=False, quiet=True).returncode == 0:
                    break
                if time.monotonic() >= deadline:
                    if forced:
                        info = run(["docker", "network", "inspect", net], check=False).stdout
                        log(f"network {net} of {self.project} stays: {info[-2000:]}")
                        listed = run(["docker", "network", "inspect", "-f",
                                      "{{range .Containers}}{{.Name}} {{end}}", net],
                                     check=False).stdout.split()
                        if not listed:
                            # Docker's own leak (moby/moby#42119): no container is attached,
                            # yet it counts an endpoint and refuses to remove the network.
                            # Nothing of the test's is left in it: noted, not failed on.
                            name = run(["docker", "network", "inspect", "-f", "{{.Name}}", net],
                                       check=False).stdout.strip()
                            DOCKER_LEAKED_NETWORKS.add(name)
                            log(f"network {name} kept by Docker with no container attached "
                                f"(moby/moby#42119): left to Docker")
                        break
                    forced = True
                    deadline = time.monotonic() + 10
                    endpoints = run(["docker", "network", "inspect", "-f",
                                     "{{range .Containers}}{{.Name}} {{end}}", net],
                                    check=False).stdout.split()
                    log(f"network {net} of {self.project} still lists {endpoints or 'nothing'} "
                        f"with its containers gone: disconnecting them by force")
                    for name in endpoints:
                        run(["docker", "network", "disconnect", "-f", net, name], check=False)
                time.sleep(0.5)

    def assert_down_is_prompt(self, test):
        """`down`, then checks that every container exited on its SIGTERM within 2 s (none killed
        after docker's 10 s) and that the whole `down` took seconds."""
        running = len(self.containers())
        took, exits = self.down()
        slowest = max((t for t, _ in exits.values()), default=0.0)
        log(f"docker-compose down {self.project}: {took:.1f} s for {running} containers, "
            f"slowest exit {slowest:.2f} s after its SIGTERM")
        test.assertEqual(len(exits), running, "not every container reported its exit")
        for name, (after, code) in exits.items():
            test.assertEqual(code, "0", f"{name} exited with {code} (137: killed after the grace)")
            # A worker gives its last count to Redis before it exits (at most 0.8 s, then it
            # stops anyway), and Redis may be stopping at the same moment: hence 2 s, still far
            # from the 10 s after which docker kills.
            test.assertLess(after, 2.0, f"{name} took {after:.1f} s to exit on SIGTERM")
        # The rest is Docker's own teardown of each container's network namespace, 0.4 to 0.7 s
        # here and one at a time (the same for `sleep` in a container with --init). Programs that
        # ignored SIGTERM would add docker's 10 s wait on top.
        test.assertLess(took, 5.0 + 1.0 * running)
        test.assertEqual(self.containers(all_states=True), [])

    def containers(self, service=None, all_states=False):
        """Ids of the project's containers (of one service if given)."""
        filters = ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        return run(["docker", "ps", "-q", "--no-trunc", *(["-a"] if all_states else []),
                    *filters]).stdout.split()

    def logs(self, service):
        return self.cmd("logs", "--no-color", service).stdout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        proc = self.cmd("down", "-v", "--remove-orphans", "-t", "5", timeout=180, check=False)
        if proc.returncode != 0 and "has active endpoints" in proc.stderr:
            self.remove_networks()
        return False


class Container:
    """One `docker run -d` container labelled with this run's id, removed on exit."""

    def __init__(self, image, *args, docker_args=()):
        self.id = run(["docker", "run", "-d", "--label", LABEL, *docker_args, image,
                       *args]).stdout.strip()

    def port(self, private):
        """(host address, host port) that the container's private port is published on."""
        out = run(["docker", "port", self.id, str(private)]).stdout.split()[0]
        host, _, port = out.rpartition(":")
        return host, int(port)

    def exec(self, *args, check=True):
        return run(["docker", "exec", self.id, *args], check=check, quiet=not check)

    def inspect(self, fmt):
        return run(["docker", "inspect", "-f", fmt, self.id]).stdout.strip()

    def remove(self):
        run(["docker", "rm", "-f", "-v", self.id], check=False, quiet=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def redis_hashes(container_id):
    """The `hashes` counter of the Redis running in a container, read with its own redis-cli."""
    out = run(["docker", "exec", container_id, "redis-cli", "GET", "hashes"]).stdout.strip()
    return int(out) if out.isdigit() else 0


def assert_nothing_left(settle=0.0):
    """Fails if any container, network or volume of this run still exists once the engine has had
    up to `settle` seconds to remove it. For tearDownModule: nothing to check when no engine
    answered (require_docker skipped the tests)."""
    if not _engine_answered:
        return

    def leftovers():
        found = run(["docker", "ps", "-a", "-q", "--filter", f"label={LABEL}"]).stdout.split()
        names = run(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
        found += [n for n in names if n.startswith(RUN_ID)]
        networks = run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.split()
        found += [n for n in networks
                  if n.startswith(RUN_ID) and n not in DOCKER_LEAKED_NETWORKS]
        volumes = run(["docker", "volume", "ls", "--format", "{{.Name}}"]).stdout.split()
        found += [v for v in volumes if v.startswith(RUN_ID)]
        return found

    try:
        wait_until(lambda: not leftovers(), timeout=settle, interval=2,
                   what="the run's containers, networks and volumes to go")
    except AssertionError:
        raise AssertionError(f"left behind after the test: {leftovers()}") from None


def main():
    """unittest.main with output that says what was skipped and why."""
    unittest.main(verbosity=2, buffer=False)


if __name__ == "__main__":
    sys.exit("docker_e2e.py is a helper module; run the test_*.py scripts")
