"""Trusted PROXY senders (accept_proxy: {from: [...], optional}) with real sockets: the sender's
own address (127.0.0.2 trusted, 127.0.0.3 not) is checked against `from` at accept, then the
allow and deny lists judge the address its header carries. hamba sends a PROXY v1 header on to
the server, which answers with everything it received, so the test sees which client address
hamba passed on.

- A header from an untrusted sender is refused: reset unread, counted (untrusted_proxy), and the
  server never hears of it.
- A trusted sender's header is read; a carried address in the deny list is refused (deny_list).
- With optional: true, an untrusted sender is served with its own address, no header read.
"""

import re
import socket
import time
import unittest

from hamba_helpers import Backend
from harness import Hamba, assert_stops_cleanly, free_port, http_request, wait_until
from slow_path import proxy_v1, proxy_v2

TRUSTED, UNTRUSTED = "127.0.0.2", "127.0.0.3"


def echo_until_end(conn):
    conn.settimeout(10)
    data = b""
    while not data.endswith(b"END"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    conn.sendall(data)


def exchange(port, source, payload):
    """What a client bound to `source` gets back for `payload`: the bytes, or "reset"."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind((source, 0))
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(payload)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return data
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            return "reset"


def denied(admin_port):
    status, _, body = http_request(admin_port, "GET", "/metrics")
    assert status == 200
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^hamba_frontend_denied_connections_total\{[^}]*reason="(\w+)"\} (\d+)$',
        body.decode(), re.M)}


def config(port, admin, server_port, optional):
    return (f'admin: "127.0.0.1:{admin}"\nfrontends:\n  - bind: "127.0.0.1:{port}"\n'
            f'    servers: ["127.0.0.1:{server_port}"]\n    check: false\n    send_proxy: v1\n'
            f'    accept_proxy: {{from: ["{TRUSTED}/32"], optional: {str(optional).lower()}}}\n'
            '    deny: ["10.1.1.0/24", "127.0.0.9"]\n')


class ProxyTrust(unittest.TestCase):
    def test_untrusted_sender_refused_and_carried_address_judged(self):
        with Backend(echo_until_end) as server:
            port, admin = free_port(), free_port()
            with Hamba(config=config(port, admin, server.port, False)) as h:
                wait_until(lambda: h.ctl("status").returncode == 0, what="hamba up")
                # Trusted sender, allowed client: served, and the server learns the client.
                for header in (proxy_v1("10.2.2.2", 4000, "127.0.0.1", port),
                               proxy_v2("10.2.2.2", 4000, "127.0.0.1", port)):
                    got = exchange(port, TRUSTED, header + b"hello END")
                    self.assertIsInstance(got, bytes)
                    self.assertTrue(got.startswith(b"PROXY TCP4 10.2.2.2 127.0.0.1 4000 "), got)
                    self.assertTrue(got.endswith(b"hello END"), got)
                accepted = server.accepted
                # Trusted sender, denied client: reset.
                self.assertEqual(exchange(port, TRUSTED, proxy_v1(
                    "10.1.1.1", 4000, "127.0.0.1", port) + b"hello END"), "reset")
                # The same, the header trickling in two segments (the preread waits for all of
                # it before the lists judge the address).
                with socket.socket() as s:
                    s.settimeout(10)
                    s.bind((TRUSTED, 0))
                    s.connect(("127.0.0.1", port))
                    header = proxy_v1("10.1.1.2", 4000, "127.0.0.1", port)
                    s.sendall(header[:9])
                    time.sleep(0.1)
                    try:
                        s.sendall(header[9:] + b"hello END")
                        self.assertEqual(s.recv(64), b"")  # never reached here unless closed
                    except ConnectionResetError:
                        pass
                # Untrusted sender, whatever its header says: reset, unread.
                self.assertEqual(exchange(port, UNTRUSTED, proxy_v1(
                    "10.2.2.2", 4000, "127.0.0.1", port) + b"hello END"), "reset")
                self.assertEqual(exchange(port, UNTRUSTED, b"no header END"), "reset")
                wait_until(lambda: denied(admin).get("untrusted_proxy") == 2,
                           what="two untrusted senders counted")
                counts = denied(admin)
                self.assertEqual(counts.get("deny_list"), 2, counts)
                self.assertEqual(server.accepted, accepted)  # none of them reached it
                self.assertIn(f"refused client {UNTRUSTED}: not a trusted PROXY sender", h.log())
                self.assertIn("refused client 10.1.1.1: in the deny list", h.log())
                shown = h.ctl("showconfig").stdout
                self.assertIn(f'accept_proxy: {{from: ["{TRUSTED}/32"], optional: false}}', shown)
                assert_stops_cleanly(self, h)

    def test_optional_serves_others_with_their_own_address(self):
        with Backend(echo_until_end) as server:
            port, admin = free_port(), free_port()
            with Hamba(config=config(port, admin, server.port, True)) as h:
                wait_until(lambda: h.ctl("status").returncode == 0, what="hamba up")
                got = exchange(port, UNTRUSTED, b"plain END")
                self.assertIsInstance(got, bytes)
                self.assertTrue(got.startswith(f"PROXY TCP4 {UNTRUSTED} 127.0.0.1 ".encode()), got)
                self.assertTrue(got.endswith(b"\r\nplain END"), got)
                # An untrusted sender's header is not read: it goes to the server as data.
                header = proxy_v1("10.2.2.2", 4000, "127.0.0.1", port)
                got = exchange(port, UNTRUSTED, header + b"x END")
                self.assertTrue(got.startswith(f"PROXY TCP4 {UNTRUSTED} ".encode()), got)
                self.assertIn(header, got)
                # The lists judge an untrusted sender by its own address.
                self.assertEqual(exchange(port, "127.0.0.9", b"plain END"), "reset")
                # A trusted sender still needs its header.
                got = exchange(port, TRUSTED, header + b"y END")
                self.assertTrue(got.startswith(b"PROXY TCP4 10.2.2.2 "), got)
                self.assertEqual(denied(admin).get("untrusted_proxy"), 0)
                self.assertEqual(denied(admin).get("deny_list"), 1)
                assert_stops_cleanly(self, h)


if __name__ == "__main__":
    unittest.main()
