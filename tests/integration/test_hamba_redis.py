"""hamba as a Redis ambassador (`hamba 6379 redishost 32768`): redis-cli and redis-benchmark
work through it unchanged."""

import shutil
import unittest

from harness import Process, bin_path, free_port, run, start_redis, wait_port


class Ambassador(unittest.TestCase):
    def setUp(self):
        if not shutil.which("redis-cli"):
            raise unittest.SkipTest("redis-cli not installed")

    def test_redis_through_hamba(self):
        redis, redis_port = start_redis()
        with redis:
            port = free_port()
            # The original's two-word form: HOST PORT.
            with Process([bin_path("hamba"), port, "127.0.0.1", redis_port]) as hamba:
                wait_port(port)
                cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
                self.assertEqual(run(cli + ["PING"]).stdout.strip(), "PONG", hamba.log())
                self.assertEqual(run(cli + ["SET", "coin", "deadbeef"]).stdout.strip(), "OK")
                self.assertEqual(run(cli + ["GET", "coin"]).stdout.strip(), "deadbeef")
                # Written through hamba, read directly: it is the real server.
                direct = ["redis-cli", "-h", "127.0.0.1", "-p", str(redis_port)]
                self.assertEqual(run(direct + ["GET", "coin"]).stdout.strip(), "deadbeef")
                # A large value both ways.
                big = "x" * 1_000_000
                self.assertEqual(run(cli + ["-x", "SET", "big"], input=big).stdout.strip(), "OK")
                self.assertEqual(run(cli + ["STRLEN", "big"]).stdout.strip(), "1000000")
                if shutil.which("redis-benchmark"):
                    bench = run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n",
                                 "2000", "-c", "10", "-t", "set,get", "-q"], timeout=60)
                    self.assertEqual(bench.returncode, 0, bench.stderr)
                    out = bench.stdout.replace("\r", "\n")
                    self.assertIn("SET:", out)
                    self.assertIn("GET:", out)
                    self.assertNotIn("Error", out + bench.stderr)
                    # redis-benchmark used its own keys: ours are still there.
                    self.assertEqual(run(cli + ["GET", "coin"]).stdout.strip(), "deadbeef")
                self.assertTrue(hamba.running())


if __name__ == "__main__":
    unittest.main(verbosity=2)
