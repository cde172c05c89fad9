"""Resets: the side that reset is the one the log and the stats blame, and the other side gets a
reset in turn (not a clean EOF that would pass a cut stream off as complete), also when the reset
comes with the last data."""

import re
import socket
import struct
import threading
import time
import unittest

from hamba_helpers import Backend, _Server, connect, stats_json
from harness import (Hamba, assert_stops_cleanly, free_port, read_all, start_hamba, wait_port,
                     wait_until)


def linger_zero(sock):
    """Makes the coming close send a RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Resets(unittest.TestCase):
    def test_server_reset_while_hamba_half_closes_toward_it(self):
        # The server floods a client that does not read, so hamba stops reading the server
        # (backpressure), and then resets: hamba does not see that reset until it acts on the
        # server's socket. The client then half-closes, and hamba's shutdown of the server's
        # write half fails on the reset socket. The server is the one that failed: the client
        # gets a reset, and the log and the stats say "server".
        server_reset = threading.Event()

        def flood_then_reset(conn):
            conn.settimeout(2)
            try:
                if conn.recv(2) != b"go":
                    return  # a probe (wait_port)
            except OSError:
                return
            conn.settimeout(0.5)
            block = b"x" * 65536
            try:
                while True:
                    conn.send(block)
            except socket.timeout:
                pass  # every buffer on the way is full: hamba no longer reads this socket
            linger_zero(conn)
            conn.close()
            server_reset.set()

        admin = free_port()
        with Backend(flood_then_reset) as srv:
            hamba, port = start_hamba([srv.address()], "--check-interval", "1h",
                                      env={"ADMIN": f"127.0.0.1:{admin}",
                                           "HAMBA_LOG_CONNECTIONS": "text"})
            with hamba:
                wait_port(admin)
                c = socket.socket()
                c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                c.settimeout(10)
                c.connect(("127.0.0.1", port))
                with c:
                    c.sendall(b"go")
                    self.assertTrue(server_reset.wait(20), "the server never filled up")
                    time.sleep(0.1)  # the RST is on hamba's server socket, unread
                    c.shutdown(socket.SHUT_WR)
                    with self.assertRaises(ConnectionResetError, msg=hamba.log()):
                        while c.recv(65536):
                            pass

                # The client's line (wait_port's probe has one too, with no bytes).
                def client_line():
                    return next((l for l in hamba.log().splitlines()
                                 if " conn " in l and " bytes_in=2 " in l), None)
                wait_until(client_line, what="the connection log line")
                line = client_line()
                self.assertIn(f"server={srv.address()}", line)
                self.assertIn('end="server reset"', line)
                s = stats_json(admin)["frontends"][0]["servers"][0]
                self.assertEqual((s["resets_by_server"], s["resets_by_client"]), (1, 0), s)
                self.assertFalse(re.search(r"client reset", hamba.log()), hamba.log())
                assert_stops_cleanly(self, hamba)


class EndRecorder(_Server):
    """Notes, per connection that sent data, (data, "eof" or "reset")."""

    def __init__(self):
        self.ends = []
        super().__init__()

    def serve(self, conn):
        if conn.recv(1, socket.MSG_PEEK) == b"":
            return  # a probe
        data = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    end = "eof"
                    break
                data += chunk
                if data == b"hold":
                    conn.sendall(b"held")
        except ConnectionResetError:
            end = "reset"
        self.ends.append((data, end))


class ResetWithLastData(unittest.TestCase):
    """A reset that arrives together with the last data is passed on as a reset, not as an EOF.
    libuv (unix stream.c) reports UV_EOF without reading again when a read was partial and the
    poll said POLLHUP, so the socket's ECONNRESET is never seen there; passed on as a clean
    half-close, it would make a cut stream look complete. Deterministic: the client sends and
    resets while it waits in the queue (hamba does not read it yet), so data and reset are both
    there at hamba's first read."""

    def test_client_reset_with_its_last_data_reaches_the_server_as_a_reset(self):
        port = free_port()
        with EndRecorder() as server:
            with Hamba("--check-interval", "1h", "--server-maxconn", "1", port,
                       server.address(), ports=[port]) as hamba:
                holder = connect(port)
                holder.sendall(b"hold")
                self.assertEqual(holder.recv(4), b"held")  # the only slot is taken
                queued = connect(port)
                queued.sendall(b"cut short")
                linger_zero(queued)
                queued.close()  # still queued: data and reset wait in hamba's socket
                holder.shutdown(socket.SHUT_WR)
                read_all(holder)
                holder.close()
                wait_until(lambda: any(data == b"cut short" for data, _ in server.ends),
                           what="the queued client's bytes at the server")
                ends = dict(server.ends)
                self.assertEqual(ends[b"cut short"], "reset", hamba.log())
                assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
