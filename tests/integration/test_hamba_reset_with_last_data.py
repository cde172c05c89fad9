"""A reset that arrives together with the last data is passed on as a reset, not as an EOF.

libuv (unix stream.c) reports UV_EOF without reading again when a read was partial and the poll
said POLLHUP: the socket's ECONNRESET is then never seen. hamba used to pass that on as a clean
half-close, so the other side took a cut stream for a complete one. Deterministic here: the
client sends and resets while it waits in the queue (hamba does not read it yet), so data and
reset are both there at hamba's first read."""

import socket
import struct
import threading
import unittest

from harness import free_port, read_all, wait_until
from hamba_helpers import HambaDir, _Server, assert_stops_cleanly, connect


class EndRecorder(_Server):
    """Notes, per connection that sent data, (data, "eof" or "reset")."""

    def __init__(self):
        self.ends = []
        self.done = threading.Event()
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
        self.done.set()


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class ResetNotEof(unittest.TestCase):
    def test_client_reset_with_its_last_data_reaches_the_backend_as_a_reset(self):
        port = free_port()
        with HambaDir("hamba-rst-") as d, EndRecorder() as backend:
            with d.start("--check-interval", "1h", "--server-maxconn", "1", port,
                         f"127.0.0.1:{backend.port}", ports=[port]) as hamba:
                holder = connect(port)
                holder.sendall(b"hold")
                self.assertEqual(holder.recv(4), b"held")  # the only slot is taken
                queued = connect(port)
                queued.sendall(b"cut short")
                reset(queued)  # still queued: data and reset wait in hamba's socket
                holder.shutdown(socket.SHUT_WR)
                read_all(holder)
                holder.close()
                wait_until(lambda: any(data == b"cut short" for data, _ in backend.ends),
                           what="the queued client's bytes at the backend")
                ends = dict(backend.ends)
                self.assertEqual(ends[b"cut short"], "reset", hamba.log())
                assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
