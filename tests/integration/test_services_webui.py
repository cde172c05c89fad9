"""webui with a real HTTP client and a real redis-server: /json agrees with `redis-cli HLEN
wallet` and `GET hashes`; the redirect; the page's files; 404/405; 503 while Redis is away."""

import json
import time
import unittest

from harness import http_request, start_redis
from services_support import get_json, redis_cli, service


class WebuiTest(unittest.TestCase):
    def test_json_agrees_with_redis(self):
        redis, rport = start_redis()
        with redis, service("webui", "--redis", f"127.0.0.1:{rport}") as webui:
            data = get_json(webui.port)
            self.assertEqual((data["coins"], data["hashes"]), (0, 0))  # empty Redis
            redis_cli(rport, "HSET", "wallet", "0abc", "x")
            redis_cli(rport, "HSET", "wallet", "0def", "y")
            redis_cli(rport, "INCRBY", "hashes", "1234")
            before = time.time()
            status, headers, body = http_request(webui.port, "GET", "/json")
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "application/json")
            data = json.loads(body)
            self.assertEqual(data["coins"], int(redis_cli(rport, "HLEN", "wallet")))
            self.assertEqual(data["hashes"], int(redis_cli(rport, "GET", "hashes")))
            self.assertEqual((data["coins"], data["hashes"]), (2, 1234))
            self.assertIsInstance(data["now"], float)
            self.assertLess(abs(data["now"] - before), 5.0)

    def test_pages_and_errors(self):
        redis, rport = start_redis()
        with redis, service("webui", "--redis", f"127.0.0.1:{rport}") as webui:
            status, headers, _ = http_request(webui.port, "GET", "/")
            self.assertEqual(status, 302)
            self.assertEqual(headers["location"], "/index.html")
            status, headers, body = http_request(webui.port, "GET", "/index.html")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/html"))
            self.assertIn(b"hashes/second", body)
            self.assertNotIn(b"://", body.replace(b"http://www.w3.org", b""),
                             "the page must not load anything from elsewhere")
            status, headers, _ = http_request(webui.port, "GET", "/dashboard.js")
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/javascript"))
            self.assertEqual(http_request(webui.port, "GET", "/nope.html")[0], 404)
            self.assertEqual(http_request(webui.port, "GET", "/../CMakeLists.txt")[0], 404)
            self.assertEqual(http_request(webui.port, "POST", "/json", body=b"{}")[0], 405)

    def test_redis_away_then_back(self):
        redis, rport = start_redis()
        with service("webui", "--redis", f"127.0.0.1:{rport}") as webui:
            with redis:
                redis_cli(rport, "SET", "hashes", "7")
                self.assertEqual(get_json(webui.port)["hashes"], 7)
                redis.stop()
            status, _, body = http_request(webui.port, "GET", "/json")
            self.assertEqual(status, 503)
            self.assertIn("error", json.loads(body))
            redis2, _ = start_redis(rport)
            with redis2:
                redis_cli(rport, "SET", "hashes", "8")
                self.assertEqual(get_json(webui.port)["hashes"], 8)
            self.assertEqual(webui.stop(timeout=5.0), 0)

    def test_files_flag(self):
        import os
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "index.html"), "w") as f:
                f.write("<p>mine</p>")
            with service("webui", "--redis", "127.0.0.1:1", env={"FILES": d}) as webui:
                self.assertEqual(http_request(webui.port, "GET", "/index.html")[2], b"<p>mine</p>")


if __name__ == "__main__":
    unittest.main()
