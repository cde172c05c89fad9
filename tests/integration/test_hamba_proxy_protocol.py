"""PROXY protocol against real peers: hamba's send_proxy v1 and v2 into nginx (`listen ...
proxy_protocol`), HAProxy's send-proxy-v2 into hamba's accept_proxy and hamba's send_proxy into
HAProxy's accept-proxy, and bad headers from a raw socket (closed, counted, nothing reaches a
server). The client is bound to 127.0.0.2, so the address every peer reports is the client's, not
hamba's (127.0.0.1)."""

import errno
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

from harness import Hamba, Process, free_port, http_request, recv_until, wait_port, wait_until
from slow_path import (WRITE_MODES, Exchange, GatedServer, SlotHolder, check_exchanges,
                       connection_lines, proxy_v1, proxy_v2, wait_queued)

CLIENT = "127.0.0.2"


def client_socket(port, timeout=5.0):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((CLIENT, 0))
    s.connect(("127.0.0.1", port))
    return s


def recv_all(s, limit=1 << 20):
    data = b""
    while len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class HeaderServer(GatedServer):
    """Answers each connection with its first line (the PROXY v1 header hamba or HAProxy wrote)
    and what followed it, once that ends with END (or at the client's EOF), then closes.
    `connections` counts the connections it accepted, `received` holds what each sent and `heard`
    what each has sent so far. Its connects can be made slow (slow_path.GatedServer)."""

    def __init__(self):
        self.received = []
        self.heard = []
        super().__init__()

    @property
    def connections(self):
        return self.accepted

    def serve(self, c):
        c.settimeout(5)
        with self._lock:
            slot = len(self.heard)
            self.heard.append(b"")
        data = b""
        while b"\r\n" not in data or not data.endswith(b"END"):
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
            self.heard[slot] = data
        with self._lock:
            self.received.append(data)
        c.sendall(data)


def metrics(admin_port):
    status, _, body = http_request(admin_port, "GET", "/metrics")
    assert status == 200
    return body.decode()


class NginxBehindSendProxy(unittest.TestCase):
    """nginx logs $proxy_protocol_addr (from hamba's header) and $remote_addr (hamba itself)."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which("nginx"):
            raise unittest.SkipTest("nginx is not installed (scripts/install-deps)")
        cls.dir = tempfile.mkdtemp(prefix="hamba-pp-nginx-")
        cls.nginx_port = free_port()
        conf = os.path.join(cls.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {cls.dir}/nginx.pid;
error_log {cls.dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    log_format pp '$proxy_protocol_addr:$proxy_protocol_port via $remote_addr';
    access_log {cls.dir}/access.log pp;
    client_body_temp_path {cls.dir}/body;
    proxy_temp_path {cls.dir}/proxy;
    fastcgi_temp_path {cls.dir}/fastcgi;
    uwsgi_temp_path {cls.dir}/uwsgi;
    scgi_temp_path {cls.dir}/scgi;
    server {{
        listen 127.0.0.1:{cls.nginx_port} proxy_protocol;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
        cls.nginx = Process(["nginx", "-p", cls.dir, "-e", f"{cls.dir}/error.log", "-c", conf])
        wait_port(cls.nginx_port)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def access_log(self):
        with open(os.path.join(self.dir, "access.log")) as f:
            return f.read().splitlines()

    def check_version(self, version):
        port = free_port()
        with Hamba(config=f"""frontends:
  - bind: "127.0.0.1:{port}"
    send_proxy: {version}
    check: false
    servers: ["127.0.0.1:{self.nginx_port}"]
""", ports=[port]):
            before = len(self.access_log())
            s = client_socket(port)
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = recv_all(s)
            client_port = s.getsockname()[1]
            s.close()
            self.assertIn(b"200 OK", reply)
            lines = wait_until(lambda: self.access_log()[before:], what="nginx access log")
            self.assertEqual(lines, [f"{CLIENT}:{client_port} via 127.0.0.1"])

    def test_send_proxy_v1(self):
        self.check_version("v1")

    def test_send_proxy_v2(self):
        self.check_version("v2")


class HaproxyBothWays(unittest.TestCase):
    """client -> HAProxy (send-proxy-v2) -> hamba (accept_proxy, send_proxy v2) -> HAProxy
    (accept-proxy, send-proxy) -> a server that echoes the v1 header it got."""

    def test_chain_keeps_the_client_address(self):
        if not shutil.which("haproxy"):
            self.skipTest("haproxy is not installed")
        server = HeaderServer()
        front, back, hamba_port, admin = free_port(), free_port(), free_port(), free_port()
        workdir = tempfile.mkdtemp(prefix="hamba-pp-haproxy-")
        cfg = os.path.join(workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(f"""global
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
listen to_hamba
    bind 127.0.0.1:{front}
    server hamba 127.0.0.1:{hamba_port} send-proxy-v2
