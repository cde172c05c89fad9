"""DockerCoins on a single-node Swarm (examples/stack.yml, `docker stack deploy`): the stack mines;
`docker service scale` of rng-backend 3 -> 5 is followed by hamba (the service `rng`, over
`tasks.rng-backend`) with 5 distinct rng hosts through it and no hamba restart, and the hash rate
follows (each worker keeps one keep-alive connection to rng, so the workers are restarted to
make new ones: hamba balances connections); the same scale is followed by rng-lb, a hamba with
no command line that serves rng-backend's tasks from the service's deploy labels (the Docker
provider on Swarm), and so is a scale down to 2; a rolling update of hamba's service (`docker service update --force`) while a loop of
requests runs through its published port: requests go on through the new task afterwards, and
the gap is measured. On one node that gap cannot be zero: the port is published in host mode
(the routing mesh needs IPVS, which does not route here), one task per node holds it, so the
update must stop the old task before the new one can bind (stop-first).

The swarm is made for the test (`docker swarm init --advertise-addr 127.0.0.1`) and left at the
end whatever happened; an engine that is already part of a swarm is not touched (skip)."""

import threading
import time
import unittest
import urllib.error

from docker_e2e import (POLL, RUN_ID, SOURCE_DIR, assert_nothing_left, build_images,
                        engine_socket, hash_rate, log, main, require_docker, rng_hostname, run,
                        wait_mining)
from harness import free_port, wait_until

WORKERS = 16   # 16 x 3.33 = 53 hashes/s at most: rng stays the limit up to 5 instances
ONE_RNG = 10.0


class SwarmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        state = run(["docker", "info", "-f", "{{.Swarm.LocalNodeState}}"]).stdout.strip()
        if state != "inactive":
            raise unittest.SkipTest(f"this engine is already in a swarm ({state}): not touched")
        build_images()

    def deploy(self):
        """A swarm of this one node and the stack on it, both gone at the end of the test."""
        run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"])
        self.addCleanup(self.leave)
        self.name = f"{RUN_ID}sw"
        self.ports = {"WEBUI_PORT": free_port(), "RNG_PORT": free_port(),
                      "HASHER_PORT": free_port(), "RNG_LB_PORT": free_port()}
        run(["docker", "stack", "deploy", "-c", f"{SOURCE_DIR}/examples/stack.yml", self.name],
            env={"DOCKER_SOCKET": engine_socket(), **{k: str(v) for k, v in self.ports.items()}},
            timeout=120)

    def leave(self):
        """Removes the stack, waits until its containers and network are gone (Swarm removes
        them after `stack rm` returns), then leaves the swarm. Swarm's own cleanup of a stack of
        some 25 tasks can take longer than the wait on a loaded machine; what is left then is
        logged, and leaving the swarm (which takes every task and overlay network with it) must
        clear it: only what outlives that fails the test."""
        def left_over():
            containers = run(["docker", "ps", "-aq", "--filter", f"name={self.name}_"]).stdout
            networks = run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.split()
            return (containers.split(), [n for n in networks if n.startswith(self.name)])

        run(["docker", "stack", "rm", self.name], check=False, quiet=True)
        try:
            wait_until(lambda: left_over() == ([], []), timeout=90,
                       what="the stack's containers and network to go", **POLL)
        except AssertionError:
            containers, networks = left_over()
            log(f"90 s after `stack rm`, Swarm still had {len(containers)} container(s) and "
                f"network(s) {networks}: leaving the swarm clears them")
        finally:
            run(["docker", "swarm", "leave", "--force"], check=False, timeout=120)
        try:
            wait_until(lambda: left_over() == ([], []), timeout=60,
                       what="the stack's containers and network to go after leaving", **POLL)
        except AssertionError:
            raise AssertionError(f"left after leaving the swarm: {left_over()}") from None

    def service(self, name):
        return f"{self.name}_{name}"

    def hamba_task(self):
        """The running hamba task of the service `rng`: (task id, container id, started at)."""
        tasks = run(["docker", "service", "ps", "-q", "--filter", "desired-state=running",
                     self.service("rng")]).stdout.split()
        self.assertEqual(len(tasks), 1, tasks)
        container = run(["docker", "inspect", "-f", "{{.Status.ContainerStatus.ContainerID}}",
                         tasks[0]]).stdout.strip()
        started = run(["docker", "inspect", "-f", "{{.State.StartedAt}}", container]).stdout
        return tasks[0], container, started.strip()

    def hostnames(self, want, tries=60, port="RNG_PORT"):
        seen = set()
        for _ in range(tries):
            seen.add(rng_hostname(self.ports[port]))
            if len(seen) >= want:
                break
        return seen

    def test_stack_mines_scales_and_updates(self):
        self.deploy()
        webui = self.ports["WEBUI_PORT"]
        wait_mining(webui, timeout=120)
        run(["docker", "service", "scale", "-d", f"{self.service('worker')}={WORKERS}"])
        wait_until(lambda: len(self.hostnames(3)) == 3, timeout=60, what="3 rng through hamba",
                   **POLL)
        by_dns = self.hostnames(3)
        wait_until(lambda: self.hostnames(3, port="RNG_LB_PORT") == by_dns, timeout=60,
                   what="the same 3 rng through rng-lb (labels)", **POLL)
        wait_until(lambda: hash_rate(webui, window=3) > 0.6 * 3 * ONE_RNG, timeout=60,
                   what="the workers to reach the counter", **POLL)
        rate3 = hash_rate(webui)
        hamba = self.hamba_task()
        log(f"swarm, 3 rng tasks behind hamba, {WORKERS} workers: {rate3:.2f} hashes/s")

        run(["docker", "service", "scale", "-d", f"{self.service('rng-backend')}=5"])
        seen = wait_until(lambda: (s := self.hostnames(5)) and len(s) == 5 and s, timeout=60,
                          what="5 rng through hamba", **POLL)
        log(f"after scale to 5: {sorted(seen)}")
        wait_until(lambda: self.hostnames(5, port="RNG_LB_PORT") == seen, timeout=30,
                   what="the same 5 rng through rng-lb (labels)", **POLL)
        # Detached: the rate rising below is what says the new workers are there.
        run(["docker", "service", "update", "-d", "--force", "--update-parallelism", "0",
             self.service("worker")])
        # While the workers are replaced the counter may stand still for a while: hash_rate then
        # raises (AssertionError, "too few counter updates"), which is "not yet" here.
        wait_until(lambda: hash_rate(webui, window=3) > 1.2 * rate3, timeout=60,
                   what="the rate to rise", interval=POLL["interval"],
                   retry_on=POLL["retry_on"] + (AssertionError,))
        rate5 = hash_rate(webui)
        log(f"swarm, 5 rng tasks behind hamba: {rate5:.2f} hashes/s")
        self.assertEqual(self.hamba_task(), hamba, "hamba was restarted to follow the scale")
        self.assertGreaterEqual(rate5, 1.3 * rate3)
        self.assertAlmostEqual(rate3, 3 * ONE_RNG, delta=0.2 * 3 * ONE_RNG)

        # Rolling update of hamba under a loop of requests through the published port.
        results = []
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                t = time.monotonic()
                try:
                    rng_hostname(self.ports["RNG_PORT"])
                    results.append((t, True))
                except (OSError, urllib.error.URLError, AssertionError):
                    results.append((t, False))
                time.sleep(0.02)

        client = threading.Thread(target=loop)
        client.start()
        try:
            time.sleep(1)
            run(["docker", "service", "update", "--force", self.service("rng")], timeout=180)
            wait_until(lambda: results[-1][1], timeout=30, what="requests through the new hamba",
                       **POLL)
            time.sleep(1)
        finally:
            stop.set()
            client.join()
        failed = [t for t, ok in results if not ok]
        gap = (failed[-1] - failed[0]) if failed else 0.0
        log(f"rolling update of hamba: {len(results)} requests, {len(failed)} failed, "
            f"in a gap of {gap:.2f} s (stop-first: one node, port published in host mode)")
        self.assertNotEqual(self.hamba_task()[0], hamba[0], "the update did not replace hamba")
        self.assertTrue(all(ok for _, ok in results[-10:]), "requests did not recover")

        # Scale down: rng-lb leaves the tasks Swarm stops, and only those.
        down = time.monotonic()
        run(["docker", "service", "scale", "-d", f"{self.service('rng-backend')}=2"])
        wait_until(lambda: len({rng_hostname(self.ports["RNG_LB_PORT"]) for _ in range(10)}) == 2,
                   timeout=60, what="2 rng through rng-lb after the scale down", **POLL)
        lb_log = run(["docker", "service", "logs", "--raw", self.service("rng-lb")])
        self.assertIn("Swarm service", lb_log.stdout + lb_log.stderr)  # hamba logs on stderr
        log(f"rng-lb (labels on the service): followed rng-backend 3 -> 5 -> 2 (the scale down "
            f"seen through it {time.monotonic() - down:.1f} s after the command)")


def tearDownModule():
    # The engine may list the stack's overlay network for a while after the swarm is left.
    assert_nothing_left(settle=180)


if __name__ == "__main__":
    main()
