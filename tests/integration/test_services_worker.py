"""worker against real rng, hasher and redis-server: the original's log lines, coins stored as
`HSET wallet <sha256 hex> <bytes>`, "We already had that coin", surviving an rng outage, and no
counted hash lost: the sum of its "<n> units of work done" lines equals Redis's `hashes` after
SIGTERM."""

import hashlib
import http.server
import re
import subprocess
import threading
import time
import unittest

from harness import Process, bin_path, start_redis, wait_until
from services_support import redis_cli, service


def worker(rng, hasher, redis_port, *extra):
    return Process([bin_path("worker"), "--rng", f"127.0.0.1:{rng}", "--hasher",
                    f"127.0.0.1:{hasher}", "--redis", f"127.0.0.1:{redis_port}", *extra])


def units_logged(log):
    return sum(int(n) for n in re.findall(r"^INFO:worker:(\d+) units of work done, updating "
                                          r"hash counter$", log, re.M))


class ConstantRng:
    """An rng that always answers the same 32 bytes: a coin, so the worker finds it again."""

    def __init__(self):
        n = 0
        while True:
            data = n.to_bytes(32, "big")
            if hashlib.sha256(data).hexdigest().startswith("0"):
                break
            n += 1
        self.coin_bytes = data

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", "32")
                self.end_headers()
                self.wfile.write(outer.coin_bytes)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class WorkerTest(unittest.TestCase):
    def test_mines_and_counts_everything(self):
        redis, rport = start_redis()
        with redis, service("rng", "--delay-ms", "0") as rng, \
                service("hasher", "--delay-ms", "0") as hasher, \
                worker(rng.port, hasher.port, rport, "--delay-ms", "5") as w:
            wait_until(lambda: int(redis_cli(rport, "HLEN", "wallet") or 0) >= 3, timeout=30,
                       what="three coins in the wallet")
            self.assertEqual(w.stop(timeout=5.0), 0)
            log = w.log()
            self.assertRegex(log, r"(?m)^INFO:worker:Coin found: 0[0-9a-f]{7}\.\.\.$")
            hashes = int(redis_cli(rport, "GET", "hashes"))
            self.assertGreater(hashes, 0)
            self.assertEqual(hashes, units_logged(log), "counted units lost or added:\n" + log)
            # Every coin: key = lowercase hex sha256 of its 32 random bytes, starting with "0".
            keys = redis_cli(rport, "HKEYS", "wallet").split()
            self.assertGreaterEqual(len(keys), 3)
            for key in keys[:5]:
                # redis-cli prints the raw value plus one newline when its output is not a tty
                raw = subprocess.run(["redis-cli", "-p", str(rport), "HGET", "wallet", key],
                                     capture_output=True, check=True).stdout[:-1]
                self.assertEqual(len(raw), 32)
                self.assertTrue(key.startswith("0"))
                self.assertEqual(hashlib.sha256(raw).hexdigest(), key)

    def test_same_coin_twice(self):
        redis, rport = start_redis()
        with redis, ConstantRng() as rng, service("hasher", "--delay-ms", "0") as hasher, \
                worker(rng.port, hasher.port, rport, "--delay-ms", "20") as w:
            wait_until(lambda: "We already had that coin" in w.log(), timeout=20,
                       what="'We already had that coin'")
            coin = hashlib.sha256(rng.coin_bytes).hexdigest()
            self.assertIn(f"INFO:worker:Coin found: {coin[:8]}...", w.log())
            self.assertEqual(redis_cli(rport, "HKEYS", "wallet"), coin)

    def test_rng_outage(self):
        redis, rport = start_redis()
        with redis, service("hasher", "--delay-ms", "0") as hasher:
            rng = service("rng", "--delay-ms", "0")
            with worker(rng.port, hasher.port, rport, "--retry-wait", "0.5",
                        "--delay-ms", "10") as w:
                wait_until(lambda: int(redis_cli(rport, "GET", "hashes") or 0) > 0, timeout=20,
                           what="first hashes")
                port = rng.port
                rng.stop()
                rng.__exit__(None, None, None)
                wait_until(lambda: "Waiting 0.5s and restarting." in w.log(), timeout=10,
                           what="the retry line")
                self.assertIn("ERROR:worker:In work loop:", w.log())
                self.assertTrue(w.running())
                rng2 = Process([bin_path("rng"), "--listen", f"127.0.0.1:{port}",
                                "--delay-ms", "0"])
                with rng2:
                    before = int(redis_cli(rport, "GET", "hashes"))
                    wait_until(lambda: int(redis_cli(rport, "GET", "hashes")) > before + 10,
                               timeout=20, what="mining after rng came back")
                    self.assertEqual(w.stop(timeout=5.0), 0)
                self.assertEqual(int(redis_cli(rport, "GET", "hashes")), units_logged(w.log()))

    def test_sigterm_is_prompt(self):
        # Stopping while rng is slow to answer: the worker does not wait for it.
        redis, rport = start_redis()
        with redis, service("rng", "--delay-ms", "5000") as rng, \
                service("hasher", "--delay-ms", "0") as hasher, \
                worker(rng.port, hasher.port, rport) as w:
            time.sleep(0.5)
            start = time.monotonic()
            self.assertEqual(w.stop(timeout=5.0), 0)
            self.assertLess(time.monotonic() - start, 2.0)


if __name__ == "__main__":
    unittest.main()