listen from_hamba
    bind 127.0.0.1:{back} accept-proxy
    server echo 127.0.0.1:{server.port} send-proxy
""")
        try:
            with Process(["haproxy", "-db", "-f", cfg]) as haproxy:
                with Hamba("--log-connections", "text", config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: pp
    bind: "127.0.0.1:{hamba_port}"
    accept_proxy: true
    send_proxy: v2
    check: false
    servers: ["127.0.0.1:{back}"]
""", ports=[hamba_port, admin]) as hamba:
                    wait_port(front)
                    s = client_socket(front)
                    s.sendall(b"hello\r\nEND")
                    reply = recv_all(s)
                    client_port = s.getsockname()[1]
                    s.close()
                    header = reply.split(b"\r\n")[0].decode()
                    self.assertTrue(header.startswith(f"PROXY TCP4 {CLIENT} 127.0.0.1 {client_port} "
                                                      f"{front}"), (header, haproxy.log()))
                    self.assertTrue(reply.endswith(b"hello\r\nEND"))
                    # hamba's own connection log names the client HAProxy spoke for.
                    wait_until(lambda: f"client={CLIENT}:{client_port}" in hamba.log(),
                               what="connection log line with the carried client")
                    self.assertIn('hamba_frontend_proxy_header_errors_total{frontend="pp"} 0',
                                  metrics(admin))
        finally:
            server.close()
            shutil.rmtree(workdir, ignore_errors=True)


