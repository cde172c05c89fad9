"""TLS terminated by hamba (a frontend's `tls:`), against real clients: openssl s_client, curl,
Python's ssl module, redis-cli --tls, and HAProxy as a TLS client in front of hamba. Certificates
are made in the test (ECDSA P-256 and RSA 2048).

- The certificate follows the ClientHello's server name: an exact SAN name, a one-label
  wildcard; no name, or an unknown one, gets the first certificate. TLS 1.1 is refused and
  counted (hamba_frontend_tls_handshake_errors_total{reason="version"}).
- The plaintext reaches plain servers both ways, with the EOF: an echo server, nginx through
  `curl --cacert`, redis-server through redis-cli --tls and redis-benchmark --tls.
- hamba's own record layer after the handshake: 16 MiB both ways at once, checksummed (TLS 1.3
  AES-256-GCM and TLS 1.2 ChaCha20-Poly1305); an s_client session sending KeyUpdates (its K
  command) mid-stream, the echo going on after each; a record with a flipped bit resets the
  connection, and is counted (hamba_frontend_tls_record_errors_total).
- ALPN picks the server's preferred protocol; a session ticket resumes, also after a reconfigure
  (the ticket keys are the process's).
- Slow paths: a ClientHello in many small segments, a queued client (its request, decrypted,
  waits for a server with room), a server that speaks first, a send_proxy header before the
  plaintext.
- The handshake deadline: 500 clients stalled mid-handshake are closed by it
  (reason="timeout") while another client is served meanwhile.
- Bad certificates (missing file, not PEM, a key of another certificate, expired): at start one
  line naming the file and exit 2; at a reconfigure the same line and the running certificates
  stay. A new certificate reloaded live: new connections get it, an open one goes on.
- routes with tls: they match the server name of the terminated handshake.
- Origination (server_tls): the next connection to a server resumes the last one's session
  (openssl s_server -www says New, then Reused); a route re-encrypts with its own server_tls."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (Hamba, Process, assert_stops_cleanly, free_port, hamba_command,
                     http_request, run, start_redis, wait_port, wait_until)
from hamba_helpers import Backend, EchoServer, FirehoseServer, TaggedEcho, rss_kib


def make_cert(workdir, stem, names, kind="ec", days="2"):
    """A self-signed certificate for `names` (its SAN), ECDSA P-256 or RSA 2048: (cert, key)."""
    key, crt = os.path.join(workdir, f"{stem}.key"), os.path.join(workdir, f"{stem}.pem")
    algo = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec"
            else ["-newkey", "rsa:2048"])
    san = ",".join(f"DNS:{n}" for n in names)
    if days.startswith("-"):  # expired: a request signed with a validity in the past
        csr = os.path.join(workdir, f"{stem}.csr")
        r = run(["openssl", "req", "-new", *algo, "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={names[0]}"])
        assert r.returncode == 0, r.stderr
        r = run(["openssl", "x509", "-req", "-in", csr, "-signkey", key, "-days", days,
                 "-out", crt])
    else:
        r = run(["openssl", "req", "-x509", *algo, "-nodes", "-days", days, "-keyout", key,
                 "-out", crt, "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}"])
    assert r.returncode == 0, r.stderr
    return crt, key


def subject_seen(port, servername=None, extra=()):
    """The certificate subject CN `openssl s_client` is shown, or None (no handshake)."""
    argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *extra]
    argv += ["-servername", servername] if servername else ["-noservername"]
    r = subprocess.run(argv, input="", capture_output=True, text=True, timeout=20)
    for line in r.stdout.splitlines():
        if line.startswith("subject="):
            return line.split("CN", 1)[1].strip(" =")
    return None


def client_context(cafile, alpn=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, name, cafile, alpn=None, session=None, ctx=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    ctx = ctx or client_context(cafile, alpn)
    return ctx.wrap_socket(raw, server_hostname=name, session=session)


def read_to_eof(sock):
    out = b""
    while True:
        try:
            data = sock.recv(65536)
        except ssl.SSLZeroReturnError:
            break
        if not data:
            break
        out += data
    return out


def metric(admin, reason, frontend="tls"):
    _, _, body = http_request(admin, "GET", "/metrics")
    key = (f'hamba_frontend_tls_handshake_errors_total{{frontend="{frontend}",'
           f'reason="{reason}"}} ')
    text = body.decode()
    assert key in text, text
    return int(text.split(key)[1].split()[0])


class MemoryTls:
    """A TLS client on Python's memory BIOs over a plain socket: each flight it sends is cut
    into `piece`-byte segments, and it can half-close (a close_notify, reading on)."""

    def __init__(self, port, name, cafile, piece=None):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.piece = piece
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = client_context(cafile).wrap_bio(self.incoming, self.outgoing,
                                                   server_hostname=name)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self.pull()
        self.flush()

    def flush(self):
        data = self.outgoing.read()
        if not self.piece:
            self.raw.sendall(data)
            return
        for i in range(0, len(data), self.piece):
            self.raw.sendall(data[i:i + self.piece])
            time.sleep(0.002)

    def pull(self):
        data = self.raw.recv(65536)
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
        return data

    def send(self, data):
        self.tls.write(data)
        self.flush()

    def read(self, size):
        got = b""
        while len(got) < size:
            try:
                got += self.tls.read(size - len(got))
            except ssl.SSLWantReadError:
                if not self.pull():
                    break
        return got

    def close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # sent; the server's close_notify comes after what it still sends
        self.flush()

    def read_to_eof(self):
        got = b""
        while True:
            try:
                data = self.tls.read(65536)
                if not data:
                    return got
                got += data
            except ssl.SSLWantReadError:
                if not self.pull():
                    return got
            except ssl.SSLZeroReturnError:
                return got


class Certificates:
    """The test's certificates, made once."""

    def __init__(self, workdir):
        self.dir = workdir
        self.a = make_cert(workdir, "a", ["a.test"])                      # ECDSA, the default
        self.b = make_cert(workdir, "b", ["*.b.test", "b.test"], "rsa")    # RSA, a wildcard
        self.a2 = make_cert(workdir, "a2", ["a.test"])                    # a's replacement
        self.expired = make_cert(workdir, "old", ["old.test"], days="-1")
        self.garbage = os.path.join(workdir, "garbage.pem")
        with open(self.garbage, "w") as f:
            f.write("not a certificate\n")
        # Both CA files a client trusts: the self-signed certificates themselves.
        self.bundle = os.path.join(workdir, "bundle.pem")
        with open(self.bundle, "w") as out:
            for crt in (self.a[0], self.b[0], self.a2[0]):
                with open(crt) as f:
                    out.write(f.read())


