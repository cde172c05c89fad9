"""hasher with a real HTTP client: the answer equals `sha256sum` of the body for an empty, a
1-byte and a 1 MiB body; the hello line; 400, 404, 405, 413 for bad requests; SIGTERM."""

import os
import socket
import subprocess
import unittest

from harness import http_request
from services_support import assert_hello, raw_request, service


def sha256sum(data):
    out = subprocess.run(["sha256sum"], input=data, capture_output=True, check=True).stdout
    return out.split()[0]


class HasherTest(unittest.TestCase):
    def test_hashes_like_sha256sum(self):
        with service("hasher", "--delay-ms", "0") as hasher:
            for body in (b"", b"x", os.urandom(1 << 20), b"hello"):
                status, headers, answer = http_request(hasher.port, "POST", "/", body=body)
                self.assertEqual(status, 200)
                self.assertTrue(headers["content-type"].startswith("text/plain"))
                self.assertEqual(answer, sha256sum(body), f"body of {len(body)} bytes")

    def test_hello(self):
        assert_hello(self, "hasher", "HASHER")

    def test_bad_requests(self):
        with service("hasher", "--delay-ms", "0", "--max-body", "1000") as hasher:
            self.assertEqual(http_request(hasher.port, "POST", "/", body=b"x" * 1001)[0], 413)
            self.assertEqual(http_request(hasher.port, "POST", "/", body=b"x" * 1000)[0], 200)
            self.assertEqual(http_request(hasher.port, "POST", "/other", body=b"x")[0], 404)
            self.assertEqual(http_request(hasher.port, "PUT", "/", body=b"x")[0], 405)
            answer = raw_request(hasher.port, b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
            self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)
            # A huge declared length is refused before the body is sent.
            answer = raw_request(hasher.port,
                                 b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n")
            self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)

    def test_keep_alive(self):
        import http.client
        with service("hasher", "--delay-ms", "0") as hasher:
            conn = http.client.HTTPConnection("127.0.0.1", hasher.port, timeout=10)
            for body in (b"a", b"bb", b"ccc"):
                conn.request("POST", "/", body=body)
                r = conn.getresponse()
                self.assertEqual(r.read(), sha256sum(body))
            conn.close()

    def test_pipelined_requests(self):
        with service("hasher", "--delay-ms", "0") as hasher:
            answer = raw_request(hasher.port,
                                 b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                                 b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
                                 b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            self.assertEqual(answer.count(b"HTTP/1.1 200 OK"), 3, answer)
            first, second = sha256sum(b"hello"), sha256sum(b"x")
            self.assertLess(answer.index(first), answer.index(second))
            self.assertTrue(answer.endswith(b"HASHER running on " +
                                            socket.gethostname().encode() + b"\n"))

    def test_sigterm(self):
        with service("hasher") as hasher:
            self.assertEqual(hasher.stop(timeout=5.0), 0)


if __name__ == "__main__":
    unittest.main()
