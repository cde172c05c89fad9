"""Workshop topologies 1 and 2 with real containers: the plain stack mines at 3.33 hashes/s with
one worker; ten workers are held near 10/s by the single rng; with three rng behind hamba
(examples/scaled-rng.yml) ten workers mine at least 2.2 times that. `docker-compose down` of ten
workers takes seconds, not 10 s per worker; nothing is left afterwards. Rates are read from the
webui's /json over ~10 s, as the web page computes them."""

import unittest

from docker_e2e import (POLL, Stack, assert_nothing_left, build_images, hash_rate, log, main,
                        require_docker, rng_hostname, wait_mining)
from harness import wait_until

ONE_WORKER = 10 / 3  # 0.1 s sleep + 0.1 s rng + 0.1 s hasher per hash
RNG_LIMIT = 10.0     # one rng answers one request at a time, 0.1 s each


class StackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()
        build_images()

    def test_plain_then_scaled_rng(self):
        with Stack("examples/plain.yml", "plain") as plain:
            plain.up()
            wait_mining(plain.webui_port)
            one = hash_rate(plain.webui_port)
            log(f"plain stack, 1 worker: {one:.2f} hashes/s")
            self.assertAlmostEqual(one, ONE_WORKER, delta=0.15 * ONE_WORKER)

            plain.up("--scale", "worker=10")
            self.assertEqual(len(plain.containers("worker")), 10)
            wait_until(lambda: hash_rate(plain.webui_port, window=3) > 2 * ONE_WORKER, timeout=30,
                       what="ten workers to reach the counter", **POLL)
            held = hash_rate(plain.webui_port)
            log(f"plain stack, 10 workers, one rng: {held:.2f} hashes/s")
            self.assertAlmostEqual(held, RNG_LIMIT, delta=0.15 * RNG_LIMIT)

            plain.assert_down_is_prompt(self)

        with Stack("examples/scaled-rng.yml", "scaled") as scaled:
            scaled.up("--scale", "worker=10")
            wait_mining(scaled.webui_port)
            # The published rng port is hamba: new connections go round the three instances
            # (the workers' connections take turns too, hence up to 40 tries).
            seen = set()
            for _ in range(40):
                seen.add(rng_hostname(scaled.rng_port))
                if len(seen) == 3:
                    break
            self.assertEqual(len(seen), 3, f"only {seen} answered through hamba")
            wait_until(lambda: hash_rate(scaled.webui_port, window=3) > 2 * ONE_WORKER, timeout=30,
                       what="ten workers to reach the counter", **POLL)
            lifted = hash_rate(scaled.webui_port)
            log(f"scaled rng (3 behind hamba), 10 workers: {lifted:.2f} hashes/s "
                f"({lifted / held:.2f} x one rng)")
            self.assertGreaterEqual(lifted, 2.2 * held)
            scaled.assert_down_is_prompt(self)



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
