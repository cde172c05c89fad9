"""The Docker provider (--docker) against a stand-in Engine API (fake_docker.py), so that the
daemon can break and come back, which the real one cannot on a shared machine
(tests/e2e/test_docker_labels.py drives the real dockerd):

- labels alone open a frontend; a container's start adds its server, its die (or docker
  stop's signal, or an unhealthy healthcheck) removes it even while the daemon's list still
  shows it running, and the last one leaving closes the port;
- showconfig and the stats show the discovered frontend, servers named after containers;
- the socket unreachable at start: one line, the configured frontend serves, and hamba
  connects once the daemon is there;
- a label colliding with a configured frontend, and a bad label: one line each, naming the
  container; the others are served; a reconfigure of the configured frontends keeps them,
  and a port it frees opens for the container labelled for it;
- the event stream breaks: the last state stands; the daemon back, hamba lists again and
  reconciles;
- Swarm (the stand-in as a manager): a service's labels (its own over its containers') open a
  frontend over its running tasks' addresses on its network, named SERVICE.SLOT, and its tasks'
  containers are not served a second time; a scale up is followed once the new task runs,
  though Swarm sends no event then (hamba asks again while the service converges); a scale down
  and the service's removal are followed.
"""

import json
import os
import shutil
import socket
import tempfile
import unittest

from fake_docker import FakeDocker, container, service, task
from hamba_helpers import TaggedEcho, stats_json
from harness import Hamba, assert_stops_cleanly, free_port, wait_until
from runtime_support import exchange


def port_of(server):
    return int(server.address().rsplit(":", 1)[1])


def labelled(cid, name, frontend_port, server, **labels):
    return container(cid, name, {"hamba.frontend": f"127.0.0.1:{frontend_port}", **labels},
                     "127.0.0.1", [port_of(server)])


def tags(port, n=6):
    return {exchange(port, b"probe")[0] for _ in range(n)}


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


class DockerProviderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hamba-docker-")
        self.socket = os.path.join(self.dir, "docker.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_labels_open_a_frontend_that_follows_starts_and_dies(self):
        port, admin = free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, FakeDocker(self.socket) as d:
            d.containers = [labelled("a1", "rng-1", port, a)]
            with Hamba("--docker", self.socket, "--admin", f"127.0.0.1:{admin}") as h:
                wait_until(lambda: tags(port) == {"a"}, retry_on=OSError, what="rng-1 served")
                d.containers.append(labelled("b1", "rng-2", port, b, **{"hamba.weight": "2"}))
                d.event("start", "b1", "rng-2")
                wait_until(lambda: tags(port) == {"a", "b"}, what="rng-2 joins")

                shown = h.ctl("showconfig").stdout
                self.assertIn("provider: docker", shown)
                self.assertIn('name: "rng-2"', shown)
                names = {s["name"] for f in stats_json(admin)["frontends"] for s in f["servers"]}
                self.assertEqual(names, {"rng-1", "rng-2"})

                # The die event wins over a list that still shows the container running.
                d.event("die", "a1", "rng-1")
                wait_until(lambda: tags(port) == {"b"}, what="rng-1 leaves at its die")
                d.event("start", "a1", "rng-1")
                wait_until(lambda: tags(port) == {"a", "b"}, what="rng-1 back at its start")
                # docker stop's signal: it leaves at once; a SIGHUP (a reload) is no stop.
                d.event("kill", "a1", "rng-1", signal="1")
                d.event("kill", "b1", "rng-2", signal="15")
                wait_until(lambda: tags(port) == {"a"}, what="rng-2 leaves at its SIGTERM")
                d.event("start", "b1", "rng-2")
                wait_until(lambda: tags(port) == {"a", "b"}, what="rng-2 back")
                # A healthcheck that fails takes it out; passing again brings it back.
                d.event("health_status: unhealthy", "b1", "rng-2")
                wait_until(lambda: tags(port) == {"a"}, what="rng-2 out while unhealthy")
                d.event("health_status: healthy", "b1", "rng-2")
                wait_until(lambda: tags(port) == {"a", "b"}, what="rng-2 back when healthy")

                d.containers = []
                d.event("die", "a1", "rng-1")
                d.event("die", "b1", "rng-2")
                wait_until(lambda: refused(port), what="the port closed with its last server")
                log = h.log()
                self.assertIn(f"docker: frontend {port} opened on 127.0.0.1:{port} for rng-1", log)
                self.assertIn("docker: rng-2 (127.0.0.1:", log)
                self.assertIn(f"leaves frontend {port}", log)
                self.assertIn(f"docker: frontend {port} on 127.0.0.1:{port} closes", log)
                assert_stops_cleanly(self, h)

    def test_unreachable_at_start_collision_and_bad_label(self):
        static, port = free_port(), free_port()
        with TaggedEcho("s") as s, TaggedEcho("a") as a:
            with Hamba("--docker", self.socket, static, s.address(), ports=[static]) as h:
                wait_until(lambda: "docker: connecting to" in h.log(), what="the failure line")
                self.assertEqual(exchange(static, b"x"), ("s", True))
                with FakeDocker(self.socket) as d:
                    d.containers = [
                        labelled("c1", "clash", static, a),
                        labelled("c2", "bad", port, a, **{"hamba.wieght": "2"}),
                        labelled("c3", "good", port, a),
                    ]
                    wait_until(lambda: tags(port) == {"a"}, retry_on=OSError,
                               what="hamba connects to the daemon once it is there")
                    self.assertEqual(exchange(static, b"x"), ("s", True))
                    log = h.log()
                    self.assertEqual(log.count("docker: connecting to"), 1, log)
                    self.assertIn("docker: following", log)
                    self.assertEqual(log.count(
                        f"docker: container clash skipped: frontend 127.0.0.1:{static} refused: "
                        f"the configuration has frontend \"{static}\""), 1, log)
                    self.assertEqual(log.count(
                        'docker: container bad skipped: label hamba.wieght="2": unknown label'),
                        1, log)
                    # Another event, the same problems: not logged again.
                    d.event("start", "c3")
                    wait_until(lambda: d.lists >= 2, what="a second list")
                    self.assertEqual(exchange(port, b"x"), ("a", True))
                    self.assertEqual(h.log().count("docker: container bad skipped"), 1)
                    # A reconfigure of the configured frontends keeps the discovery going.
                    other = free_port()
                    r = h.ctl("reconfigure", f"127.0.0.1:{other}", s.address())
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(exchange(other, b"x"), ("s", True))
                    self.assertEqual(exchange(port, b"x"), ("a", True))
                    self.assertIn("provider: docker", h.ctl("showconfig").stdout)
                    # The port the configuration freed goes to the container labelled for it.
                    wait_until(lambda: exchange(static, b"x") == ("a", True), retry_on=OSError,
                               what="the freed port opened for the container 'clash'")
                assert_stops_cleanly(self, h)

    def test_stream_breaks_last_state_stands_then_reconciles(self):
        port = free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, FakeDocker(self.socket) as d:
            d.containers = [labelled("a1", "rng-1", port, a)]
            with Hamba("--docker", self.socket) as h:
                wait_until(lambda: tags(port) == {"a"}, retry_on=OSError, what="rng-1 served")
                d.stop()
                wait_until(lambda: "the containers last listed stay served" in h.log(),
                           what="the break noticed")
                self.assertEqual(tags(port), {"a"})
                d.containers = [labelled("b1", "rng-2", port, b)]
                d.start()
                wait_until(lambda: tags(port) == {"b"}, what="the new list reconciled")
                self.assertIn("docker: following", h.log())
                self.assertIn("again", h.log())
                assert_stops_cleanly(self, h)

    def test_swarm_service_tasks_follow_scale_and_removal(self):
        port, admin, target = free_port(), free_port(), free_port()
        with TaggedEcho("a", "127.0.0.11", target) as a, \
                TaggedEcho("b", "127.0.0.12", target) as b, \
                TaggedEcho("c", "127.0.0.13", target) as c, FakeDocker(self.socket) as d:
            d.swarm = True
            d.services = [service("s1", "rng", {"hamba.frontend": f"127.0.0.1:{port}",
                                                "hamba.weight": "2"}, [target], replicas=2,
                                  container_labels={"hamba.weight": "3", "hamba.check": "tcp"})]
            d.tasks = [task("t1", "s1", 1, "127.0.0.11", container_id="c1"),
                       task("t2", "s1", 2, "127.0.0.12", container_id="c2")]
            # Task t1's container, as the container list shows it on this node.
            d.containers = [container("c1", "rng.1.t1", {"hamba.frontend": f"127.0.0.1:{port}",
                                                          "com.docker.swarm.task.id": "t1"},
                                      "127.0.0.11", [target], networks={
                                          "net": {"IPAddress": "127.0.0.11"}})]
            with Hamba("--docker", self.socket, "--admin", f"127.0.0.1:{admin}") as h:
                wait_until(lambda: tags(port) == {"a", "b"}, retry_on=OSError,
                           what="both tasks served")
                servers = {(s["name"], s["weight"]) for f in stats_json(admin)["frontends"]
                           for s in f["servers"]}
                self.assertEqual(servers, {("rng.1", 2), ("rng.2", 2)}, h.log())
                self.assertIn("the tasks of 1 Swarm service among them", h.log())

                # Scale 2 -> 3: the new task starts, then runs, with no event when it does.
                d.services[0]["Spec"]["Mode"]["Replicated"]["Replicas"] = 3
                d.tasks.append(task("t3", "s1", 3, "127.0.0.13", state="starting"))
                d.event("update", "s1", "rng", type="service")
                wait_until(lambda: d.task_lists >= 3, what="the tasks asked for again")
                self.assertEqual(tags(port), {"a", "b"})
                d.tasks[2] = task("t3", "s1", 3, "127.0.0.13")
                wait_until(lambda: tags(port) == {"a", "b", "c"}, what="the third task joins")

                # Scale 3 -> 1: the tasks Swarm shuts down leave.
                d.services[0]["Spec"]["Mode"]["Replicated"]["Replicas"] = 1
                for t in d.tasks[1:]:
                    t["DesiredState"] = "shutdown"
                d.event("update", "s1", "rng", type="service")
                wait_until(lambda: tags(port) == {"a"}, what="back to one task")

                # The service removed: its port closes.
                d.services, d.tasks, d.containers = [], [], []
                d.event("remove", "s1", "rng", type="service")
                wait_until(lambda: refused(port), what="the port closed with the service")
                assert_stops_cleanly(self, h)


if __name__ == "__main__":
    unittest.main()
