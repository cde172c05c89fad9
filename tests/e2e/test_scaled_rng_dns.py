"""Scaling rng with compose and no copy-paste (examples/scaled-rng-dns.yml): `hamba 80 rng:80`
follows `docker-compose up --scale rng=N` from 1 to 3 to 5 instances with no restart of hamba,
and the hash rate follows, about 10 per rng instance until the workers are the limit.

hamba balances connections, and each worker keeps one keep-alive connection to rng: a scale-up
reaches the connections made after it. So around each scale the workers are removed and made
again (new connections, spread over every instance); hamba itself is never restarted."""

import unittest

from docker_e2e import (POLL, Stack, assert_nothing_left, build_images, hash_rate, log, main,
                        require_docker, rng_hostname, run, wait_mining)
from harness import wait_until

WORKERS = 16          # 16 x 3.33 = 53 hashes/s at most: rng stays the limit up to 5 instances
ONE_RNG = 10.0        # one rng answers one request at a time, 0.1 s each


def hostnames_through(port, want, tries=60):
    """Distinct rng hosts seen through hamba on port, stopping once `want` were seen."""
    seen = set()
    for _ in range(tries):
        seen.add(rng_hostname(port))
        if len(seen) >= want:
            break
    return seen


class ScaledRngDnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()

    def test_hamba_follows_compose_scale(self):
        with Stack("examples/scaled-rng-dns.yml", "dnsscale") as stack:
            def scale(n):
                # The workers go first and come back after the scale, with new connections.
                # (Not `--force-recreate`: Docker 20.10, recreating 16 containers on one
                # network at once, now and then kept a count of endpoints that were gone, and
                # the network could not be removed at the end; removing them all, then creating
                # them all, has not done that.)
                stack.up("--scale", f"rng={n}", "--scale", "worker=0")
                self.assertEqual(len(stack.containers("rng")), n)
                stack.up("--scale", f"rng={n}", "--scale", f"worker={WORKERS}")
                wait_until(lambda: len(hostnames_through(stack.rng_port, n)) == n, timeout=30,
                           what=f"{n} rng through hamba", **POLL)

            def identity():
                lb = stack.containers("rng-lb")
                self.assertEqual(len(lb), 1)
                return run(["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}} "
                            "{{.RestartCount}}", lb[0]]).stdout.strip()

            scale(1)
            wait_mining(stack.webui_port)
            hamba = identity()
            rates = {}
            for n in (1, 3, 5):
                if n > 1:
                    scale(n)
                # The counter needs a moment to reflect the new capacity.
                wait_until(lambda: hash_rate(
                    stack.webui_port, window=3) > 0.6 * n * ONE_RNG, timeout=40,
                           what=f"the rate to rise with {n} rng", **POLL)
                rates[n] = hash_rate(stack.webui_port)
                log(f"{n} rng behind hamba, {WORKERS} workers: {rates[n]:.2f} hashes/s")
                self.assertEqual(identity(), hamba, "hamba was restarted")
            self.assertAlmostEqual(rates[1], ONE_RNG, delta=0.15 * ONE_RNG)
            self.assertGreaterEqual(rates[3], 2.5 * rates[1])
            self.assertGreaterEqual(rates[5], 1.3 * rates[3])
            stack.assert_down_is_prompt(self)



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
