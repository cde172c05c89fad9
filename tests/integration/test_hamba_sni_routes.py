"""SNI routing with TLS passed through: openssl s_server backends, each with its own self-signed
certificate, behind one hamba port; `openssl s_client -servername NAME` reaches the backend of its
route and sees that backend's certificate (hamba never terminates TLS). An exact name, a one-label
wildcard, no name and an unknown name (the default route) are checked; a ClientHello cut into
records and TCP segments still routes; plain text, a malformed hello and a slow one are closed,
logged and counted; /metrics names each route's servers, and `hamba status` counts them.

A live reconfigure that adds a route, changes a route's servers and removes one, while clients
keep connecting: no connection is dropped (those held open across the changes still relay), and
each connection made after a change follows the new routes."""

import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Hamba, Process, free_port, http_request, run, wait_port, wait_until
from hamba_helpers import TaggedEcho
from slow_path import (WRITE_MODES, Exchange, SlotHolder, check_exchanges, connection_lines,
                       gated, python_client_hello, wait_queued)

NAMES = {"a": "a.test", "b": "b.test", "w": "wild.w.test", "default": "default.test"}


def make_cert(workdir, cn):
    key, crt = os.path.join(workdir, f"{cn}.key"), os.path.join(workdir, f"{cn}.crt")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={cn}", "-keyout", key, "-out", crt])
    return key, crt


def subject_seen(port, servername=None):
    """The certificate subject `openssl s_client` is shown through hamba."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}"]
    argv += ["-servername", servername] if servername else ["-noservername"]
    r = subprocess.run(argv, input="", capture_output=True, text=True, timeout=20)
    for line in r.stdout.splitlines():
        if line.startswith("subject="):
            return line.split("CN", 1)[1].strip(" =")
    return None


def in_records(hello, size):
    """The same handshake message cut into TLS records of at most `size` bytes."""
    message = hello[5:5 + int.from_bytes(hello[3:5], "big")]
    out = b""
    for i in range(0, len(message), size):
        piece = message[i:i + size]
        out += b"\x16\x03\x01" + len(piece).to_bytes(2, "big") + piece
    return out


def metrics(admin_port):
    status, _, body = http_request(admin_port, "GET", "/metrics")
    assert status == 200
    return body.decode()


class SniRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl is not installed")
        # Class cleanups stop what was started, in reverse order, even when a later start fails.
        cls.workdir = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="hamba-sni-"))
        cls.ports = {}
        for key, cn in NAMES.items():
            k, c = make_cert(cls.workdir, cn)
            port = free_port()
            cls.enterClassContext(Process(["openssl", "s_server", "-accept", f"127.0.0.1:{port}",
                                           "-cert", c, "-key", k, "-naccept", "1000", "-quiet"]))
            cls.ports[key] = port
        for port in cls.ports.values():
            wait_port(port)
        cls.port, cls.admin = free_port(), free_port()
        cls.hamba = cls.enterClassContext(Hamba(config=f"""admin: "127.0.0.1:{cls.admin}"
frontends:
  - name: tls
    bind: "127.0.0.1:{cls.port}"
    preread_timeout: 500ms
    check: false
    servers: ["127.0.0.1:{cls.ports['default']}"]
    routes:
      - name: a
        sni: [a.test]
        servers: ["127.0.0.1:{cls.ports['a']}"]
      - name: b
        sni: [B.test]
        servers: ["127.0.0.1:{cls.ports['b']}"]
      - name: w
        sni: ["*.w.test"]
        servers: ["127.0.0.1:{cls.ports['w']}"]
