"""DockerCoins end to end on scripts/run-local with a real redis-server, the mining rate measured
from /json over >= 12 s as the web page computes it (difference of `hashes` over difference of
`now`):
  - one worker mines 3.33 hashes/s (within 15%);
  - ten workers are held near 10 hashes/s by the single rng (one request at a time);
  - three rng behind hamba with ten workers mine at least 2.2 times that;
  - Redis behind a hamba ambassador mines like the plain stack.
"""

import sys
import time
import unittest

from harness import bin_path
from services_support import RunLocal, get_json, measure_rate

MEASURE_S = 12


def warm_up(stack):
    """Until the workers' first counts are in, plus a moment for every worker to be in step."""
    deadline = time.monotonic() + 20
    while get_json(stack.webui_port)["hashes"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)


def rate_of(topology, workers):
    with RunLocal(topology=topology, workers=workers) as stack:
        warm_up(stack)
        rate = measure_rate(stack.webui_port, MEASURE_S)
    print(f"{topology}, {workers} worker(s): {rate:.2f} hashes/s", file=sys.stderr)
    return rate


def have_hamba():
    try:
        bin_path("hamba")
        return True
    except FileNotFoundError:
        return False


class RatesTest(unittest.TestCase):
    plain_ten = None

    def test_1_one_worker(self):
        rate = rate_of("plain", 1)
        self.assertAlmostEqual(rate, 10 / 3, delta=0.15 * 10 / 3)

    def test_2_ten_workers_held_by_rng(self):
        rate = rate_of("plain", 10)
        RatesTest.plain_ten = rate
        self.assertGreaterEqual(rate, 8.5)
        self.assertLessEqual(rate, 11.0)

    @unittest.skipUnless(have_hamba(), "hamba not built")
    def test_3_scaled_rng(self):
        plain = RatesTest.plain_ten or rate_of("plain", 10)
        rate = rate_of("scaled-rng", 10)
        self.assertGreaterEqual(rate, 2.2 * plain, f"scaled {rate:.2f} vs plain {plain:.2f}")

    @unittest.skipUnless(have_hamba(), "hamba not built")
    def test_4_ambassador(self):
        rate = rate_of("ambassador", 1)
        self.assertAlmostEqual(rate, 10 / 3, delta=0.15 * 10 / 3)


if __name__ == "__main__":
    unittest.main()
