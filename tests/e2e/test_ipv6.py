"""hamba in a container over IPv6, within this engine's own networks: a user-defined network with
IPv6 on (`--ipv6`, a unique local subnet), two rng backends listening on [::]:80, and hamba
listening on [::]:80 and balancing over the backends' IPv6 addresses, reached from the host over
that network's bridge. Then the 2015 ambassador on the IPv6 loopback: hamba on [::1]:6379 in an
application's network namespace, where `redis` names ::1, forwarding to Redis's IPv6 address."""

import ipaddress
import unittest

from docker_e2e import (IMAGES, LABEL, POLL, REDIS_IMAGE, RUN_ID, Container,
                        assert_nothing_left, build_images, http_get, main, require_docker, run)
from harness import wait_until

# A unique local subnet (RFC 4193): "hamba" in ASCII as its global id, on no real network.
SUBNET = "fd68:616d:6261::/64"


def ipv6_of(container, net):
    address = container.inspect(
        f'{{{{(index .NetworkSettings.Networks "{net}").GlobalIPv6Address}}}}')
    if not address or ipaddress.ip_address(address) not in ipaddress.ip_network(SUBNET):
        raise AssertionError(f"container {container.id[:12]} has no IPv6 address in {SUBNET}: "
                             f"{address!r}")
    return address


def rng_host_at(address):
    """Which rng answered a new connection to [address]:80."""
    _, body = http_get(f"http://[{address}]:80/")
    text = body.decode()
    if not text.startswith("RNG running on "):
        raise AssertionError(f"unexpected answer through [{address}]:80: {text!r}")
    return text.split()[-1]


class Ipv6Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()
        cls.net = f"{RUN_ID}net6"
        run(["docker", "network", "create", "--label", LABEL, "--ipv6", "--subnet", SUBNET,
             cls.net])
        cls.backends = {}
        for name in ("www1", "www2"):
            c = Container(IMAGES["rng"], "--listen", "[::]:80", docker_args=[
                "--network", cls.net, "--network-alias", name, "--hostname", name])
            cls.backends[name] = c
        for c in cls.backends.values():
            if c.inspect("{{.State.Running}}") != "true":
                raise AssertionError(f"rng backend exited: {run(['docker', 'logs', c.id]).stderr}")

    @classmethod
    def tearDownClass(cls):
        for c in getattr(cls, "backends", {}).values():
            c.remove()
        if hasattr(cls, "net"):
            run(["docker", "network", "rm", cls.net], check=False)

    def test_listens_on_and_balances_to_ipv6(self):
        servers = [f"[{ipv6_of(c, self.net)}]:80" for c in self.backends.values()]
        with Container(IMAGES["hamba"], "[::]:80", *servers,
                       docker_args=["--network", self.net]) as lb:
            address = ipv6_of(lb, self.net)
            seen = wait_until(lambda: (s := {rng_host_at(address) for _ in range(8)})
                              == {"www1", "www2"} and s, timeout=30,
                              what=f"hamba on [{address}]:80 to reach both rng over IPv6", **POLL)
            self.assertEqual(seen, {"www1", "www2"})
            logs = run(["docker", "logs", lb.id])
            self.assertIn("listening on [::]:80", logs.stdout + logs.stderr)

    def test_ambassador_on_the_ipv6_loopback(self):
        with Container(REDIS_IMAGE, docker_args=["--network", self.net]) as redis, \
                Container(IMAGES["webui"], docker_args=[
                    "--network", self.net, "--add-host", "redis:::1",
                    "-p", "127.0.0.1::80"]) as app, \
                Container(IMAGES["hamba"], "[::1]:6379", f"[{ipv6_of(redis, self.net)}]:6379",
                          docker_args=["--net", f"container:{app.id}"]) as ambassador:
            wait_until(lambda: redis.exec("redis-cli", "SET", "hashes", "6666",
                                          check=False).stdout.strip() == "OK",
                       timeout=20, what="Redis to answer", **POLL)
            _, port = app.port(80)
            body = wait_until(lambda: (b := http_get(f"http://127.0.0.1:{port}/json")[1])
                              and b"6666" in b and b, timeout=30,
                              what="the webui to read Redis through its ambassador on ::1", **POLL)
            self.assertIn(b'"hashes":6666', body.replace(b" ", b""))
            self.assertEqual(ambassador.inspect("{{.State.Running}}"), "true")


def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
