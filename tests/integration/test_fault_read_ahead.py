"""The frontends that read ahead (accept_proxy: a 528-byte buffer for the PROXY header; routes:
16 KiB for the TLS ClientHello) on their slow paths, where the server is not there in the loop
turn of the client's first bytes: a server whose TCP connect takes about a second (the kernel
drops hamba's first SYN: slow_path.GatedServer), or a client queued behind a server at maxconn 1.

- A client whose first segment fills the read-ahead buffer (a PROXY header with 2 KiB or 16 KiB of
  request in one write; a ClientHello with data to 20 KiB in one write), behind a slow server and
  queued: its whole request reaches the server byte-exact (the PROXY header consumed), the answer
  comes back, and the connection ends with an orderly EOF. The same bytes in many writes too.
- A queued client that sends its request (within the buffer) and half-closes is served once the
  slot frees, on a plain frontend as on one that reads ahead (the README: "a client that shuts its
  write side still gets the answer").

Every server is an EchoServer (echoes, then "<eof seen>" after the client's EOF): what comes back
is what reached it."""

import random
import unittest

from hamba_helpers import EchoServer
from harness import Hamba, free_port, wait_until
from slow_path import (WRITE_MODES, Exchange, SlotHolder, check_exchanges, connection_lines,
                       gated, proxy_v1, proxy_v2, python_client_hello, wait_queued)

V1 = proxy_v1("192.0.2.7", 4000, "192.0.2.1", 443)
V2 = proxy_v2("192.0.2.8", 4001, "192.0.2.1", 443)
EOF_SEEN = b"<eof seen>"


def data(size, seed):
    return random.Random(seed).randbytes(size)


class ReadAhead(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # `slow` is held by the slow-server test; each queue frontend has a server of its own
        # with room for one connection.
        cls.slow = cls.enterClassContext(gated(EchoServer)())
        cls.q = {name: cls.enterClassContext(EchoServer()) for name in ("plain", "pp", "tls")}
        cls.port = {name: free_port() for name in ("pp", "tls", "plain_q", "pp_q", "tls_q")}
        cls.admin = free_port()

        def one(server):
            return f'[{{address: "{server.address()}", maxconn: 1}}]'

        def frontend(name, servers, accept_proxy=False, routes=False):
            text = f"""  - name: {name}
    bind: "127.0.0.1:{cls.port[name]}"
    check: false
    connect_timeout: 10s
    preread_timeout: 5s
    accept_proxy: {str(accept_proxy).lower()}
    servers: {servers}
"""
            if routes:
                text += f"    routes:\n      - name: a\n        sni: [a.test]\n" \
                        f"        servers: {servers}\n"
            return text

        slow = f'["{cls.slow.address()}"]'
        cls.hamba = cls.enterClassContext(Hamba(
            "--log-connections", "text",
            config=f'admin: "127.0.0.1:{cls.admin}"\nfrontends:\n'
            + frontend("pp", slow, accept_proxy=True) + frontend("tls", slow, routes=True)
            + frontend("plain_q", one(cls.q["plain"]))
            + frontend("pp_q", one(cls.q["pp"]), accept_proxy=True)
            + frontend("tls_q", one(cls.q["tls"]), routes=True),
            ports=[cls.admin, *cls.port.values()]))
        cls.hello = python_client_hello("a.test")

    def full_cases(self, frontend):
        """(head, body) pairs whose one write fills `frontend`'s read-ahead buffer."""
        if frontend.startswith("pp"):
            return [(V1, data(2048, 1)), (V2, data(16384, 2))]
        return [(self.hello, data(20480 - len(self.hello), 3))]

    def check(self, clients, expected):
        check_exchanges(self, clients, expected, connection_lines(self.hamba.log()))

    def test_full_read_ahead_behind_a_slow_server(self):
        clients, expected = [], []

        def ended():
            return any(c.ended() for c in clients)

        with self.slow.slow_connects(self.hamba, count=6, stop=ended):
            for frontend in ("pp", "tls"):
                for head, body in self.full_cases(frontend):
                    for mode in WRITE_MODES:
                        clients.append(Exchange(self.port[frontend], head, body, mode,
                                                label=frontend))
                        # the PROXY header is consumed; a ClientHello goes on with the rest
                        expected.append((head if frontend == "tls" else b"") + body + EOF_SEEN)
        self.check(clients, expected)
        # the connects were really slow: held in SYN_SENT
        self.assertGreaterEqual(self.slow.holds, 6)

    def queue_behind(self, frontend, make_clients):
        """Holds the only slot of `frontend` (an `_q` one), starts the clients, waits until they
        are all queued (or one has already ended), releases the slot; returns the clients."""
        kind = frontend.removesuffix("_q")
        head = {"plain": b"", "pp": V1, "tls": self.hello}[kind]
        # Its server echoes at once what reaches it: then the slot is the holder's.
        echo = (head if kind == "tls" else b"") + b"hold"
        with SlotHolder(self.port[frontend], head + b"hold", echo) as holder:
            clients = make_clients()
            wait_queued(self.admin, len(clients), frontend,
                        stop=lambda: any(c.ended() for c in clients))
            wait_until(lambda: all(c.sent() for c in clients), what="the clients' writes")
            self.assertEqual(holder.release(), EOF_SEEN)
        return clients

    def test_full_read_ahead_while_queued(self):
        for frontend in ("pp_q", "tls_q"):
            with self.subTest(frontend=frontend):
                cases = [(head, body, mode) for head, body in self.full_cases(frontend)
                         for mode in WRITE_MODES]
                clients = self.queue_behind(frontend, lambda: [
                    Exchange(self.port[frontend], head, body, mode, label=frontend)
                    for head, body, mode in cases])
                self.check(clients, [(head if frontend == "tls_q" else b"") + body + EOF_SEEN
                                     for head, body, mode in cases])

    def test_queued_client_half_closes(self):
        # A request well within the read-ahead buffer, then shutdown(SHUT_WR) while queued.
        request = b"GET / HTTP/1.0\r\nHost: queued.test\r\n\r\n"
        for frontend, head in (("plain_q", b""), ("pp_q", V1), ("tls_q", self.hello)):
            with self.subTest(frontend=frontend):
                clients = self.queue_behind(frontend, lambda: [
                    Exchange(self.port[frontend], head, request, mode, label=frontend)
                    for mode in WRITE_MODES])
                self.check(clients, [(head if frontend == "tls_q" else b"") + request + EOF_SEEN
                                     for _ in clients])


if __name__ == "__main__":
    unittest.main()