def tls_yaml(port, admin, server, certs, extra="", tls_extra="", frontend_extra=""):
    return f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: tls
    bind: "127.0.0.1:{port}"
    check: false
    tls_handshake_timeout: 1s
{frontend_extra}    tls:
      cert: {certs.a[0]}
      key: {certs.a[1]}
      certs: [{{cert: {certs.b[0]}, key: {certs.b[1]}}}]
      alpn: [h2, http/1.1]
{tls_extra}    servers: ["{server}"]
{extra}"""


class TlsTermination(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl is not installed")
        cls.workdir = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="hamba-tls-"))
        cls.certs = Certificates(cls.workdir)
        cls.echo = cls.enterClassContext(EchoServer())
        cls.port, cls.admin = free_port(), free_port()
        cls.hamba = cls.enterClassContext(Hamba(
            "--log-connections", "text",
            config=tls_yaml(cls.port, cls.admin, cls.echo.address(), cls.certs),
            ports=[cls.admin]))
        wait_port(cls.port)

    @classmethod
    def tearDownClass(cls):
        # After every test of the class (stalled handshakes, failures): a clean stop, and no
        # sanitizer report (a leak shows at exit).
        code = cls.hamba.stop()
        log = cls.hamba.log()
        super().tearDownClass()
        if code != 0 or "Sanitizer" in log:
            raise AssertionError(f"hamba stopped with {code}:\n{log}")

    def test_server_name_picks_the_certificate(self):
        self.assertEqual(subject_seen(self.port, "a.test"), "a.test")
        self.assertEqual(subject_seen(self.port, "x.b.test"), "*.b.test")
        self.assertEqual(subject_seen(self.port, "b.test"), "*.b.test")
        self.assertEqual(subject_seen(self.port, "B.TEST"), "*.b.test")

    def test_no_or_unknown_name_gets_the_default(self):
        self.assertEqual(subject_seen(self.port, None), "a.test")
        self.assertEqual(subject_seen(self.port, "c.test"), "a.test")
        self.assertEqual(subject_seen(self.port, "x.y.b.test"), "a.test")  # one label only

    def test_tls_1_1_is_refused_and_counted(self):
        before = metric(self.admin, "version")
        self.assertIsNone(subject_seen(self.port, "a.test", ["-tls1_1"]))
        wait_until(lambda: metric(self.admin, "version") == before + 1, what="version counted")
        self.assertIn("TLS handshake with client", self.hamba.log())

    def test_plaintext_both_ways_with_the_eof(self):
        for name in ("a.test", "x.b.test"):
            c = MemoryTls(self.port, name, self.certs.bundle)
            payload = os.urandom(300_000)
            c.send(payload)
            self.assertEqual(c.read(len(payload)), payload)
            # A half-close in TLS is a close_notify: the server sees its EOF, answers, closes.
            c.close_notify()
            self.assertEqual(c.read_to_eof(), b"<eof seen>")
            c.raw.close()

    def test_16_mib_both_ways_checksummed(self):
        # hamba's own record layer (TLS 1.3 AES-256-GCM, the default) and a TLS 1.2 ChaCha20
        # session: 16 MiB up to the echo server and back at once, one client thread.
        import hashlib
        import select
        for tls12 in (False, True):
            ctx = client_context(self.certs.bundle)
            if tls12:
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_ciphers("ECDHE-ECDSA-CHACHA20-POLY1305")
            s = tls_connect(self.port, "a.test", self.certs.bundle, ctx=ctx)
            self.assertEqual(s.version(), "TLSv1.2" if tls12 else "TLSv1.3")
            s.setblocking(False)
            payload = os.urandom(16 << 20)
            sent, received, back = 0, 0, hashlib.sha256()
            deadline = time.monotonic() + 60
            while received < len(payload) and time.monotonic() < deadline:
                if sent < len(payload):
                    try:
                        sent += s.send(payload[sent:sent + 65536])
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        pass
                try:
                    data = s.recv(262144)
                    if not data:
                        break
                    back.update(data)
                    received += len(data)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    select.select([s], [s] if sent < len(payload) else [], [], 1)
            s.close()
            self.assertEqual(received, len(payload))
            self.assertEqual(back.hexdigest(), hashlib.sha256(payload).hexdigest())

    def test_s_client_key_update_mid_stream(self):
        # s_client's K command: a KeyUpdate asking for hamba's; the echo goes on both ways.
        out_path = os.path.join(self.workdir, "s_client_key_update.out")
        with open(out_path, "wb") as out:
            client = subprocess.Popen(
                ["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}", "-servername",
                 "a.test", "-tls1_3"], stdin=subprocess.PIPE, stdout=out,
                stderr=subprocess.STDOUT)
        try:
            def said(text):
                with open(out_path, "rb") as f:
                    return f.read().count(text)
            for line, seen in ((b"before the update\n", b"before the update"),
                               (b"K\n", b"KEYUPDATE"),
                               (b"after the update\n", b"after the update"),
                               (b"K\n", b"KEYUPDATE"),
                               (b"and after another\n", b"and after another")):
                count = said(seen)
                client.stdin.write(line)
                client.stdin.flush()
                wait_until(lambda: said(seen) > count, timeout=10, what=seen.decode())
        finally:
            client.stdin.close()
            client.wait(timeout=10)
        self.assertNotIn(b"errno", open(out_path, "rb").read())

    def test_a_flipped_bit_resets_and_is_counted(self):
        def count():
            _, _, body = http_request(self.admin, "GET", "/metrics")
            key = 'hamba_frontend_tls_record_errors_total{frontend="tls"} '
            return int(body.decode().split(key)[1].split()[0])
        before = count()
        c = MemoryTls(self.port, "a.test", self.certs.bundle)
        c.send(b"fine")
        self.assertEqual(c.read(4), b"fine")
        c.tls.write(b"tampered")
        record = bytearray(c.outgoing.read())
        record[-1] ^= 0x10  # in the tag
        c.raw.sendall(bytes(record))
        try:
            got = c.raw.recv(65536)
        except ConnectionResetError:
            got = b""
        self.assertEqual(got, b"")  # closed (reset), nothing echoed
        wait_until(lambda: count() == before + 1, what="tls_record_errors + 1")
        c.raw.close()

    def test_alpn_is_the_servers_preference(self):
        with tls_connect(self.port, "a.test", self.certs.bundle, alpn=["http/1.1", "h2"]) as s:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
        with tls_connect(self.port, "a.test", self.certs.bundle, alpn=["http/1.1"]) as s:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        with tls_connect(self.port, "a.test", self.certs.bundle, alpn=["spdy/1"]) as s:
            self.assertIsNone(s.selected_alpn_protocol())

    def resumes(self, ctx, session):
        with tls_connect(self.port, "a.test", None, session=session, ctx=ctx) as s:
            s.sendall(b"x")
            s.recv(10)
            return s.session_reused

    def test_session_ticket_resumes(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = client_context(self.certs.bundle)
            ctx.maximum_version = version
            with tls_connect(self.port, "a.test", None, ctx=ctx) as s:
                s.sendall(b"x")
                s.recv(10)  # TLS 1.3 tickets come after the handshake
                session = s.session
            self.assertTrue(self.resumes(ctx, session), version)

    def test_client_hello_in_many_segments(self):
        """A client that sends its handshake a few bytes at a time."""
        c = MemoryTls(self.port, "a.test", self.certs.bundle, piece=7)
        c.send(b"hello in pieces")
        self.assertEqual(c.read(15), b"hello in pieces")
        c.raw.close()

    def test_stalled_handshakes_meet_the_deadline(self):
        before = metric(self.admin, "timeout")
        hello_start = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"  # a hello, never finished
        stalled = []
        try:
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                s.sendall(hello_start)
                stalled.append(s)
            # Another client is served while they wait.
            with tls_connect(self.port, "a.test", self.certs.bundle) as s:
                s.sendall(b"served")
                self.assertEqual(s.recv(10), b"served")
            # The deadline (1s) closes every stalled one.
            for s in stalled:
                s.settimeout(30)
                self.assertEqual(s.recv(10), b"")
            wait_until(lambda: metric(self.admin, "timeout") >= before + 500,
                       what="500 handshake timeouts counted", timeout=30)
        finally:
            for s in stalled:
                s.close()

    def test_a_connect_without_a_byte_is_no_failure(self):
        before = metric(self.admin, "closed")
        socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        with tls_connect(self.port, "a.test", self.certs.bundle) as s:  # it went through
            s.sendall(b"x")
            s.recv(1)
        self.assertEqual(metric(self.admin, "closed"), before)

    def test_curl_through_to_nginx(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                          else None)
        curl = shutil.which("curl")
        if not nginx or not curl:
            self.skipTest("nginx or curl missing")
        d = tempfile.mkdtemp(dir=self.workdir)
        nport, hport, admin = free_port(), free_port(), free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};
  fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{ listen 127.0.0.1:{nport}; location / {{ return 200 "hello from nginx\\n"; }} }} }}
""")
        with Process([nginx, "-c", conf, "-e", f"{d}/error.log"]):
            wait_port(nport)
            with Hamba(config=tls_yaml(hport, admin, f"127.0.0.1:{nport}", self.certs),
                       ports=[admin]):
                wait_port(hport)
                for name in ("a.test", "www.b.test"):
                    r = run([curl, "-sS", "--http1.1", "--cacert", self.certs.bundle, "--resolve",
                             f"{name}:{hport}:127.0.0.1", "-H", "Connection: close",
                             f"https://{name}:{hport}/index.html"])
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(r.stdout, "hello from nginx\n")


