"""Workshop topology 5: the same stack on several hosts, all counting into one Redis. Three compose
projects stand for three hosts, each with its hamba ambassador (examples/ambassador.yml) in front
of one Redis published on the host's Docker bridge address. Then Redis moves: a second one
starts, every ambassador is reconfigured with `docker exec ... hamba reconfigure`, the first one
goes away, and the workers go on counting into the new one without being restarted."""

import contextlib
import unittest

from docker_e2e import (POLL, Stack, assert_nothing_left, bridge_gateway, build_images,
                        hash_rate, log, main, redis_hashes, require_docker, run, wait_mining)
from harness import wait_until

ONE_WORKER = 10 / 3
HOSTS = 3


def start_redis(cleanup, gateway, name):
    """A Redis project published on gateway at a port Docker picks, torn down by cleanup.
    Returns (stack, container id, port)."""
    stack = cleanup.enter_context(Stack("examples/redis.yml", name,
                                        env={"REDIS_BIND": gateway, "REDIS_PORT": ""}))
    stack.up()
    redis_id = stack.containers("redis")[0]
    port = stack.cmd("port", "redis", "6379").stdout.strip().rpartition(":")[2]
    wait_until(lambda: redis_hashes(redis_id) == 0, timeout=20, what=name, **POLL)
    return stack, redis_id, port


def worker_identity(node):
    """What a restart would change: container ids, start times and restart counts."""
    ids = node.containers("worker")
    return sorted(run(["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.RestartCount}}",
                       *ids]).stdout.split("\n"))


class MultiHostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()
        cls.gateway = bridge_gateway()

    def test_three_hosts_one_redis_then_redis_moves(self):
        gw = self.gateway
        with contextlib.ExitStack() as cleanup:
            redis1, redis1_id, port1 = start_redis(cleanup, gw, "redis1")

            nodes = []
            for i in range(1, HOSTS + 1):
                node = cleanup.enter_context(Stack(
                    "examples/ambassador.yml", f"node{i}",
                    env={"REDIS_HOST": gw, "REDIS_PORT": port1}))
                node.up()
                nodes.append(node)
            for node in nodes:
                wait_mining(node.webui_port)

            rate = hash_rate(nodes[0].webui_port)
            log(f"{HOSTS} hosts, one worker each, one Redis: {rate:.2f} hashes/s")
            self.assertAlmostEqual(rate, HOSTS * ONE_WORKER, delta=0.15 * HOSTS * ONE_WORKER)
            for node in nodes:
                self.assertIn("units of work done", node.logs("worker"), node.project)

            # Redis moves: a second one, every ambassador pointed at it, the first one gone.
            workers_before = [worker_identity(node) for node in nodes]
            _, redis2_id, port2 = start_redis(cleanup, gw, "redis2")
            for node in nodes:
                ambassador = node.containers("redis")[0]
                run(["docker", "exec", ambassador, "hamba", "reconfigure", "6379", gw, port2])
            moved_at = redis_hashes(redis1_id)
            log(f"ambassadors reconfigured to {gw}:{port2}; Redis 1 stops at {moved_at} hashes")
            redis1.down()

            # The workers' connections to the old Redis break; they reconnect through their
            # ambassador (after their retry wait, 10 s by default) and land on the new one.
            wait_until(lambda: redis_hashes(redis2_id) > 0, timeout=60,
                       what="work counted in Redis 2", **POLL)
            for node in nodes:
                wait_mining(node.webui_port, timeout=60)
            rate2 = hash_rate(nodes[-1].webui_port)
            log(f"after the move: {rate2:.2f} hashes/s into Redis 2 "
                f"(counter {redis_hashes(redis2_id)})")
            self.assertAlmostEqual(rate2, HOSTS * ONE_WORKER, delta=0.15 * HOSTS * ONE_WORKER)
            self.assertEqual([worker_identity(node) for node in nodes], workers_before,
                             "a worker was restarted or replaced")

            for node in nodes:
                node.assert_down_is_prompt(self)



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