""", ports=[cls.port, cls.admin]))

    def test_each_name_reaches_its_own_backend(self):
        self.assertEqual(subject_seen(self.port, "a.test"), "a.test")
        self.assertEqual(subject_seen(self.port, "b.test"), "b.test")
        self.assertEqual(subject_seen(self.port, "x.w.test"), "wild.w.test")

    def test_default_route(self):
        self.assertEqual(subject_seen(self.port, None), "default.test")
        self.assertEqual(subject_seen(self.port, "c.test"), "default.test")
        self.assertEqual(subject_seen(self.port, "a.b.w.test"), "default.test")  # one label only

    def test_hello_split_into_records_and_segments(self):
        hello = in_records(python_client_hello("a.test"), 50)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(hello), 37):
            s.sendall(hello[i:i + 37])
            time.sleep(0.005)
        reply = s.recv(5)
        s.close()
        # The backend answered with a TLS handshake record: the hello reached a TLS server.
        self.assertEqual(reply[:1], b"\x16", reply)
        m = metrics(self.admin)
        self.assertRegex(m, r'hamba_server_connections_total\{frontend="tls",backend="a",server='
                            r'"127.0.0.1:\d+",address="127.0.0.1:\d+"\} [1-9]')

    def test_status_counts_route_servers(self):
        # The default route's server and one per route: 4 servers, all up (checks are off).
        r = self.hamba.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^serving 1 frontend, 4/4 servers up, ")

    def test_bad_hellos_are_closed_and_counted(self):
        before = int(metrics(self.admin).split(
            'hamba_frontend_client_hello_errors_total{frontend="tls"} ')[1].split()[0])
        for payload in [b"GET / HTTP/1.0\r\n\r\n",                         # not TLS
                        b"\x16\x03\x01\x00\x06\x02\x00\x00\x02\x00\x00",    # a ServerHello
                        b"\x16\x03\x01"]:                                  # never finished
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(payload)
            self.assertEqual(s.recv(100), b"", payload)
            s.close()
        wait_until(lambda: f'hamba_frontend_client_hello_errors_total{{frontend="tls"}} {before + 3}'
                   in metrics(self.admin), what="3 more ClientHello errors")
        log = self.hamba.log()
        self.assertIn("no valid TLS ClientHello: first byte is not a TLS handshake record", log)
        self.assertIn("first handshake message is not a ClientHello", log)
        self.assertIn("nothing complete within preread_timeout", log)


def hello_and_tag(port, server_name, hello=None):
    """Connects with a ClientHello for `server_name` (None: no name): (socket, the tag of the
    TaggedEcho that answered, the hello sent). The socket stays open for the caller."""
    hello = hello or python_client_hello(server_name)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(hello)
    data = b""
    while b"\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            s.close()
            raise AssertionError(f"connection for {server_name} closed after {data!r}")
        data += chunk
    tag, rest = data.split(b"\n", 1)
    # The backend echoes the hello: every byte went through unchanged.
    while len(rest) < len(hello):
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    if rest != hello:
        s.close()
        raise AssertionError(f"{server_name}: the echo of the hello differs ({len(rest)} bytes)")
    return s, tag.decode(), hello


def route_of(port, server_name, hello=None):
    """The tag of the backend a new connection with `server_name` reaches (closed after)."""
    s, tag, _ = hello_and_tag(port, server_name, hello)
    s.close()
    return tag


def still_relays(s):
    s.sendall(b"still here")
    data = b""
    while len(data) < len(b"still here"):
        chunk = s.recv(64)
        if not chunk:
            break
        data += chunk
    return data == b"still here"


class SniRoutesReconfigure(unittest.TestCase):
    def config(self, routes):
        """The configuration with `routes`: {route name: [TaggedEcho tags]}."""
        text = f"""frontends:
  - name: tls
    bind: "127.0.0.1:{self.port}"
    preread_timeout: 2s
    check: false
    servers: ["{self.echo['d'].address()}"]
