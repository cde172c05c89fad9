"""Workshop topologies 3 and 4: a stack whose Redis runs elsewhere. The Redis is its own compose
project (examples/redis.yml) published on the host's Docker bridge address, which stands for
"another host". With examples/extra-hosts.yml the name `redis` points there (default port 6379);
with examples/ambassador.yml the service `redis` is hamba forwarding to an arbitrary port. Both
stacks mine into that remote Redis at the one-worker rate."""

import socket
import unittest

from docker_e2e import (POLL, Stack, assert_nothing_left, bridge_gateway, build_images,
                        hash_rate, log, main, redis_hashes, require_docker, wait_mining, webui_json)
from harness import wait_until

ONE_WORKER = 10 / 3


def remote_redis(gateway, port, name):
    """A Redis project published on gateway:port (port "" = one Docker picks)."""
    return Stack("examples/redis.yml", name, env={"REDIS_BIND": gateway, "REDIS_PORT": port})


class RemoteRedisTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()
        cls.gateway = bridge_gateway()

    def assert_mines_into(self, stack, redis_id):
        wait_mining(stack.webui_port)
        before = redis_hashes(redis_id)
        rate = hash_rate(stack.webui_port)
        after = redis_hashes(redis_id)
        log(f"{stack.project}: {rate:.2f} hashes/s, remote Redis counter {before} -> {after}")
        self.assertAlmostEqual(rate, ONE_WORKER, delta=0.15 * ONE_WORKER)
        self.assertGreaterEqual(after - before, 20, "the remote Redis did not get the work")
        # The web UI reads the same remote counter.
        self.assertLessEqual(abs(webui_json(stack.webui_port)[1] - redis_hashes(redis_id)), 10)
        stack.assert_down_is_prompt(self)

    def test_extra_hosts(self):
        # The workshop's rule: Redis on its default port. Say so clearly if something has it.
        with socket.socket() as probe:
            try:
                probe.bind((self.gateway, 6379))
            except OSError as e:
                self.fail(f"port 6379 on {self.gateway} is taken ({e}); the extra_hosts topology "
                          "needs it for the remote Redis")
        with remote_redis(self.gateway, "6379", "redisdefault") as redis:
            redis.up()
            redis_id = redis.containers("redis")[0]
            wait_until(lambda: redis_hashes(redis_id) == 0, timeout=20, what="the remote Redis",
                       **POLL)
            with Stack("examples/extra-hosts.yml", "extrahosts",
                       env={"REDIS_HOST": self.gateway}) as stack:
                stack.up()
                self.assertEqual(stack.containers("redis"), [], "the stack has its own redis")
                self.assert_mines_into(stack, redis_id)

    def test_ambassador(self):
        with remote_redis(self.gateway, "", "redisanyport") as redis:
            redis.up()
            redis_id = redis.containers("redis")[0]
            port = redis.cmd("port", "redis", "6379").stdout.strip().rpartition(":")[2]
            self.assertNotEqual(port, "6379")
            wait_until(lambda: redis_hashes(redis_id) == 0, timeout=20, what="the remote Redis",
                       **POLL)
            with Stack("examples/ambassador.yml", "ambassador",
                       env={"REDIS_HOST": self.gateway, "REDIS_PORT": port}) as stack:
                stack.up()
                self.assert_mines_into(stack, redis_id)



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