class BadHeaders(unittest.TestCase):
    """A frontend with accept_proxy closes a client without a valid header in time; nothing reaches
    the server; each is logged and counted. A good v2 LOCAL header is accepted, and its data with
    it."""

    def test_bad_headers_are_closed_and_counted(self):
        port, admin = free_port(), free_port()
        with HeaderServer() as server:
            with Hamba(config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: pp
    bind: "127.0.0.1:{port}"
    accept_proxy: true
    preread_timeout: 500ms
    send_proxy: v1
    check: false
    servers: ["127.0.0.1:{server.port}"]
""", ports=[port, admin]) as hamba:
                bad = [
                    b"GET / HTTP/1.0\r\n\r\n",                      # no header at all
                    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",            # a port missing
                    b"PROXY UNKNOWN " + b"x" * 120,                 # longer than 107 bytes
                    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x04\x00",      # v2 longer than allowed
                    b"PROXY TCP4 1.2.3.4",                          # never finished: timeout
                ]
                for payload in bad:
                    s = client_socket(port)
                    s.sendall(payload)
                    started = time.monotonic()
                    self.assertEqual(recv_all(s), b"", payload)  # closed, nothing answered
                    self.assertLess(time.monotonic() - started, 5)
                    s.close()
                # A client that connects and closes without a word (a TCP health check)
                # is not a bad header.
                client_socket(port).close()
                time.sleep(0.2)
                self.assertIn('hamba_frontend_proxy_header_errors_total{frontend="pp"} 5',
                              metrics(admin))
                self.assertEqual(server.connections, 0)
                self.assertIn("no valid PROXY header", hamba.log())
                self.assertIn("v1 header longer than 107 bytes", hamba.log())
                self.assertIn("nothing complete within preread_timeout", hamba.log())

                # v2 LOCAL (another balancer's health check): accepted, the connection's own
                # addresses are used; the data in the same segment goes through.
                s = client_socket(port)
                s.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00" + b"data\r\nEND")
                reply = recv_all(s)
                client_port = s.getsockname()[1]
                s.close()
                self.assertEqual(reply, f"PROXY TCP4 {CLIENT} 127.0.0.1 {client_port} {port}"
                                        f"\r\ndata\r\nEND".encode())
                # v1 from a proxy for an IPv6 client: send_proxy v1 passes it on as TCP6.
                s = client_socket(port)
                s.sendall(b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\nx\r\nEND")
                self.assertEqual(recv_all(s), b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 443"
                                              b"\r\nx\r\nEND")
                s.close()


class SilentClients(unittest.TestCase):
    """Where the client speaks first (accept_proxy, or routes), the kernel hands hamba a
    connection only once its first bytes are there (TCP_DEFER_ACCEPT): clients that connect and
    say nothing hold none of hamba's connections (for the listener's second of deferral; then
    preread_timeout applies), and one that speaks is served at once. A frontend where the server
    may speak first accepts them at once; a reconfigure that gives it accept_proxy defers from
    then on."""

    def config(self, admin, pp, plain, server, sink, accept):
        return f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: pp
    bind: "127.0.0.1:{pp}"
    accept_proxy: true
    send_proxy: v1
    check: false
    servers: ["127.0.0.1:{server.port}"]
  - name: plain
    bind: "127.0.0.1:{plain}"
    accept_proxy: {accept}
    check: false
    servers: ["127.0.0.1:{sink}"]
"""

    def current(self, admin, name):
        line = f'hamba_frontend_current_connections{{frontend="{name}"}} '
        for l in metrics(admin).splitlines():
            if l.startswith(line):
                return int(l[len(line):])
        return None

    def settled(self, admin, name):
        """The frontend's current connections once the count holds still for 0.2 s (readiness
        probes and closed clients finish on their own time)."""
        seen = [None]

        def same():
            now = self.current(admin, name)
            before, seen[0] = seen[0], now
            return now == before

        wait_until(same, interval=0.2, what=f"{name}'s connection count to settle")
        return seen[0]

    def test_silent_clients_hold_nothing(self):
        server = HeaderServer()
        # The plain frontend's server: its connections complete in the kernel's backlog, and
        # stay there (a thread of HeaderServer's would wait on each silent client).
        sink = socket.socket()
        sink.bind(("127.0.0.1", 0))
        sink.listen(64)
        pp, plain, admin = free_port(), free_port(), free_port()
        silent = []
        try:
            with Hamba(config=self.config(admin, pp, plain, server, sink.getsockname()[1],
                                          "false"),
                       ports=[pp, plain, admin]) as hamba:
                # The readiness probes' sessions may still be there (the sink never closes).
                plain_before = self.settled(admin, "plain")
                pp_before = self.settled(admin, "pp")
                silent += [client_socket(plain) for _ in range(10)]
                wait_until(lambda: self.current(admin, "plain") == plain_before + 10,
                           what="the plain frontend's 10 silent clients accepted")
                silent += [client_socket(pp) for _ in range(10)]
                time.sleep(0.3)  # the plain frontend took its ten in less
                self.assertEqual(self.current(admin, "pp"), pp_before)

                s = client_socket(pp)
                s.sendall(b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nhello END")
                self.assertEqual(recv_all(s),
                                 b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nhello END")
                s.close()

                for c in silent:
                    c.close()
                silent = []
                hamba.write_config(self.config(admin, pp, plain, server, sink.getsockname()[1],
                                               "true"))
                hamba.ctl("reconfigure", "--config", hamba.config)
                # Their sessions stay, half closed (the sink never closes): counted from here.
                plain_before = self.settled(admin, "plain")
                silent += [client_socket(plain) for _ in range(5)]
                time.sleep(0.3)
                self.assertEqual(self.current(admin, "plain"), plain_before)
                self.assertEqual(hamba.stop(), 0, hamba.log())
        finally:
            for c in silent:
                c.close()
            sink.close()
            server.close()


class SendProxyDestination(unittest.TestCase):
    """The header's destination is the address the client connected to: the listener's own when
    it is bound to one (the tests above), the connection's when it listens on every address, for
    IPv4 (written as TCP4 though the socket is IPv6 with IPv4 mapped) and IPv6 clients alike."""

    def test_wildcard_bind(self):
        port = free_port()
        with HeaderServer() as server:
            with Hamba(config=f"""frontends:
  - bind: ":{port}"
    send_proxy: v1
    check: false
    servers: ["127.0.0.1:{server.port}"]
""", ports=[port]):
                for family, client, local, proto in (
                        (socket.AF_INET, CLIENT, "127.0.0.1", "TCP4"),
                        (socket.AF_INET6, "::1", "::1", "TCP6")):
                    with self.subTest(client=client):
                        self.exchange_from(family, client, local, proto, port)

    def exchange_from(self, family, client, local, proto, port):
        # A container may lack the client's address: Docker gives its build containers no IPv6
        # (no ::1), and a network namespace may have 127.0.0.1 alone. The machine's, not hamba's.
        try:
            s = socket.socket(family)
        except OSError as e:
            self.skipTest(f"this machine has no {family.name} sockets ({e})")
        with s:
            s.settimeout(5)
            try:
                s.bind((client, 0))
            except OSError as e:
                if e.errno != errno.EADDRNOTAVAIL:
                    raise
                self.skipTest(f"this machine cannot bind the client address {client} ({e})")
            s.connect((local, port))
            s.sendall(b"x\r\nEND")
            reply = recv_all(s)
            client_port = s.getsockname()[1]
        self.assertEqual(reply, f"PROXY {proto} {client} {local} {client_port} {port}"
                                f"\r\nx\r\nEND".encode())


class BytesWhileQueued(unittest.TestCase):
    """What a client sends after its PROXY header while it waits for a server (queued: the one
    server's maxconn is taken) reaches the server whole and in order once it gets its turn, even
    beyond what the read-ahead buffer holds (its reads pause, then go on)."""

    def test_bytes_sent_while_queued(self):
        port, admin = free_port(), free_port()
        with HeaderServer() as server:
            with Hamba(config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    accept_proxy: true
    send_proxy: v2
    check: false
    connect_timeout: 20s
    servers: [{{address: "127.0.0.1:{server.port}", maxconn: 1}}]
""", ports=[port, admin]):
                header = b"PROXY TCP4 192.0.2.7 192.0.2.1 4000 443\r\n"
                holder = client_socket(port)
                holder.sendall(header + b"first")
                wait_until(lambda: server.connections == 1, what="the first client connected")
                waiter = client_socket(port)
                waiter.sendall(header + b"second:")
                wait_until(lambda: json.loads(http_request(admin, "GET", "/stats.json")[2])
                           ["frontends"][0]["queued"] == 1, what="the second client queued")
                body = bytes(range(256)) * 256  # 64 KiB: more than the read-ahead buffer
                sender = threading.Thread(target=waiter.sendall, args=(body + b"\r\nEND",))
                sender.start()
                time.sleep(0.3)  # let it fill the buffer while queued
                holder.sendall(b"\r\nEND")
                first = recv_all(holder)
                holder.close()
                self.assertTrue(first.endswith(b"first\r\nEND"), first[-40:])
                reply = recv_all(waiter)
                sender.join()
                waiter.close()
                v2 = reply.index(b"second:")  # after the v2 header hamba wrote
                self.assertEqual(reply[v2:], b"second:" + body + b"\r\nEND")


class SourceBalanceOnCarriedAddress(unittest.TestCase):
    """balance: source behind accept_proxy hashes the client the header carries, not the proxy
    that connected: one proxy's clients spread over the servers, each always to the same one."""

    def test_carried_clients_spread_and_stick(self):
        port = free_port()
        with HeaderServer() as first, HeaderServer() as second:
            servers = [first, second]
            with Hamba(config=f"""frontends:
  - bind: "127.0.0.1:{port}"
    accept_proxy: true
    balance: source
    check: false
    servers: ["127.0.0.1:{servers[0].port}", "127.0.0.1:{servers[1].port}"]
""", ports=[port]):
                def server_for(source):
                    before = [len(x.received) for x in servers]
                    s = client_socket(port)
                    s.sendall(f"PROXY TCP4 {source} 192.0.2.1 4000 443\r\nx\r\nEND".encode())
                    self.assertEqual(recv_all(s), b"x\r\nEND")
                    s.close()
                    return [i for i, x in enumerate(servers) if len(x.received) > before[i]]

                first = {f"198.51.100.{n}": server_for(f"198.51.100.{n}") for n in range(1, 21)}
                self.assertEqual({i for got in first.values() for i in got}, {0, 1}, first)
                for source, got in list(first.items())[:5]:
                    self.assertEqual(server_for(source), got, source)


class ServerSpeaksFirst(unittest.TestCase):
    """A client that waits for the server's greeting (SMTP, MySQL) sends nothing first: hamba's
    header, which waits a moment for the client's first bytes to go with them, still goes on its
    own, and the greeting comes back."""

    def test_greeting_before_any_client_byte(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        got = []

        def serve():  # each connection (the readiness probe's too): header, greeting, echo
            while True:
                try:
                    c, _ = listener.accept()
                except OSError:
                    return
                try:
                    c.settimeout(5)
                    header = recv_until(c, b"\r\n")  # the client sends nothing first
                    got.append(header.removesuffix(b"\r\n"))
                    c.sendall(b"220 ready\r\n")
                    c.sendall(recv_until(c, b"END"))
                except OSError:
                    pass
                c.close()

        port = free_port()
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with Hamba(config=f"""frontends:
  - bind: "127.0.0.1:{port}"
    send_proxy: v1
    check: false
    servers: ["127.0.0.1:{listener.getsockname()[1]}"]
""", ports=[port]):
                s = client_socket(port)
                self.assertEqual(recv_until(s, b"\r\n"), b"220 ready\r\n")
                s.sendall(b"HELO x\r\nEND")
                self.assertEqual(recv_all(s), b"HELO x\r\nEND")
                client_port = s.getsockname()[1]
                s.close()
                # (the readiness probe's header, from 127.0.0.1, may come before or after)
                self.assertIn(f"PROXY TCP4 {CLIENT} 127.0.0.1 {client_port} {port}".encode(), got)
        finally:
            listener.close()


class SlowPaths(unittest.TestCase):
    """The exchanges above on hamba's slow paths too, where the server is not there in the loop
    turn of the client's first bytes: accept_proxy with send_proxy v1 (the carried client
    passed on) and send_proxy v2 alone (the client's own address), a short request and one of
    2 KiB (more than accept_proxy's 528-byte read-ahead), each sent with its header in one write
    and in many; through a server that accepts at once, one whose TCP connect takes a second
    (slow_path.GatedServer), and queued behind a server at maxconn 1. Every time, the server
    gets hamba's header and the whole request, and its answer (all it got) comes back."""

    CARRIED = proxy_v1("192.0.2.7", 4000, "192.0.2.1", 443)
    BODIES = (b"hello\r\nEND", bytes(range(256)) * 8 + b"\r\nEND")

    @classmethod
    def setUpClass(cls):
        cls.server = cls.enterClassContext(HeaderServer())
        cls.q = {kind: cls.enterClassContext(HeaderServer()) for kind in ("pp", "sp")}
        cls.port = {name: free_port() for name in ("pp", "sp", "pp_q", "sp_q")}
        cls.admin = free_port()

        def frontend(name, servers, accept_proxy, send_proxy):
            return f"""  - name: {name}
    bind: "127.0.0.1:{cls.port[name]}"
    accept_proxy: {accept_proxy}
    send_proxy: {send_proxy}
    check: false
    connect_timeout: 10s
    servers: {servers}
"""
        one = '[{{address: "127.0.0.1:{}", maxconn: 1}}]'.format
        cls.hamba = cls.enterClassContext(Hamba(
            "--log-connections", "text",
            config=f'admin: "127.0.0.1:{cls.admin}"\nfrontends:\n'
            + frontend("pp", f'["127.0.0.1:{cls.server.port}"]', "true", "v1")
            + frontend("sp", f'["127.0.0.1:{cls.server.port}"]', "false", "v2")
            + frontend("pp_q", one(cls.q["pp"].port), "true", "v1")
            + frontend("sp_q", one(cls.q["sp"].port), "false", "v2"),
            ports=[cls.admin, *cls.port.values()]))

    def start(self, frontends):
        """One client per frontend, body and write mode, with what each must get back."""
        clients, expected = [], []
        for frontend in frontends:
            for body in self.BODIES:
                for mode in WRITE_MODES:
                    pp = frontend.startswith("pp")
                    c = Exchange(self.port[frontend], self.CARRIED if pp else b"", body, mode,
                                 shut=False, bind=CLIENT, label=frontend)
                    clients.append(c)
                    expected.append((self.CARRIED if pp else proxy_v2(
                        CLIENT, c.client_port, "127.0.0.1", self.port[frontend])) + body)
        return clients, expected

    def check(self, clients, expected):
        check_exchanges(self, clients, expected, connection_lines(self.hamba.log()))

    def test_server_accepts_at_once(self):
        self.check(*self.start(["pp", "sp"]))

    def test_slow_server(self):
        clients = []
        with self.server.slow_connects(self.hamba, count=8,
                                       stop=lambda: any(c.ended() for c in clients)):
            started, expected = self.start(["pp", "sp"])
            clients += started
        self.check(clients, expected)
        self.assertGreaterEqual(self.server.holds, 8)  # every connect was a slow one

    def test_queued_client(self):
        for frontend in ("pp_q", "sp_q"):
            with self.subTest(frontend=frontend):
                server = self.q[frontend[:2]]
                first = (self.CARRIED if frontend == "pp_q" else b"") + b"hold"
                with SlotHolder(self.port[frontend], first, bind=CLIENT, arrived=lambda: any(
                        h.endswith(b"hold") for h in server.heard)) as holder:
                    clients, expected = self.start([frontend])
                    wait_queued(self.admin, len(clients), frontend,
                                stop=lambda: any(c.ended() for c in clients))
                    self.assertTrue(holder.release().endswith(b"hold"))
                self.check(clients, expected)


if __name__ == "__main__":
    unittest.main()
