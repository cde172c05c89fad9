"""hamba's pump with real sockets: half-close both ways, 100 MiB each way at once with sha256
checksums, a reset passed on, the memory bound with a client that does not read, and a server's
last bytes and FIN passed on in one segment."""

import os
import socket
import struct
import threading
import time
import unittest

from hamba_helpers import (Backend, EchoServer, FirehoseServer, HashServer, SlowServer, read_digest,
                           rss_kib, send_stream, stream_digest)
from harness import read_all, start_hamba, wait_until

MIB = 1 << 20


class Relay(unittest.TestCase):
    def stop_clean(self, proc):
        """SIGTERM: exit 0, and nothing from the sanitizers (the ASan build runs these too)."""
        self.assertEqual(proc.stop(), 0, proc.log())
        self.assertNotIn("Sanitizer", proc.log())
        self.assertNotIn("runtime error", proc.log())

    def start_hamba(self, backend_port, *options):
        return start_hamba([f"127.0.0.1:{backend_port}"], *options)

    def test_client_half_close_still_gets_the_answer(self):
        with EchoServer() as echo:
            hamba, port = self.start_hamba(echo.port)
            with hamba, socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"hello ")
                c.sendall(b"world")
                c.shutdown(socket.SHUT_WR)  # the backend sees EOF, answers after it
                self.assertEqual(read_all(c), b"hello world<eof seen>")
                self.stop_clean(hamba)

    def test_server_half_close_client_keeps_sending(self):
        # The server sends everything and shuts its write side; the client reads EOF, then
        # still sends, and the server still receives.
        got = []
        done = threading.Event()

        def handle(conn):
            # Probes (wait_port, the health check) close at once: errors here are theirs.
            with conn:
                try:
                    conn.sendall(b"greeting")
                    conn.shutdown(socket.SHUT_WR)
                    data = read_all(conn)
                except OSError:
                    return
            if data:
                got.append(data)
                done.set()

        with Backend(handle) as srv:
            hamba, port = self.start_hamba(srv.port, "--check-interval", "1h")
            with hamba, socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                self.assertEqual(read_all(c), b"greeting")
                c.sendall(b"after your EOF")
                c.shutdown(socket.SHUT_WR)
                self.assertTrue(done.wait(10))
                self.assertEqual(got, [b"after your EOF"])

    def test_100_mib_both_ways_with_checksums(self):
        size = 100 * MIB
        with HashServer(size) as server:
            hamba, port = self.start_hamba(server.port)
            with hamba, socket.create_connection(("127.0.0.1", port), timeout=60) as c:
                sender = threading.Thread(target=send_stream, args=(c, size, b"client"))
                sender.start()
                count, digest = read_digest(c)
                sender.join()
                self.assertEqual(count, size)
                self.assertEqual(digest, stream_digest(size, b"server"))
                # Health checks connect and close too: their streams are empty.
                streams = lambda: [r for r in server.received if r[0] > 0]
                wait_until(streams, timeout=30, what="server finished")
                self.assertEqual(streams(), [(size, stream_digest(size, b"client"))])
                self.stop_clean(hamba)

    def test_reset_is_passed_on(self):
        with SlowServer() as slow:
            hamba, port = self.start_hamba(slow.port, "--check-interval", "1h")
            with hamba:
                wait_until(lambda: slow.active == 0, what="probe done")
                c = socket.create_connection(("127.0.0.1", port), timeout=10)
                wait_until(lambda: slow.active == 1, what="connected through")
                # SO_LINGER 0: close sends a RST.
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
                # The backend's connection is reset (or closed) in turn.
                wait_until(lambda: slow.active == 0, timeout=5, what="backend side closed")
                self.assertTrue(hamba.running())
                self.stop_clean(hamba)

    def test_backend_reset_reaches_the_client(self):
        # The backend answers, then resets (SO_LINGER 0): the client sees a reset, not an EOF.
        def handle(conn):
            conn.settimeout(2)
            if conn.recv(10) == b"go":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                b"\x01\x00\x00\x00\x00\x00\x00\x00")

        with Backend(handle) as srv:
            hamba, port = self.start_hamba(srv.port, "--check-interval", "1h")
            with hamba, socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"go")
                with self.assertRaises(ConnectionResetError):
                    while c.recv(100):
                        pass
                self.stop_clean(hamba)

    def test_slow_reader_memory_is_bounded(self):
        # 20 clients that do not read, each behind a backend sending 20 MiB as fast as it can:
        # hamba must hold at most a few tens of KiB per connection, not the stream.
        clients = 20
        with FirehoseServer(20 * MIB) as fire:
            hamba, port = self.start_hamba(fire.port, "--check-interval", "1h")
            with hamba:
                wait_until(lambda: fire.active == 0, what="probe done")
                before = rss_kib(hamba.pid)
                conns = []
                try:
                    for _ in range(clients):
                        c = socket.socket()
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                        c.connect(("127.0.0.1", port))
                        conns.append(c)
                    # Let the backends push until every buffer on the way is full.
                    last = -1
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline:
                        time.sleep(0.5)
                        if fire.sent == last:
                            break
                        last = fire.sent
                    self.assertLess(fire.sent, clients * 20 * MIB, "backpressure never kicked in")
                    grown = rss_kib(hamba.pid) - before
                    per_conn = grown / clients
                    print(f"hamba RSS grew {grown} KiB for {clients} stalled clients "
                          f"({per_conn:.1f} KiB each); backends sent {fire.sent / MIB:.1f} MiB")
                    # Under ASan and TSan the allocator's redzones and shadow memory hide the
                    # bound; the backpressure itself (fire.sent above) is still checked there.
                    if os.environ.get("HAMBA_SANITIZE") not in ("ON", "thread"):
                        self.assertLess(per_conn, 64, hamba.log())
                    # Reading again: the data flows (the pause was only backpressure).
                    c = conns[0]
                    c.settimeout(10)
                    got = 0
                    while got < 5 * MIB:
                        chunk = c.recv(1 << 16)
                        self.assertTrue(chunk)
                        got += len(chunk)
                finally:
                    for c in conns:
                        c.close()
                self.stop_clean(hamba)


    def test_last_bytes_and_fin_leave_in_one_segment(self):
        # A server that writes its answer and closes at once (its own answer and FIN in one
        # segment: MSG_MORE, then the shutdown): hamba reads both in one wakeup and should pass
        # them on the same way, the answer sent with MSG_MORE and the FIN tacked onto it. The
        # client speaks no byte, so what it receives is the SYN-ACK and then the answer with
        # the FIN, two segments (TCP_INFO's tcpi_segs_in), or three when the FIN leaves alone.
        # Timing may split them now and then (hamba woken between the two): most, not all.
        answer = b"HTTP/1.0 200 OK\r\n\r\nthe answer"

        def handle(conn):
            try:
                conn.send(answer, socket.MSG_MORE)
                conn.shutdown(socket.SHUT_WR)
                read_all(conn)
            except OSError:
                pass  # a probe (wait_port, a health check) that left at once

        tries, merged = 20, 0
        with Backend(handle) as srv:
            hamba, port = self.start_hamba(srv.port, "--check-interval", "1h")
            with hamba:
                for _ in range(tries):
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                        self.assertEqual(read_all(c), answer)
                        info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
                        segs_in, data_segs_in = (struct.unpack_from("<I", info, 140)[0],
                                                 struct.unpack_from("<I", info, 152)[0])
                        self.assertEqual(data_segs_in, 1)
                        merged += segs_in == 2
                self.stop_clean(hamba)
        self.assertGreater(merged, tries // 2,
                           f"{merged} of {tries} tries got the FIN with the answer")


if __name__ == "__main__":
    unittest.main(verbosity=2)