class TlsSlowPaths(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl is not installed")
        cls.workdir = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="hamba-tls-"))
        cls.certs = Certificates(cls.workdir)

    def test_queued_client_is_served_when_a_slot_frees(self):
        release = threading.Event()

        def hold_then_echo(conn):
            data = conn.recv(100)
            if data == b"hold":
                release.wait(30)
            conn.sendall(b"got " + data)

        with Backend(hold_then_echo) as server:
            port, admin = free_port(), free_port()
            cfg = tls_yaml(port, admin, "x", self.certs).replace(
                f'servers: ["x"]', f'servers: [{{address: "{server.address()}", maxconn: 1}}]')
            with Hamba(config=cfg, ports=[admin]) as h:
                wait_port(port)
                first = tls_connect(port, "a.test", self.certs.bundle)
                first.sendall(b"hold")
                wait_until(lambda: server.active == 1, what="the slot taken")
                second = tls_connect(port, "a.test", self.certs.bundle)
                second.sendall(b"queued request")
                wait_until(lambda: '"queued":1' in http_request(admin, "GET", "/stats.json")[2]
                           .decode().replace(" ", ""), what="a client queued")
                release.set()
                self.assertEqual(first.recv(100), b"got hold")
                first.close()
                self.assertEqual(second.recv(100), b"got queued request")
                second.close()
                assert_stops_cleanly(self, h)

    def test_server_speaks_first_and_send_proxy(self):
        with TaggedEcho("greeting") as server:
            port, admin = free_port(), free_port()
            cfg = tls_yaml(port, admin, server.address(), self.certs,
                           frontend_extra="    send_proxy: v1\n")
            with Hamba(config=cfg, ports=[admin]) as h:
                wait_port(port)
                with tls_connect(port, "a.test", self.certs.bundle) as s:
                    # The server greets first; the header went after it, alone, and the echo
                    # server sends it back (in the greeting's read or after it).
                    got = s.recv(100)
                    self.assertTrue(got.startswith(b"greeting\n"), got)
                    s.sendall(b"ping")
                    while not got.endswith(b"ping"):
                        data = s.recv(100)
                        self.assertTrue(data, got)
                        got += data
                    self.assertTrue(got.startswith(b"greeting\nPROXY TCP4 127.0.0.1 127.0.0.1 "),
                                    got)
                assert_stops_cleanly(self, h)

    def test_a_client_that_stops_reading_holds_the_server(self):
        """Backpressure through TLS: a client that stops reading stops hamba reading its
        server (the server's sends stall, hamba's memory stays flat); every byte arrives once
        it reads again."""
        size = 64 << 20
        with FirehoseServer(size) as server:
            port, admin = free_port(), free_port()
            with Hamba(config=tls_yaml(port, admin, server.address(), self.certs),
                       ports=[admin]) as h:
                wait_port(port)
                before = rss_kib(h.pid)
                with tls_connect(port, "a.test", self.certs.bundle) as s:
                    s.recv(1)
                    last = -1
                    # The server stalls: what it has sent stops growing (kernel buffers full).
                    for _ in range(100):
                        time.sleep(0.1)
                        if server.sent == last:
                            break
                        last = server.sent
                    self.assertLess(server.sent, size // 2)
                    self.assertLess(rss_kib(h.pid) - before, 16 << 10)  # KiB: no buffering
                    got = 1
                    while True:
                        data = s.recv(1 << 16)
                        if not data:
                            break
                        got += len(data)
                    self.assertEqual(got, size)
                assert_stops_cleanly(self, h)

    def test_redis_cli_and_benchmark_over_tls(self):
        cli, bench = shutil.which("redis-cli"), shutil.which("redis-benchmark")
        if not cli or not bench:
            self.skipTest("redis-cli or redis-benchmark missing")
        redis, rport = start_redis()
        with redis:
            port, admin = free_port(), free_port()
            with Hamba(config=tls_yaml(port, admin, f"127.0.0.1:{rport}", self.certs),
                       ports=[admin]) as h:
                wait_port(port)
                tls = ["--tls", "--cacert", self.certs.bundle, "--sni", "a.test"]
                r = run([cli, "-h", "127.0.0.1", "-p", port, *tls, "SET", "k", "through tls"])
                self.assertEqual(r.stdout.strip(), "OK", r.stderr)
                r = run([cli, "-h", "127.0.0.1", "-p", port, *tls, "GET", "k"])
                self.assertEqual(r.stdout.strip(), "through tls", r.stderr)
                r = run([bench, "-h", "127.0.0.1", "-p", port, *tls, "-n", "2000", "-c", "20",
                         "-t", "ping,set,get", "-q"], timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("GET", r.stdout)
                self.assertEqual(metric(admin, "protocol"), 0)
                assert_stops_cleanly(self, h)

    def test_haproxy_as_a_tls_client(self):
        haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                              if os.path.exists("/usr/sbin/haproxy") else None)
        if not haproxy:
            self.skipTest("haproxy missing")
        with EchoServer() as echo:
            port, admin, front = free_port(), free_port(), free_port()
            with Hamba(config=tls_yaml(port, admin, echo.address(), self.certs), ports=[admin]):
                wait_port(port)
                conf = os.path.join(self.workdir, "haproxy.cfg")
                with open(conf, "w") as f:
                    f.write(f"""defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen plain
  bind 127.0.0.1:{front}
  server hamba 127.0.0.1:{port} ssl verify required ca-file {self.certs.bundle} sni str(x.b.test)
""")
                with Process([haproxy, "-f", conf, "-db"]):
                    wait_port(front)
                    with socket.create_connection(("127.0.0.1", front), timeout=10) as s:
                        s.sendall(b"through haproxy")
                        s.shutdown(socket.SHUT_WR)
                        got = b""
                        while True:
                            data = s.recv(1000)
                            if not data:
                                break
                            got += data
                        self.assertEqual(got, b"through haproxy<eof seen>")


class TlsClientCertificates(unittest.TestCase):
    def test_mutual_tls_accepted_and_refused(self):
        with tempfile.TemporaryDirectory(prefix="hamba-tls-") as d, EchoServer() as echo:
            certs = Certificates(d)
            # A CA and a client certificate it signs; another client certificate it does not.
            ca_crt, ca_key = make_cert(d, "ca", ["ca.test"])
            ckey, ccsr, ccrt = (os.path.join(d, n) for n in ("c.key", "c.csr", "c.pem"))
            r = run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", ckey,
                     "-out", ccsr, "-subj", "/O=hamba/CN=client one"])
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run(["openssl", "x509", "-req", "-in", ccsr, "-CA", ca_crt, "-CAkey", ca_key,
                     "-CAcreateserial", "-days", "2", "-out", ccrt])
            self.assertEqual(r.returncode, 0, r.stderr)
            stranger = make_cert(d, "stranger", ["stranger.test"])
            port, admin = free_port(), free_port()
            cfg = tls_yaml(port, admin, echo.address(), certs,
                           tls_extra=f"      client_ca: {ca_crt}\n")
            with Hamba("--log-connections", "text", config=cfg, ports=[admin]) as h:
                wait_port(port)
                ctx = client_context(certs.bundle)
                ctx.load_cert_chain(ccrt, ckey)
                with tls_connect(port, "a.test", None, ctx=ctx) as s:
                    s.sendall(b"trusted")
                    self.assertEqual(s.recv(100), b"trusted")
                wait_until(lambda: 'tls_subject="CN=client one,O=hamba"' in h.log(),
                           what="the subject in the connection log")
                for chain in (None, stranger):
                    ctx = client_context(certs.bundle)
                    if chain:
                        ctx.load_cert_chain(*chain)
                    try:
                        with tls_connect(port, "a.test", None, ctx=ctx) as s:
                            s.sendall(b"x")
                            got = s.recv(100)  # TLS 1.3: the refusal comes after the handshake
                    except (ssl.SSLError, OSError):
                        got = b""
                    self.assertEqual(got, b"", chain)
                wait_until(lambda: metric(admin, "certificate") == 2,
                           what="two refused certificates counted")
                assert_stops_cleanly(self, h)

    def test_send_proxy_v2_carries_the_tls_facts(self):
        def header_back(conn):
            head = b""
            while len(head) < 16:
                head += conn.recv(16 - len(head))
            size = int.from_bytes(head[14:16], "big")
            body = b""
            while len(body) < size:
                body += conn.recv(size - len(body))
            conn.sendall(body)

        with tempfile.TemporaryDirectory(prefix="hamba-tls-") as d, Backend(header_back) as srv:
            certs = Certificates(d)
            ca_crt, ca_key = make_cert(d, "ca", ["ca.test"])
            ckey, ccsr, ccrt = (os.path.join(d, n) for n in ("c.key", "c.csr", "c.pem"))
            run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", ckey,
                 "-out", ccsr, "-subj", "/CN=client two"])
            run(["openssl", "x509", "-req", "-in", ccsr, "-CA", ca_crt, "-CAkey", ca_key,
                 "-CAcreateserial", "-days", "2", "-out", ccrt])
            port, admin = free_port(), free_port()
            cfg = tls_yaml(port, admin, srv.address(), certs,
                           tls_extra=f"      client_ca: {ca_crt}\n",
                           frontend_extra="    send_proxy: v2\n")
            with Hamba(config=cfg, ports=[admin]) as h:
                wait_port(port)
                ctx = client_context(certs.bundle)
                ctx.load_cert_chain(ccrt, ckey)
                with tls_connect(port, "x.b.test", None, ctx=ctx) as s:
                    s.sendall(b"hi")
                    body = read_to_eof(s)
                tlvs, i = {}, 12  # after the IPv4 addresses and ports
                while i < len(body):
                    t, n = body[i], int.from_bytes(body[i + 1:i + 3], "big")
                    tlvs[t] = body[i + 3:i + 3 + n]
                    i += 3 + n
                self.assertEqual(tlvs[0x02], b"x.b.test")  # PP2_TYPE_AUTHORITY
                ssl_tlv = tlvs[0x20]                       # PP2_TYPE_SSL
                self.assertEqual(ssl_tlv[0], 0x07)         # SSL, a certificate on the connection
                self.assertEqual(ssl_tlv[1:5], b"\0\0\0\0")  # verified
                self.assertIn(b"\x22\x00\x0aclient two", ssl_tlv)  # PP2_SUBTYPE_SSL_CN
                self.assertIn(b"\x21\x00\x07TLSv1.3", ssl_tlv)     # PP2_SUBTYPE_SSL_VERSION
                assert_stops_cleanly(self, h)