"""
        if routes:
            text += "    routes:\n"
            for name, tags in routes.items():
                servers = ", ".join(f'"{self.echo[t].address()}"' for t in tags)
                text += f"      - name: {name}\n        sni: [{name}.test]\n"
                text += f"        servers: [{servers}]\n"
        return text

    def reconfigure(self, hamba, routes):
        hamba.write_config(self.config(routes))
        r = hamba.ctl("reconfigure", "--config", hamba.config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_routes_change_while_clients_connect(self):
        self.echo = {t: self.enterContext(TaggedEcho(t)) for t in ("d", "a1", "a2", "b")}
        self.port = free_port()
        hellos = {n: python_client_hello(n) for n in ("a.test", "b.test")}
        hellos[None] = python_client_hello(None)
        failures, made, stop = [], [0], threading.Event()
        self.addCleanup(stop.set)  # the client thread ends whatever happens to the test

        def keep_connecting():
            # Bounded: until told to stop, at most 3000 connections or 60 s.
            deadline = time.monotonic() + 60
            names = [None, "a.test", "b.test"]
            while not stop.is_set() and made[0] < 3000 and time.monotonic() < deadline:
                name = names[made[0] % 3]
                try:
                    route_of(self.port, name, hellos[name])
                except (OSError, AssertionError) as e:
                    failures.append(f"{name}: {e}")
                made[0] += 1

        def more_connections(n=30):
            seen = made[0]
            wait_until(lambda: made[0] >= seen + n, timeout=30, what=f"{n} more connections")

        hamba = self.enterContext(Hamba(config=self.config({"a": ["a1"]}), ports=[self.port]))
        self.assertEqual(route_of(self.port, "a.test"), "a1")
        self.assertEqual(route_of(self.port, "b.test"), "d")
        held = [self.enterContext(hello_and_tag(self.port, name)[0]) for name in ("a.test", "b.test")]
        loader = threading.Thread(target=keep_connecting, daemon=True)
        loader.start()
        more_connections()

        # A route added: its name leaves the default route.
        self.reconfigure(hamba, {"a": ["a1"], "b": ["b"]})
        self.assertEqual(route_of(self.port, "b.test"), "b")
        self.assertEqual(route_of(self.port, "a.test"), "a1")
        held.append(self.enterContext(hello_and_tag(self.port, "a.test")[0]))
        more_connections()

        # A route's servers changed: every new connection reaches the new one.
        self.reconfigure(hamba, {"a": ["a2"], "b": ["b"]})
        self.assertEqual({route_of(self.port, "a.test") for _ in range(6)}, {"a2"})
        held.append(self.enterContext(hello_and_tag(self.port, "a.test")[0]))
        more_connections()

        # A route removed: its name goes to the default route; the other stays.
        self.reconfigure(hamba, {"b": ["b"]})
        self.assertEqual(route_of(self.port, "a.test"), "d")
        self.assertEqual(route_of(self.port, "b.test"), "b")
        self.assertEqual(route_of(self.port, None), "d")
        more_connections()

        stop.set()
        loader.join(timeout=30)
        self.assertEqual(failures, [], f"{len(failures)} of {made[0]} failed")
        # Opened on routes that were since changed or removed: still relaying.
        for i, s in enumerate(held):
            self.assertTrue(still_relays(s), f"held connection {i} was dropped")
        self.assertNotIn("Sanitizer", hamba.log())


class SlowPaths(unittest.TestCase):
    """Routing on hamba's slow paths too, where the server is not there in the loop turn of the
    client's first bytes: a ClientHello for a route's name (or none: the default route) and more
    bytes after it (a short record, or enough to fill the 16 KiB read-ahead), sent in one write
    and in many; through servers that accept at once, servers whose TCP connect takes a second
    (slow_path.GatedServer), and queued behind a route's server at maxconn 1. Every time the
    route's TaggedEcho answers with its tag, then every byte sent, unchanged."""

    SHORT = b"\x17\x03\x03\x00\x05hello"  # an application data record

    @classmethod
    def setUpClass(cls):
        cls.echo = {t: cls.enterClassContext(gated(TaggedEcho)(t)) for t in ("a", "d", "q")}
        cls.port, cls.admin = {"tls": free_port(), "tls_q": free_port()}, free_port()
        cls.hello = {name: python_client_hello(name) for name in ("a.test", None)}
        cls.full = random.Random(7).randbytes(20480 - len(cls.hello["a.test"]))

        def frontend(name, route_servers):
            return f"""  - name: {name}
    bind: "127.0.0.1:{cls.port[name]}"
    check: false
    connect_timeout: 10s
    preread_timeout: 5s
    servers: ["{cls.echo['d'].address()}"]
    routes:
      - name: a
        sni: [a.test]
        servers: {route_servers}
"""
        cls.hamba = cls.enterClassContext(Hamba(
            "--log-connections", "text",
            config=f'admin: "127.0.0.1:{cls.admin}"\nfrontends:\n'
            + frontend("tls", f'["{cls.echo["a"].address()}"]')
            + frontend("tls_q", f'[{{address: "{cls.echo["q"].address()}", maxconn: 1}}]'),
            ports=[cls.admin, *cls.port.values()]))

    def start(self, frontend, cases):
        """A client per (server name, body) and write mode, with what each must get back."""
        clients, expected = [], []
        for name, body in cases:
            tag = "d" if name is None else "q" if frontend == "tls_q" else "a"
            for mode in WRITE_MODES:
                clients.append(Exchange(self.port[frontend], self.hello[name], body, mode,
                                        label=f"{frontend} {name}"))
                expected.append(f"{tag}\n".encode() + self.hello[name] + body)
        return clients, expected

    def check(self, clients, expected):
        check_exchanges(self, clients, expected, connection_lines(self.hamba.log()))

    def cases(self):
        return [("a.test", self.SHORT), ("a.test", self.full), (None, self.full)]

    def test_servers_accept_at_once(self):
        self.check(*self.start("tls", self.cases()))

    def test_slow_servers(self):
        clients = []

        def ended():
            return any(c.ended() for c in clients)

        with self.echo["a"].slow_connects(self.hamba, count=4, stop=ended), \
                self.echo["d"].slow_connects(self.hamba, count=2, stop=ended):
            started, expected = self.start("tls", self.cases())
            clients += started
        self.check(clients, expected)
        # every connect was a slow one
        self.assertGreaterEqual(self.echo["a"].holds, 4)
        self.assertGreaterEqual(self.echo["d"].holds, 2)

    def test_queued_client(self):
        hello = self.hello["a.test"]
        with SlotHolder(self.port["tls_q"], hello + b"hold", b"q\n" + hello + b"hold") as holder:
            clients, expected = self.start("tls_q", self.cases()[:2])
            wait_queued(self.admin, len(clients), "tls_q",
                        stop=lambda: any(c.ended() for c in clients))
            self.assertEqual(holder.release(), b"")
        self.check(clients, expected)


if __name__ == "__main__":
    unittest.main()
