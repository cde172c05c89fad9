"""The images themselves: scratch images within their size bounds (hamba <= 12 MB, each
DockerCoins image <= 20 MB) with no shell; hamba as a drop-in for jpetazzo/hamba (both argument
forms, ADMIN stats, reconfigure and showconfig through `docker exec` and from a second container
with `--volumes-from`, `hamba run` waiting empty, the health check, the 2015 ambassador in an
application's network namespace on 127.127.0.2, usage); and a `docker stop` of every image that
takes well under a second (the programs handle SIGTERM as PID 1). Every image runs as a user of
its own; hamba binds a port below 1024 on the host's network as that user (its file capability),
alone and with `--read-only`, `--cap-drop ALL --cap-add NET_BIND_SERVICE` and `--init`, runs as
root with `--user 0`, and the images are built with the README's own commands."""

import datetime
import glob
import os
import re
import socket
import time
import unittest

from docker_e2e import (BUILD_COMMANDS, IMAGES, LABEL, POLL, REDIS_IMAGE, RUN_ID, SOURCE_DIR,
                        Container, assert_nothing_left, build_images, hostnames_seen, http_get,
                        log, main, require_docker, run)
from harness import wait_until

CAP_NET_BIND_SERVICE = 10  # linux/capability.h


def free_privileged_port():
    """A port below 1024 that nothing on the host listens on (the tests run as root)."""
    for port in range(1023, 900, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port between 900 and 1023 on 127.0.0.1")


def process_status(container, name):
    """/proc/PID/status of the process called `name` in a container, read from the host (the
    image has no shell to read it with): {"Uid": "10000 10000 10000 10000", "CapEff": ...}."""
    top = run(["docker", "top", container.id, "-o", "pid,comm"]).stdout.splitlines()[1:]
    pids = [line.split()[0] for line in top if line.split()[1:] == [name]]
    if len(pids) != 1:
        raise AssertionError(f"no single {name} in {container.id}: {top}")
    with open(f"/proc/{pids[0]}/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def docker_time(text):
    """Seconds since the epoch of a Docker timestamp (RFC 3339, nanoseconds, UTC)."""
    whole, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return stamp + float("0." + (frac or "0"))


class ImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()
        cls.net = f"{RUN_ID}net"
        run(["docker", "network", "create", "--label", LABEL, cls.net])
        # Two rng backends that hamba finds by name on the test's network, like www1 and www2 in
        # the workshop's `docker run -d -p 80 jpetazzo/hamba 80 www1:1234 www2:2345`.
        cls.backends = []
        for name in ("www1", "www2"):
            cls.backends.append(Container(IMAGES["rng"], docker_args=[
                "--network", cls.net, "--network-alias", name, "--hostname", name]))
        for c in cls.backends:
            if c.inspect("{{.State.Running}}") != "true":
                raise AssertionError(f"rng backend exited: {run(['docker', 'logs', c.id]).stderr}")

    @classmethod
    def tearDownClass(cls):
        for c in getattr(cls, "backends", []):
            c.remove()
        if hasattr(cls, "net"):
            run(["docker", "network", "rm", cls.net], check=False)

    def hamba(self, *args, docker_args=()):
        return Container(IMAGES["hamba"], *args, docker_args=[
            "--network", self.net, "-p", "127.0.0.1::80", *docker_args])

    def test_images_are_small_and_hold_no_shell(self):
        bound_mb = {image: 20 for image in IMAGES.values()}
        # hamba links OpenSSL (libssl and libcrypto, about 5.5 MB) for TLS: 12.8 MB with it.
        bound_mb[IMAGES["hamba"]] = 14
        for image, bound in bound_mb.items():
            size = int(run(["docker", "image", "inspect", "-f", "{{.Size}}", image]).stdout) / 1e6
            log(f"image size {image}: {size:.1f} MB (bound {bound} MB)")
            self.assertLessEqual(size, bound, image)
            # One program and what it links: no shell to run anything else with.
            probe = run(["docker", "run", "--rm", "--label", LABEL, "--entrypoint", "/bin/sh",
                         image, "-c", "true"], check=False, quiet=True)
            self.assertNotEqual(probe.returncode, 0, f"{image} has a shell")

    def test_every_image_runs_as_a_user_of_its_own(self):
        # By number, which Kubernetes' runAsNonRoot can check.
        for image in IMAGES.values():
            user = run(["docker", "image", "inspect", "-f", "{{.Config.User}}", image]).stdout
            self.assertEqual(user.strip(), "10000:10000" if image == IMAGES["hamba"]
                             else "10001:10001")
        # The DockerCoins programs that listen kept their file capability through the COPY too
        # (the backends of this class are rng); the worker, which listens on nothing, has none.
        self.assertEqual(int(process_status(self.backends[0], "rng")["CapEff"], 16),
                         1 << CAP_NET_BIND_SERVICE)
        for target, capabilities in (("hasher", 1 << CAP_NET_BIND_SERVICE),
                                     ("webui", 1 << CAP_NET_BIND_SERVICE), ("worker", 0)):
            with self.subTest(image=IMAGES[target]), Container(
                    IMAGES[target], docker_args=["--network", self.net]) as c:
                status = process_status(c, target)  # `docker run -d` returns once it runs
                self.assertEqual(status["Uid"].split()[:2], ["10001", "10001"])
                self.assertEqual(int(status["CapEff"], 16), capabilities)

    def test_readme_builds_the_images_as_the_tests_do(self):
        """build_images() runs the README's commands, word for word: hamba's and rng's are
        written out, and the line of rng's names the three others built likewise."""
        docs = [os.path.join(SOURCE_DIR, "README.md"),
                *glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md"))]
        text = ""
        for path in docs:
            with open(path) as f:
                text += f.read()
        for target in ("hamba", "rng"):
            with self.subTest(target=target):
                self.assertRegex(text, rf"(?m)^{re.escape(' '.join(BUILD_COMMANDS[target]))}"
                                       r"(\s|$)")
        rng_line = re.search(rf"(?m)^{re.escape(' '.join(BUILD_COMMANDS['rng']))}.*$", text)[0]
        for target in set(BUILD_COMMANDS) - {"hamba", "rng"}:
            self.assertIn(target, rng_line.split("#", 1)[1])

    def test_non_root_on_the_host_network_binds_a_privileged_port(self):
        """The file capability at work: with `--net host` the host's ip_unprivileged_port_start
        (1024) applies, and hamba, user 10000, binds below it anyway. Alone and with each of
        `--read-only`, `--cap-drop ALL --cap-add NET_BIND_SERVICE` and `--init`, and all three:
        it serves, answers its control socket in /run, holds cap_net_bind_service and nothing
        else, and stops on SIGTERM."""
        with Container(IMAGES["rng"], docker_args=["-p", "127.0.0.1::80", "--hostname",
                                                   "hostnet"]) as backend:
            _, backend_port = backend.port(80)
            cases = {
                "defaults": [],
                "read-only": ["--read-only"],
                "cap-drop ALL": ["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
                "init": ["--init"],
                "all three": ["--read-only", "--cap-drop", "ALL", "--cap-add",
                              "NET_BIND_SERVICE", "--init"],
            }
            for name, flags in cases.items():
                with self.subTest(flags=name):
                    self.check_privileged_port_on_host_network(flags, backend_port)

    def check_privileged_port_on_host_network(self, flags, backend_port):
        port = free_privileged_port()
        with Container(IMAGES["hamba"], f"127.0.0.1:{port}", f"127.0.0.1:{backend_port}",
                       docker_args=["--net", "host", *flags]) as lb:
            def serving():
                if lb.inspect("{{.State.Running}}") != "true":  # it could not bind: say why
                    raise AssertionError(f"hamba {' '.join(flags)} exited: "
                                         f"{run(['docker', 'logs', lb.id]).stderr[-1000:]}")
                return hostnames_seen(port, 2) == {"hostnet"}
            wait_until(serving, timeout=20,
                       what=f"hamba {' '.join(flags)} on the host's port {port}", **POLL)
            self.assertIn(f"127.0.0.1:{backend_port}", lb.exec("hamba", "showconfig").stdout)
            status = process_status(lb, "hamba")
            self.assertEqual(status["Uid"].split()[:2], ["10000", "10000"])
            self.assertEqual(int(status["CapEff"], 16), 1 << CAP_NET_BIND_SERVICE)
            run(["docker", "stop", "-t", "10", lb.id])
            self.assertEqual(lb.inspect("{{.State.ExitCode}}"), "0")

    def test_dropping_every_capability_refuses_to_start(self):
        """`--cap-drop ALL` without `--cap-add NET_BIND_SERVICE`: the kernel will not run a
        program whose file capability it cannot grant (the README says to add it back)."""
        out = run(["docker", "run", "--rm", "--label", LABEL, "--cap-drop", "ALL",
                   IMAGES["hamba"], "showconfig"], check=False, quiet=True)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("operation not permitted", out.stderr)

    def test_root_when_asked(self):
        """`--user 0` runs it as root, as the original did; a second container reaching its
        socket is root too."""
        with self.hamba("run", docker_args=["--user", "0"]) as lb:
            wait_until(lambda: "waiting for a configuration"
                       in lb.exec("hamba", "status", check=False).stdout, timeout=20,
                       what="hamba as root to answer status", **POLL)
            r = run(["docker", "run", "--rm", "--label", LABEL, "--user", "0", "--volumes-from",
                     lb.id, IMAGES["hamba"], "reconfigure", "80", "www1:80"], check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            _, port = lb.port(80)
            wait_until(lambda: hostnames_seen(port, 2) == {"www1"}, timeout=20,
                       what="hamba as root to reach www1", **POLL)
            self.assertEqual(process_status(lb, "hamba")["Uid"].split()[0], "0")

    def test_both_argument_forms_balance_over_both_backends(self):
        for form in (["80", "www1:80", "www2:80"], ["80", "www1", "80", "www2", "80"]):
            with self.subTest(form=" ".join(form)), self.hamba(*form) as lb:
                _, port = lb.port(80)
                seen = wait_until(lambda: (s := hostnames_seen(port)) == {"www1", "www2"} and s,
                                  timeout=30, what=f"hamba {' '.join(form)} to reach both rng",
                                  **POLL)
                self.assertEqual(seen, {"www1", "www2"})

    def test_whole_command_in_one_word_is_split(self):
        with self.hamba("80 www1:80 www2:80") as lb:
            _, port = lb.port(80)
            wait_until(lambda: hostnames_seen(port) == {"www1", "www2"}, timeout=30,
                       what="hamba given one word to reach both rng", **POLL)

    def test_admin_serves_stats(self):
        with self.hamba("80", "www1:80", docker_args=["-e", "ADMIN=0.0.0.0:9000",
                                                      "-p", "127.0.0.1::9000"]) as lb:
            _, port = lb.port(9000)
            status, body = wait_until(lambda: http_get(f"http://127.0.0.1:{port}/"), timeout=20,
                                      what="the ADMIN stats page", **POLL)
            self.assertEqual(status, 200)
            self.assertIn("www1", body.decode(errors="replace"))

    def test_reconfigure_through_docker_exec(self):
        with self.hamba("80", "www1:80") as lb:
            _, port = lb.port(80)
            wait_until(lambda: hostnames_seen(port, 3) == {"www1"}, timeout=30,
                       what="hamba to reach www1", **POLL)
            lb.exec("hamba", "reconfigure", "80", "www2", "80")
            wait_until(lambda: hostnames_seen(port, 4) == {"www2"}, timeout=30,
                       what="new connections to go to www2 only", **POLL)
            self.assertIn("www2", lb.exec("hamba", "showconfig").stdout)
            bad = lb.exec("hamba", "reconfigure", "80", "www1:notaport", check=False)
            self.assertNotEqual(bad.returncode, 0, "an invalid reconfigure was accepted")
            self.assertIn("notaport", bad.stdout + bad.stderr)
            self.assertEqual(hostnames_seen(port, 4), {"www2"},
                             "an invalid config replaced the good one")
            self.assertEqual(lb.inspect("{{.RestartCount}} {{.State.Running}}"), "0 true")

    def test_no_argument_prints_usage(self):
        out = run(["docker", "run", "--rm", "--label", LABEL, IMAGES["hamba"]], check=False,
                  quiet=True)
        text = out.stdout + out.stderr
        for word in ("reconfigure", "debugconfig", "showconfig", "run"):
            self.assertIn(word, text)

    def test_run_empty_then_reconfigure_from_a_second_container(self):
        """The workshop's `docker run --rm --volumes-from LB jpetazzo/hamba reconfigure ...`: the
        control socket lives in the image's volume /run (HOME=/run), so any container that mounts
        it reaches the running instance."""
        def second(*args):
            return run(["docker", "run", "--rm", "--label", LABEL, "--volumes-from", lb.id,
                        IMAGES["hamba"], *args], check=False)

        with self.hamba("run") as lb:
            wait_until(lambda: "waiting for a configuration"
                       in lb.exec("hamba", "status", check=False).stdout, timeout=20,
                       what="the empty hamba to answer status", **POLL)
            r = second("reconfigure", "80", "www1:80")
            self.assertEqual(r.returncode, 0, r.stderr)
            _, port = lb.port(80)
            wait_until(lambda: hostnames_seen(port, 3) == {"www1"}, timeout=30,
                       what="hamba reconfigured from a second container to reach www1",
                       **POLL)
            shown = second("showconfig")
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertIn("www1:80", shown.stdout)
            # And the same instance through docker exec.
            lb.exec("hamba", "reconfigure", "80", "www2:80")
            wait_until(lambda: hostnames_seen(port, 4) == {"www2"}, timeout=30,
                       what="new connections to go to www2 only", **POLL)
            self.assertIn("www2:80", second("showconfig").stdout)
            self.assertEqual(lb.inspect("{{.RestartCount}} {{.State.Running}}"), "0 true")

    def test_health_check_asks_the_running_hamba(self):
        with self.hamba("80", "www1:80") as lb:
            wait_until(lambda: lb.inspect("{{.State.Health.Status}}") == "healthy", timeout=30,
                       what="docker to call hamba healthy", **POLL)
            last = run(["docker", "inspect", "-f", "{{range .State.Health.Log}}{{.ExitCode}} "
                        "{{.Output}}{{end}}", lb.id]).stdout
            self.assertIn("serving 1 frontend", last)
            listed = run(["docker", "ps", "--filter", f"id={lb.id}", "--format",
                          "{{.Status}}"]).stdout
            self.assertIn("(healthy)", listed)

    def test_ambassador_in_the_application_network_namespace(self):
        """2015's ambassadors: one hamba per application container, in its network namespace
        (`--net container:APP`), on a loopback alias that `extra_hosts` names `redis`."""
        with Container(REDIS_IMAGE, docker_args=["--network", self.net, "--network-alias",
                                                  "redisbox"]) as redis, \
                Container(IMAGES["webui"], docker_args=[
                    "--network", self.net, "--add-host", "redis:127.127.0.2",
                    "-p", "127.0.0.1::80"]) as app, \
                Container(IMAGES["hamba"], "127.127.0.2:6379", "redisbox", "6379",
                          docker_args=["--net", f"container:{app.id}"]) as ambassador:
            wait_until(lambda: redis.exec(
                "redis-cli", "SET", "hashes", "4242", check=False).stdout.strip() == "OK",
                timeout=20, what="Redis to answer", **POLL)
            _, port = app.port(80)
            body = wait_until(lambda: (
                b := http_get(f"http://127.0.0.1:{port}/json")[1]) and b"4242" in b and b,
                timeout=30, what="the webui to read Redis through its ambassador",
                **POLL)
            self.assertIn(b'"hashes":4242', body.replace(b" ", b""))
            self.assertEqual(ambassador.inspect("{{.State.Running}}"), "true")

    def test_docker_stop_takes_well_under_a_second(self):
        cases = {
            "hamba": (IMAGES["hamba"], ["80", "www1:80"]),
            "rng": (IMAGES["rng"], []),
            "hasher": (IMAGES["hasher"], []),
            # No Redis, rng or hasher on this network: both keep retrying, and must still stop.
            "webui": (IMAGES["webui"], []),
            "worker": (IMAGES["worker"], []),
        }
        for name, (image, args) in cases.items():
            with self.subTest(image=name), Container(image, *args,
                                                     docker_args=["--network", self.net]) as c:
                time.sleep(1.0)  # let it start and reach its steady state (serving or retrying)
                self.assertEqual(c.inspect("{{.State.Running}}"), "true",
                                 f"{name} exited at start: {run(['docker', 'logs', c.id]).stderr}")
                asked = time.time()
                start = time.monotonic()
                run(["docker", "stop", "-t", "10", c.id])
                took = time.monotonic() - start
                code, finished = c.inspect("{{.State.ExitCode}} {{.State.FinishedAt}}").split()
                exited_after = docker_time(finished) - asked
                log(f"docker stop {name}: exited {exited_after:.2f} s after the request "
                    f"(code {code}), docker stop took {took:.2f} s")
                # The program's own part, from the request to its exit; docker's own teardown
                # (networks, mounts) adds a few tenths of a second on top here.
                self.assertLess(exited_after, 1.0, f"{name} did not exit promptly on SIGTERM")
                self.assertLess(took, 3.0, f"docker stop {name} waited for the kill")
                self.assertNotEqual(code, "137", f"{name} was killed, not stopped")



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