def haproxy_path():
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                       else None)


def server_of(admin, frontend):
    from hamba_helpers import stats_json
    for f in stats_json(admin)["frontends"]:
        if f["name"] == frontend:
            return f["servers"][0]
    raise AssertionError(f"no frontend {frontend}")


class TlsOrigination(unittest.TestCase):
    """hamba as a TLS client of its servers (server_tls): HAProxy as the TLS server, requiring
    a client certificate (`ssl verify required ca-file`), in front of plain servers."""

    def test_origination_checks_and_a_wrong_ca(self):
        haproxy = haproxy_path()
        if not haproxy:
            self.skipTest("haproxy missing")
        with tempfile.TemporaryDirectory(prefix="hamba-tls-") as d, EchoServer() as echo, \
                Backend(lambda c: (c.recv(1000), c.sendall(
                    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))) as web:
            certs = Certificates(d)
            ca_crt, ca_key = make_cert(d, "ca", ["ca.test"])
            ckey, ccsr, ccrt = (os.path.join(d, n) for n in ("c.key", "c.csr", "c.pem"))
            run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", ckey,
                 "-out", ccsr, "-subj", "/CN=hamba"])
            run(["openssl", "x509", "-req", "-in", ccsr, "-CA", ca_crt, "-CAkey", ca_key,
                 "-CAcreateserial", "-days", "2", "-out", ccrt])
            combined = os.path.join(d, "a.combined")
            with open(combined, "w") as out:
                for p in certs.a:
                    with open(p) as f:
                        out.write(f.read())
            tls_echo, tls_web = free_port(), free_port()
            conf = os.path.join(d, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(f"""defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
listen echo
  bind 127.0.0.1:{tls_echo} ssl crt {combined} verify required ca-file {ca_crt}
  server echo {echo.address()}
listen web
  bind 127.0.0.1:{tls_web} ssl crt {combined} verify required ca-file {ca_crt}
  server web {web.address()}
""")
            with Process([haproxy, "-f", conf, "-db"]):
                wait_port(tls_echo)
                good = f"{{verify: {certs.a[0]}, sni: a.test, cert: {ccrt}, key: {ckey}}}"
                p1, p2, p3, p4, admin = (free_port() for _ in range(5))
                cfg = f"""admin: "127.0.0.1:{admin}"
frontends:
  - name: good
    bind: "127.0.0.1:{p1}"
    check: {{interval: 200ms, rise: 1, fall: 1}}
    server_tls: {good}
    servers: ["127.0.0.1:{tls_echo}"]
  - name: http
    bind: "127.0.0.1:{p2}"
    check: {{type: http, interval: 200ms, rise: 1, fall: 1}}
    server_tls: {good}
    servers: ["127.0.0.1:{tls_web}"]
  - name: wrongca
    bind: "127.0.0.1:{p3}"
    check: {{interval: 200ms, rise: 1, fall: 1}}
    server_tls: {{verify: {certs.b[0]}, sni: a.test, cert: {ccrt}, key: {ckey}}}
    servers: ["127.0.0.1:{tls_echo}"]
  - name: nocert
    bind: "127.0.0.1:{p4}"
    check: false
    observe: {{failures: 1}}
    server_tls: {{verify: none}}
    servers: ["127.0.0.1:{tls_echo}"]
"""
                with Hamba(config=cfg, ports=[admin]) as h:
                    wait_until(lambda: server_of(admin, "good").get("up") is True and
                               server_of(admin, "http").get("up") is True,
                               what="TLS checks pass", timeout=20)
                    with socket.create_connection(("127.0.0.1", p1), timeout=10) as s:
                        s.sendall(b"through tls")
                        s.shutdown(socket.SHUT_WR)
                        got = b""
                        while True:
                            data = s.recv(1000)
                            if not data:
                                break
                            got += data
                        self.assertEqual(got, b"through tls<eof seen>")
                    # The wrong CA: the check fails, and says why.
                    wait_until(lambda: "TLS handshake failed" in
                               str(server_of(admin, "wrongca").get("last_check")),
                               what="the wrong CA's reason", timeout=20)
                    self.assertIs(server_of(admin, "wrongca").get("up"), False)
                    # No client certificate: HAProxy refuses it (in TLS 1.3 after hamba's side
                    # of the handshake is done: the client is closed or reset).
                    # The reset may come before the client's byte is sent, even before its
                    # connect returns (a loaded machine).
                    try:
                        with socket.create_connection(("127.0.0.1", p4), timeout=10) as s:
                            s.sendall(b"x")
                            self.assertEqual(read_to_eof(s), b"")
                    except (ConnectionResetError, BrokenPipeError):
                        pass
                    wait_until(lambda: "is DOWN" in h.log(), what="nocert's server down")
                    assert_stops_cleanly(self, h)


    def test_the_next_connection_to_a_server_resumes(self):
        """One session per server (and worker) is kept and offered on the next connect: behind
        `openssl s_server -www`, whose page says whether the handshake was New or Reused. The
        first request may already resume: the readiness probe's connection through hamba can
        finish its handshake with the server (a loopback connect completes at once) before the
        probe's client goes."""
        with tempfile.TemporaryDirectory(prefix="hamba-tls-") as d:
            crt, key = make_cert(d, "s", ["s.test"])
            tls_port, port = free_port(), free_port()
            server = ["openssl", "s_server", "-www", "-accept", f"127.0.0.1:{tls_port}",
                      "-cert", crt, "-key", key]
            with Process(server):
                wait_port(tls_port)
                cfg = f"""frontends:
  - name: origin
    bind: "127.0.0.1:{port}"
    check: false
    server_tls: {{verify: {crt}, sni: s.test}}
    servers: ["127.0.0.1:{tls_port}"]
"""
                # One worker: the sessions are each worker's own.
                with Hamba(config=cfg, ports=[port], env={"HAMBA_THREADS": "1"}) as h:
                    seen = []
                    for _ in range(3):
                        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                            page = read_to_eof(s).decode(errors="replace")
                        seen += [line.split(",")[0] for line in page.splitlines()
                                 if line.startswith(("New,", "Reused,"))]
                    self.assertEqual(len(seen), 3, seen)
                    self.assertIn(seen[0], ("New", "Reused"))
                    self.assertEqual(seen[1:], ["Reused", "Reused"])
                    assert_stops_cleanly(self, h)


class TlsRoutes(unittest.TestCase):
    def test_routes_match_the_terminated_server_name(self):
        with tempfile.TemporaryDirectory(prefix="hamba-tls-") as d, \
                TaggedEcho("default") as default, TaggedEcho("route-b") as b:
            certs = Certificates(d)
            port, admin = free_port(), free_port()
            cfg = tls_yaml(port, admin, default.address(), certs, extra=f"""    routes:
      - name: b
        sni: ["*.b.test"]
        servers: ["{b.address()}"]
""")
            with Hamba(config=cfg, ports=[admin]) as h:
                wait_port(port)
                for name, tag in (("x.b.test", b"route-b\n"), ("a.test", b"default\n")):
                    with tls_connect(port, name, certs.bundle) as s:
                        self.assertEqual(s.recv(100), tag)
                assert_stops_cleanly(self, h)


    def test_a_route_re_encrypts_with_its_own_server_tls(self):
        """Terminated, routed by name, and sent on in TLS with the route's server_tls (the
        frontend has none): `openssl s_server -www` answers, New then Reused."""
        with tempfile.TemporaryDirectory(prefix="hamba-tls-") as d, \
                TaggedEcho("default") as default:
            certs = Certificates(d)
            crt, key = make_cert(d, "s", ["s.test"])
            tls_port, port, admin = free_port(), free_port(), free_port()
            with Process(["openssl", "s_server", "-www", "-accept", f"127.0.0.1:{tls_port}",
                          "-cert", crt, "-key", key]):
                wait_port(tls_port)
                cfg = tls_yaml(port, admin, default.address(), certs, extra=f"""    routes:
      - name: b
        sni: ["*.b.test"]
        servers: ["127.0.0.1:{tls_port}"]
        server_tls: {{verify: {crt}, sni: s.test}}
""")
                with Hamba(config=cfg, ports=[admin], env={"HAMBA_THREADS": "1"}) as h:
                    wait_port(port)
                    seen = []
                    for _ in range(2):
                        with tls_connect(port, "x.b.test", certs.bundle) as s:
                            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                            page = read_to_eof(s).decode(errors="replace")
                        seen += [line.split(",")[0] for line in page.splitlines()
                                 if line.startswith(("New,", "Reused,"))]
                    self.assertEqual(seen, ["New", "Reused"])
                    with tls_connect(port, "a.test", certs.bundle) as s:  # the default: plain
                        self.assertEqual(s.recv(100), b"default\n")
                    assert_stops_cleanly(self, h)

class TlsCertificatesLoaded(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl is not installed")
        cls.workdir = cls.enterClassContext(tempfile.TemporaryDirectory(prefix="hamba-tls-"))
        cls.certs = Certificates(cls.workdir)
        wrong_key = make_cert(cls.workdir, "other", ["other.test"])[1]
        c = cls.certs
        cls.bad = {
            "missing": (os.path.join(cls.workdir, "nope.pem"), c.a[1], "nope.pem"),
            "not pem": (c.garbage, c.a[1], "garbage.pem"),
            "mismatch": (c.a[0], wrong_key, "other.key"),
            "expired": (c.expired[0], c.expired[1], "old.pem"),
        }

    def test_bad_certificate_at_start_exits_2_naming_the_file(self):
        for what, (crt, key, named) in self.bad.items():
            port = free_port()
            r = hamba_command("run", "--tls-cert", crt, "--tls-key", key, str(port),
                              "127.0.0.1:9", env={"HAMBA_CONTROL": os.path.join(
                                  self.workdir, "ctl.sock")})
            self.assertEqual(r.returncode, 2, (what, r.stdout, r.stderr))
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            self.assertEqual(len(lines), 1, (what, r.stderr))
            self.assertIn(named, lines[0], what)
        # The environment is read as every option is: a good pair starts.
        port = free_port()
        with Hamba(str(port), "127.0.0.1:9",
                   env={"HAMBA_TLS_CERT": self.certs.a[0], "HAMBA_TLS_KEY": self.certs.a[1]}):
            wait_port(port)
            self.assertEqual(subject_seen(port, "a.test"), "a.test")

    def test_reload_keeps_running_certs_on_error_and_takes_new_ones(self):
        with EchoServer() as echo:
            port, admin = free_port(), free_port()
            good = tls_yaml(port, admin, echo.address(), self.certs)
            with Hamba(config=good, ports=[admin]) as h:
                wait_port(port)
                ctx = client_context(self.certs.bundle)
                with tls_connect(port, "a.test", None, ctx=ctx) as s:
                    s.sendall(b"x")
                    s.recv(1)
                    session = s.session
                open_one = tls_connect(port, "a.test", self.certs.bundle)
                first_cert = open_one.getpeercert(binary_form=True)
                for what, (crt, key, named) in self.bad.items():
                    h.write_config(good.replace(self.certs.a[0], crt)
                                   .replace(self.certs.a[1], key))
                    r = h.ctl("reconfigure", "--config", h.config)
                    self.assertNotEqual(r.returncode, 0, what)
                    self.assertIn(named, r.stderr + r.stdout, what)
                    self.assertEqual(subject_seen(port, "a.test"), "a.test", what)
                # SIGHUP with a bad file: the same, the running certificates stay.
                h.signal(1)
                wait_until(lambda: "the running one stays" in h.log(), what="SIGHUP refused")
                # A new certificate for a.test, live.
                h.write_config(good.replace(self.certs.a[0], self.certs.a2[0])
                               .replace(self.certs.a[1], self.certs.a2[1]))
                r = h.ctl("reconfigure", "--config", h.config)
                self.assertEqual(r.returncode, 0, r.stderr)
                with tls_connect(port, "a.test", self.certs.bundle) as s:
                    self.assertNotEqual(s.getpeercert(binary_form=True), first_cert)
                    with open(self.certs.a2[0]) as f:
                        self.assertEqual(s.getpeercert(binary_form=True),
                                         ssl.PEM_cert_to_DER_cert(f.read()))
                # The open connection keeps its session and goes on.
                open_one.sendall(b"still here")
                self.assertEqual(open_one.recv(100), b"still here")
                open_one.close()
                # A ticket from before the reconfigure still resumes (same ticket keys).
                with tls_connect(port, "a.test", None, session=session, ctx=ctx) as s:
                    s.sendall(b"x")
                    s.recv(1)
                    self.assertTrue(s.session_reused)
                assert_stops_cleanly(self, h)

    def test_swap_under_load_fails_no_handshake(self):
        with EchoServer() as echo:
            port, admin = free_port(), free_port()
            configs = [tls_yaml(port, admin, echo.address(), self.certs),
                       tls_yaml(port, admin, echo.address(), self.certs).replace(
                           self.certs.a[0], self.certs.a2[0]).replace(self.certs.a[1],
                                                                      self.certs.a2[1])]
            with Hamba(config=configs[0], ports=[admin]) as h:
                wait_port(port)
                errors, done = [], threading.Event()

                def load():
                    ctx = client_context(self.certs.bundle)
                    n = 0
                    deadline = time.monotonic() + 60
                    while not done.is_set() and n < 2000 and time.monotonic() < deadline:
                        try:
                            with tls_connect(port, "a.test", None, ctx=ctx) as s:
                                s.sendall(b"ping")
                                if s.recv(10) != b"ping":
                                    errors.append("bad echo")
                        except (OSError, ssl.SSLError) as e:
                            errors.append(repr(e))
                        n += 1

                threads = [threading.Thread(target=load) for _ in range(4)]
                for t in threads:
                    t.start()
                for i in range(6):
                    h.write_config(configs[(i + 1) % 2])
                    r = h.ctl("reconfigure", "--config", h.config)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    time.sleep(0.2)
                done.set()
                for t in threads:
                    t.join(90)
                self.assertEqual(errors, [])
                for reason in ("version", "cipher", "certificate", "protocol", "timeout"):
                    self.assertEqual(metric(admin, reason), 0, reason)
                assert_stops_cleanly(self, h)


if __name__ == "__main__":
    unittest.main(verbosity=2)
