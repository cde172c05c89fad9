"""Global maxconn with two frontends: a freed slot goes to the frontends in turn. It used to go
to the first frontend in the list whenever that one had a client waiting, so a busy first
frontend starved the others until its whole accept queue was drained."""

import socket
import threading
import unittest

from harness import free_port, read_all, wait_until
from hamba_helpers import HambaDir, _Server, assert_stops_cleanly, connect


class OrderServer(_Server):
    """Reads each connection to EOF, notes what it got (in the order connections end), echoes."""

    def __init__(self):
        self.order = []
        self.lock = threading.Lock()
        super().__init__()

    def serve(self, conn):
        data = read_all(conn)
        if data:  # the health check and wait_port send nothing
            with self.lock:
                self.order.append(data.decode())
        conn.sendall(data)


class FairAccept(unittest.TestCase):
    def test_second_frontend_is_not_starved(self):
        port_a, port_b = free_port(), free_port()
        with HambaDir("hamba-fair-") as d, OrderServer() as backend:
            d.write_config("maxconn: 1\nfrontends:\n" + "".join(
                f'  - bind: "127.0.0.1:{port}"\n    check: false\n'
                f'    servers: ["127.0.0.1:{backend.port}"]\n' for port in (port_a, port_b)))
            # Its own control socket (HambaDir): the default one may be another test's.
            with d.start("--config", d.config, ports=[port_a, port_b]) as hamba:
                # A0 holds the only slot; five more clients of A, then one of B, wait.
                holder = connect(port_a)
                holder.sendall(b"A0")
                wait_until(lambda: backend.active >= 1, what="A0 at the backend")
                waiting = []
                for name, port in [(f"A{i}", port_a) for i in range(1, 6)] + [("B1", port_b)]:
                    c = connect(port)
                    c.sendall(name.encode())
                    c.shutdown(socket.SHUT_WR)
                    waiting.append((name, c))
                holder.shutdown(socket.SHUT_WR)  # A0 ends: the queue moves, one at a time
                self.assertEqual(read_all(holder), b"A0")
                for name, c in waiting:
                    self.assertEqual(read_all(c), name.encode(), hamba.log())
                    c.close()
                holder.close()
                order = backend.order
                self.assertEqual(sorted(order), sorted(["A0", "B1"] + [f"A{i}" for i in
                                                                        range(1, 6)]))
                # B1 is served within the next two freed slots, not after all of A.
                self.assertLessEqual(order.index("B1"), 3, order)
                assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
