"""rng with a real HTTP client: n random bytes, different each time; the hello line; 400, 404,
405 for bad requests; one request at a time with --concurrency 1; prompt exit on SIGTERM, after
answering the requests already in, those still in the kernel's accept queue included (the
drain of http::HttpServer, which hasher and webui share)."""

import signal
import socket
import threading
import unittest

from harness import http_request
from services_support import assert_hello, raw_request, service


class RngTest(unittest.TestCase):
    def test_bytes(self):
        with service("rng", "--delay-ms", "0") as rng:
            seen = set()
            for n in (0, 1, 32, 1000, 65536):
                status, headers, body = http_request(rng.port, "GET", f"/{n}")
                self.assertEqual(status, 200)
                self.assertEqual(headers["content-type"], "application/octet-stream")
                self.assertEqual(len(body), n)
                seen.add(body)
            for _ in range(5):
                seen.add(http_request(rng.port, "GET", "/32")[2])
            self.assertEqual(len(seen), 10, "random bytes repeated")
            self.assertGreater(len(set(http_request(rng.port, "GET", "/4096")[2])), 200,
                               "4096 random bytes use few distinct byte values")

    def test_hello(self):
        assert_hello(self, "rng", "RNG")

    def test_bad_requests(self):
        with service("rng", "--delay-ms", "0", "--max-bytes", "1000") as rng:
            for method, path, want in [("GET", "/abc", 400), ("GET", "/-1", 400),
                                       ("GET", "/1001", 400),
                                       ("GET", "/99999999999999999999999", 400),
                                       ("GET", "/32/more", 404), ("POST", "/32", 405),
                                       ("DELETE", "/", 405)]:
                status, _, _ = http_request(rng.port, method, path)
                self.assertEqual(status, want, f"{method} {path}")
            answer = raw_request(rng.port, b"GARBAGE\r\n\r\n")
            self.assertTrue(answer.startswith(b"HTTP/1.1 4"), answer)

    def test_one_request_at_a_time(self):
        # With --concurrency 1 the requests are served in turn: 4 requests of 300 ms each
        # cannot finish in less than 1.2 s together (a lower bound, not a timing race).
        import time
        with service("rng", "--delay-ms", "300", "--concurrency", "1") as rng:
            results = []
            start = time.monotonic()
            threads = [threading.Thread(target=lambda: results.append(
                http_request(rng.port, "GET", "/8")[0])) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [200] * 4)
            self.assertGreaterEqual(time.monotonic() - start, 1.2)

    def test_sigterm(self):
        with service("rng") as rng:
            http_request(rng.port, "GET", "/")
            self.assertEqual(rng.stop(timeout=5.0), 0)
            self.assertIn("SIGTERM received", rng.log())

    def test_sigterm_drains_what_is_in(self):
        def read_all(conn):
            conn.settimeout(10)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            return data

        with service("rng", "--delay-ms", "100", "--concurrency", "1") as rng:
            idle = socket.create_connection(("127.0.0.1", rng.port), timeout=10)
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"RNG running", idle.recv(65536))
            # Stopped, rng accepts nothing: these wait in the kernel's accept queue, their
            # requests sent; then SIGTERM, and rng goes on.
            rng.signal(signal.SIGSTOP)
            clients = [socket.create_connection(("127.0.0.1", rng.port), timeout=10)
                       for _ in range(5)]
            for c in clients:
                c.sendall(b"GET /4 HTTP/1.1\r\nHost: x\r\n\r\n")
            rng.signal(signal.SIGTERM)
            rng.signal(signal.SIGCONT)
            for c in clients:
                head, _, body = read_all(c).partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                self.assertIn(b"connection: close", head.lower())
                self.assertEqual(len(body), 4)
                c.close()
            self.assertEqual(read_all(idle), b"", "the idle keep-alive connection stays open")
            idle.close()
            self.assertEqual(rng.wait(timeout=10), 0, rng.log())

    def test_usage_errors(self):
        from harness import bin_path, run
        r = run([bin_path("rng"), "--concurrency", "zero"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--concurrency", r.stderr)
        r = run([bin_path("rng"), "--listen", "x"], env={})
        self.assertEqual(r.returncode, 2)
        r = run([bin_path("rng")], env={"LISTEN": "nope:port"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("LISTEN", r.stderr)


if __name__ == "__main__":
    unittest.main()
