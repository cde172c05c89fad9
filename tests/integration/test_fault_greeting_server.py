"""send_proxy (`--send-proxy v1|v2`) in front of a server that speaks first (SMTP, SSH, MySQL):
it greets each connection as soon as it accepts it, before reading anything, and the client
connects and only reads. The client must receive exactly the greeting; the server must receive
a valid PROXY header (v1 text, v2 binary) naming the client (127.0.0.2, its port, and the
address and port it connected to), then what the client sent after the greeting.

The same on the slow paths: a server whose TCP connect takes a second, and a client queued
behind a server at maxconn 1 (slow_path.GatedServer, SlotHolder).

The header waits a moment for the client's first bytes (to go in one segment with them), longest
on a frontend whose clients lately took long to speak: each round first sends a few such late
clients through a quiet server (those are checked too: the header, then their bytes), so that
the greeting of the next connection comes back while its header is still waiting."""

import socket
import time
import unittest

from harness import Hamba, free_port, start_hamba, wait_until
from slow_path import GreetingServer, SlotHolder, split_proxy_header, wait_queued

CLIENT = "127.0.0.2"
GREETING = b"220 greeting.test ESMTP ready\r\n"


def client(port):
    s = socket.socket()
    s.settimeout(5)
    s.bind((CLIENT, 0))
    s.connect(("127.0.0.1", port))
    return s


def recv_exactly(s, size):
    """`size` bytes, or fewer if the connection ends or stays silent (5 s) first."""
    data = b""
    try:
        while len(data) < size:
            chunk = s.recv(size - len(data))
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


class Checks:
    def received_by(self, server, client_port):
        """What the server received on the connection whose PROXY header names `client_port`:
        (the header's fields, the bytes after it)."""
        def find():
            for data in list(server.received):
                try:
                    fields, rest = split_proxy_header(data)
                except AssertionError:
                    continue  # a health check's connection: no header
                if fields.get("source_port") == client_port:
                    return fields, rest
            return None
        return wait_until(find, what=f"the server's record of client port {client_port}")

    def check_header(self, fields, version, client_port, port):
        self.assertEqual(fields, {"version": version, "family": "TCP4", "source": CLIENT,
                                  "destination": "127.0.0.1", "source_port": client_port,
                                  "destination_port": port})

    def greeted(self, server, s, version, port):
        """`s`, connected, gets the greeting as sent, says EHLO and half-closes, and gets the
        answer; the server got a header naming `s`, then the EHLO."""
        self.assertEqual(recv_exactly(s, len(GREETING)), GREETING,
                         "the greeting, as the server sent it")
        self.said_and_answered(server, s, b"EHLO client.test\r\n", version, port)

    def said_and_answered(self, server, s, said, version, port):
        """`s` sends `said` and half-closes, and gets the server's answer; the server got a
        header naming `s`, then `said`."""
        s.sendall(said)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_exactly(s, 64), server.answer)
        fields, rest = self.received_by(server, s.getsockname()[1])
        self.check_header(fields, version, s.getsockname()[1], port)
        self.assertEqual(rest, said)
        s.close()


class GreetingThroughSendProxy(Checks, unittest.TestCase):
    def check(self, version):
        with GreetingServer(greeting=GREETING) as server:
            hamba, port = start_hamba([server.address()], "--send-proxy", f"v{version}",
                                      "--check-interval", "1h")
            with hamba:
                for _ in range(3):
                    server.greeting = b""  # quiet: the clients speak first, and late
                    for _ in range(6):
                        s = client(port)
                        time.sleep(0.03)
                        self.said_and_answered(server, s, b"QUIT\r\n", version, port)
                    server.greeting = GREETING
                    self.greeted(server, client(port), version, port)  # connects and reads

    def test_send_proxy_v1(self):
        self.check(1)

    def test_send_proxy_v2(self):
        self.check(2)


class GreetingOnSlowPaths(Checks, unittest.TestCase):
    """A client that connects and reads, behind a server whose connect takes a second (v1), and
    queued behind a server at maxconn 1 (v2)."""

    def test_slow_server_and_queued_client(self):
        with GreetingServer(greeting=GREETING) as slow, \
                GreetingServer(greeting=GREETING) as full:
            port, queued_port, admin = free_port(), free_port(), free_port()
            with Hamba(config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: slow
    bind: "127.0.0.1:{port}"
    send_proxy: v1
    check: false
    connect_timeout: 10s
    servers: ["{slow.address()}"]
  - name: full
    bind: "127.0.0.1:{queued_port}"
    send_proxy: v2
    check: false
    connect_timeout: 10s
    servers: [{{address: "{full.address()}", maxconn: 1}}]
""", ports=[port, queued_port, admin]) as hamba:
                with slow.slow_connects(hamba):
                    s = client(port)
                self.assertGreaterEqual(slow.holds, 1)
                self.greeted(slow, s, 1, port)

                with SlotHolder(queued_port, b"", GREETING):
                    s = client(queued_port)
                    wait_queued(admin, 1, "full")
                self.greeted(full, s, 2, queued_port)


if __name__ == "__main__":
    unittest.main()
