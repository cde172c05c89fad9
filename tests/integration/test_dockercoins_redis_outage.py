"""DockerCoins on scripts/run-local, Redis killed and restarted mid-run: the worker logs the
outage, keeps mining, and when Redis is back the count goes on, including the work done while
Redis was away (a new, empty Redis gets those units at once)."""

import signal
import time
import unittest

from harness import http_request, start_redis, wait_until
from services_support import RunLocal, get_json, redis_cli

OUTAGE_S = 4


class RedisOutageTest(unittest.TestCase):
    def test_redis_killed_and_restarted(self):
        redis, rport = start_redis()
        with RunLocal(workers=1, redis_port=rport, external_redis=True,
                      extra=["--retry-wait", "1"]) as stack:
            with redis:
                wait_until(lambda: get_json(stack.webui_port)["hashes"] > 3, timeout=20,
                           what="first hashes")
                redis.signal(signal.SIGKILL)
                redis.wait()
            t0 = time.monotonic()
            wait_until(lambda: "Cannot update the hash counter" in stack.log(), timeout=10,
                       what="the worker's outage line")
            self.assertEqual(http_request(stack.webui_port, "GET", "/json")[0], 503)
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
            redis2, _ = start_redis(rport)  # empty: the old counts died with the old Redis
            with redis2:
                outage = time.monotonic() - t0
                # The units mined during the outage arrive together, within a retry wait.
                first = wait_until(lambda: int(redis_cli(rport, "GET", "hashes") or 0),
                                   timeout=10, what="hashes in the new Redis")
                self.assertGreaterEqual(first, int(outage * 10 / 3 * 0.6),
                                        f"only {first} hashes after a {outage:.1f}s outage")
                later = wait_until(lambda: get_json(stack.webui_port)["hashes"] > first + 5,
                                   timeout=10, what="the count going on")
                self.assertTrue(later)
            self.assertTrue(all(p in stack.log() for p in ("worker1", "Keeping")))
            self.assertEqual(stack.stop(timeout=15), 0)


if __name__ == "__main__":
    unittest.main()
