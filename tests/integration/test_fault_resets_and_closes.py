"""Resets and slow closes in both directions, with Toxiproxy's toxics played by an in-test proxy
on the server side:
- reset_peer: the server resets after 300 KB: the client sees a reset (not an EOF) after only
  bytes of the stream;
- limit_data: the server closes in order after exactly N bytes: the client gets exactly those N
  and an EOF;
- a client that resets mid-upload: the server sees a reset too, after exactly the bytes sent;
- slow_close: the server's EOF (and the client's) arrives 1.5 s after its last byte: every byte
  arrives, then the EOF;
- a client that closes slowly: it reads the whole answer before its own EOF, then gets the
  server's.
"""

import hashlib
import os
import socket
import time
import unittest

from fault_support import ServerProcess, ToxicProxy, Toxics, download, echo
from hamba_helpers import Backend, stats_json
from harness import free_port, probe_done, start_hamba, wait_until

KB = 1000
MIB = 1 << 20


class ResetsAndCloses(unittest.TestCase):
    def hamba_for(self, *servers):
        self.admin = free_port()
        return start_hamba([s.address() for s in servers], "--check-interval", "1h",
                           "--admin", f"127.0.0.1:{self.admin}")

    def assert_no_session_left(self, hamba):
        wait_until(lambda: stats_json(self.admin)["frontends"][0]["current"] == 0, timeout=5,
                   what="every session ended")
        self.assertEqual(hamba.stop(), 0, hamba.log())
        self.assertNotIn("Sanitizer", hamba.log())

    def test_server_reset_mid_stream(self):
        with ServerProcess("a") as a, ToxicProxy(a.address(), Toxics(reset_after=300 * KB)) as p:
            hamba, port = self.hamba_for(p)
            with hamba:
                r = download(port, 4 * MIB, b"reset")
                print(f"server reset after 300 KB: {r}")
                self.assertEqual(r.end, "reset")
                self.assertLessEqual(r.count, 300 * KB)
                self.assertTrue(r.prefix, "bytes before the reset are not the stream's")
                self.assert_no_session_left(hamba)

    def test_server_limit_data(self):
        with ServerProcess("a") as a, ToxicProxy(a.address(), Toxics(limit_data=777_777)) as p:
            hamba, port = self.hamba_for(p)
            with hamba:
                r = download(port, 4 * MIB, b"limit")
                print(f"server closes after 777777 bytes: {r}")
                self.assertEqual((r.end, r.count), ("eof", 777_777))
                self.assertTrue(r.prefix)
                self.assert_no_session_left(hamba)

    def test_client_reset_mid_upload(self):
        seen = []
        received = [0]  # bytes the server has read so far, over every connection

        def handle(conn):
            digest = hashlib.sha256()
            count = 0
            conn.settimeout(10)
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        seen.append(("eof", count, digest.hexdigest()))
                        return
                    digest.update(data)
                    count += len(data)
                    received[0] += len(data)
            except ConnectionResetError:
                seen.append(("reset", count, digest.hexdigest()))
            except socket.timeout:
                seen.append(("timeout", count, digest.hexdigest()))

        with Backend(handle) as srv:
            hamba, port = self.hamba_for(srv)
            with hamba:
                wait_until(lambda: probe_done(self.admin), what="probe done")
                seen.clear()  # the readiness probe's connection
                payload = os.urandom(500 * KB)
                c = socket.create_connection(("127.0.0.1", port), timeout=10)
                c.sendall(payload)
                wait_until(lambda: received[0] == len(payload), what="the upload at the server")
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
                reset_at = time.monotonic()
                c.close()
                # (probes that sent nothing end as ("eof", 0): not ours)
                ours = lambda: [s for s in seen if s[:2] != ("eof", 0)]
                wait_until(ours, timeout=5, what="server saw the end")
                print(f"client reset mid-upload: server saw {ours()[0][:2]} "
                      f"{time.monotonic() - reset_at:.2f}s later")
                self.assertEqual(ours(),
                                 [("reset", len(payload), hashlib.sha256(payload).hexdigest())])
                self.assert_no_session_left(hamba)

    def test_slow_close_both_ways(self):
        with ServerProcess("a") as a, ToxicProxy(a.address(), Toxics(slow_close_ms=1500)) as p:
            hamba, port = self.hamba_for(p)
            with hamba:
                r = download(port, 2 * MIB, b"slow-close", timeout=10)
                print(f"server closes 1.5 s late: {r}")
                self.assertTrue(r.ok, r)
                self.assertGreaterEqual(r.seconds, 1.4)
                payload = os.urandom(MIB)
                r = echo(port, payload, timeout=10)  # the client's EOF reaches it late too
                print(f"echo through a slow close: {r}")
                self.assertTrue(r.ok, r)
                self.assert_no_session_left(hamba)

    def test_client_closes_slowly(self):
        with ServerProcess("a") as a:
            hamba, port = self.hamba_for(a)
            with hamba:
                payload = os.urandom(MIB)
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    c.sendall(b"echo\n" + payload)
                    got = bytearray()
                    while len(got) < len(payload):  # the whole answer before our EOF
                        chunk = c.recv(65536)
                        self.assertTrue(chunk, "closed before the client's EOF")
                        got += chunk
                    time.sleep(1.5)
                    c.shutdown(socket.SHUT_WR)
                    rest = c.recv(10)
                self.assertEqual(rest, b"")
                self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(payload).digest())
                self.assert_no_session_left(hamba)


if __name__ == "__main__":
    unittest.main(verbosity=2)
