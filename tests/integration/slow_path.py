"""Fixtures for hamba's slow paths (stdlib only): the cases where a session's server is not there
in the same loop turn as the client's first bytes, which local servers that accept at once
never show.

- `GatedServer`: a loopback server whose TCP connects can be made slow in the kernel, not just
  its accept(). hold() fills the listening socket's accept queue with a dummy connection and
  lowers its backlog to 0, so the kernel drops every SYN that comes (the connector stays in
  SYN_SENT); release() takes the dummy out and restores the backlog, and the connector's SYN
  retransmit (the kernel's initial RTO: about 1 s after its first SYN) then succeeds: hamba's
  connect took 1.02 to 1.07 s here. No privileges, no tc. `gated(cls)` makes any hamba_helpers
  server (`TaggedEcho`, `EchoServer`, ...) gateable; `with server.slow_connects(hamba):` holds
  it while the block starts clients, waits until hamba is stuck in SYN_SENT towards it (read
  from /proc), and releases it.
- `SlotHolder`: the only slot of a server with `maxconn: 1` (or `--server-maxconn 1`) taken by a
  connection through hamba, until release(): clients that come meanwhile queue in hamba.
  `wait_queued(admin, n, frontend)` waits for them in /stats.json.
- `GreetingServer`: speaks first (greets on accept, before reading anything, as SMTP and SSH
  servers do), records what each connection sends until its EOF, then answers.
- `Exchange`: one client connection that sends a header and a body in one write (TCP_NODELAY,
  one sendall: one segment on loopback) or in many (the header alone, then the body in pieces,
  with short pauses), from a thread, then half-closes, while another thread reads the answer;
  finish() returns it and how the connection ended ("eof", "reset", "timeout").
  `check_exchanges()` asserts a batch of them at once (every client that failed, in one
  message).
- PROXY headers: `proxy_v1()`, `proxy_v2()` build them, `split_proxy_header()` parses one (v1 or
  v2); `python_client_hello(name)` is a real TLS ClientHello.

    with gated(EchoServer)() as server:
        with Hamba(...) as hamba:
            clients = []
            with server.slow_connects(hamba, stop=lambda: any(c.ended() for c in clients)):
                clients.append(Exchange(port, proxy_v1(...), body, "one"))
            check_exchanges(self, clients, [body + b"<eof seen>"])
"""

import contextlib
import ipaddress
import select
import socket
import ssl
import struct
import threading
import time

from hamba_helpers import _Server, proc_sockets, stats_json
from harness import read_all, wait_until

SYN_SENT = "02"  # the kernel's state number in /proc/net/tcp, hex

WRITE_MODES = ("one", "many")


def listen_queue(sock):
    """(connections waiting in the accept queue, the backlog) of a listening socket, from the
    kernel's TCP_INFO (for a listener, tcpi_unacked and tcpi_sacked hold them)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    unacked, sacked = struct.unpack_from("II", info, 24)
    return unacked, sacked


class GatedServer(_Server):
    """A hamba_helpers server whose connects hold() makes wait in the kernel (see the module's
    text). Mixed in before a server class (`gated(TaggedEcho)`): its accept loop only accepts
    while the gate is open. `holds` counts the connects seen stuck in SYN_SENT by
    slow_connects()."""

    BACKLOG = 256  # _Server's

    def __init__(self, *args, **kwargs):
        self._gate = threading.Lock()
        self._opened = threading.Event()
        self._opened.set()
        self._dummy = None
        self.holds = 0
        super().__init__(*args, **kwargs)

    def _accept_loop(self):
        while not self._stop:
            if not self._opened.wait(0.05):
                continue  # held: the dummy waits, a select would not (and would spin)
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
            except (OSError, ValueError):
                return  # closed
            with self._gate:
                if ready and self._opened.is_set():
                    self._accept_waiting()

    def _accept_waiting(self, keep=None):
        """Accepts every connection waiting now (under the gate) and serves each in a thread of
        its own, but the one from the address `keep`, which is returned (closed)."""
        kept = None
        while True:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0)
                if not ready:
                    return kept
                conn, peer = self.sock.accept()
            except (OSError, ValueError):
                return kept
            if keep is not None and peer == keep:
                conn.close()
                kept = peer
                continue
            conn.setblocking(True)
            self.accepted += 1
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def hold(self):
        """From now on, a TCP connect to this server gets no answer (its SYN is dropped) until
        release()."""
        with self._gate:
            self._opened.clear()
            self._accept_waiting()  # what came before is served
        self._dummy = socket.create_connection((self.host, self.port), timeout=5)
        wait_until(lambda: listen_queue(self.sock)[0] >= 1, what="the dummy in the accept queue")
        self.sock.listen(0)  # a queue of 0 with 1 waiting: full, SYNs are dropped
        waiting, backlog = listen_queue(self.sock)
        if backlog != 0 or waiting < 1:
            raise AssertionError(f"accept queue {waiting}/{backlog}: not full")

    def release(self):
        """Connects get through again: what is stuck in SYN_SENT completes at its next SYN
        retransmit."""
        with self._gate:
            dummy, self._dummy = self._dummy, None
            if dummy is not None:
                wanted = dummy.getsockname()
                if self._accept_waiting(keep=wanted) != wanted:
                    raise AssertionError("the dummy connection was not in the accept queue")
                dummy.close()
            self.sock.listen(self.BACKLOG)
            self._opened.set()

    def connecting(self, pid):
        """How many sockets of process `pid` are in SYN_SENT towards this server."""
        return sum(1 for s in proc_sockets(pid)
                   if s["state"] == SYN_SENT and s["peer_port"] == self.port)

    @contextlib.contextmanager
    def slow_connects(self, hamba, count=1, stop=None, timeout=10.0):
        """hold(), run the block (which starts clients), then wait until `hamba` has `count`
        connects stuck towards this server, and release(): those connects complete about a
        second after they began, on their SYN retransmit. `stop()` true ends the wait early (a
        client already answered or reset: the test's own assertions then say what went wrong);
        `holds` counts the stuck connects seen, for the test to check that its path was the
        slow one."""
        self.hold()
        try:
            yield self
            seen = [0]

            def stuck():
                seen[0] = self.connecting(hamba.pid)
                return seen[0] >= count or (stop is not None and stop())

            wait_until(stuck, timeout=timeout,
                       what=f"{count} connect(s) of hamba stuck in SYN_SENT to port {self.port}")
            self.holds += seen[0]
        finally:
            self.release()


def gated(cls):
    """`cls` (a hamba_helpers server class) with hold()/release()/slow_connects()."""
    return type(f"Gated{cls.__name__}", (GatedServer, cls), {})


class GreetingServer(GatedServer):
    """Speaks first: sends `greeting` on accept before reading anything, then reads until the
    client's EOF and records it (`received`: one entry per connection, in the order they end),
    answers `answer` and closes. Gateable like every GatedServer."""

    def __init__(self, greeting=b"220 greeting.test ESMTP ready\r\n", answer=b"221 bye\r\n"):
        self.greeting = greeting
        self.answer = answer
        self.received = []
        super().__init__()

    def serve(self, conn):
        conn.settimeout(10)
        conn.sendall(self.greeting)
        data = read_all(conn)
        with self._lock:
            self.received.append(data)
        conn.sendall(self.answer)


def open_client(port, host="127.0.0.1", bind=None, timeout=10.0):
    """A client socket connected to `port` on `host` (IPv4 or IPv6), from address `bind` when
    given (so that PROXY headers name it), with `timeout` on every call."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.settimeout(timeout)
    if bind:
        sock.bind((bind, 0))
    sock.connect((host, port))
    return sock


class SlotHolder:
    """Takes the only slot of a server with maxconn 1: a connection to hamba's `port` that sends
    `first` (what the frontend wants first: a PROXY header, a ClientHello, then a few bytes) and
    stays open until release(). `arrived` says when its server has it: a predicate, or the bytes
    an echoing server sends back for `first` (read here). release() half-closes it and returns
    the rest of its answer, read to the end: the slot is free once hamba has closed that
    session."""

    def __init__(self, port, first, arrived, host="127.0.0.1", bind=None, timeout=10.0):
        self.sock = open_client(port, host, bind, timeout)
        self.sock.sendall(first)
        if isinstance(arrived, bytes):
            echo = b""
            while len(echo) < len(arrived):
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                echo += chunk
            if echo != arrived:
                raise AssertionError(f"the slot holder got {echo[:60]!r}, not its echo")
        else:
            wait_until(arrived, what="the slot holder's connection at its server")

    def release(self):
        if self.sock is None:
            return b""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            return read_all(self.sock)
        except OSError:
            return b""
        finally:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False


def queued(admin, frontend=0):
    """Clients queued on hamba's frontend `frontend` (its name, or its place in the
    configuration), from /stats.json on its admin port."""
    frontends = stats_json(admin)["frontends"]
    if isinstance(frontend, str):
        frontends = [f for f in frontends if f["name"] == frontend]
        frontend = 0
    return frontends[frontend]["queued"]


def wait_queued(admin, count, frontend=0, stop=None):
    """Waits until `count` clients queue on the frontend, or `stop()` (a client already ended:
    the test's assertions then say how)."""
    wait_until(lambda: queued(admin, frontend) >= count or (stop is not None and stop()),
               what=f"{count} client(s) queued on frontend {frontend}")


def send_one(sock, data):
    """Everything in one write: with TCP_NODELAY, one segment on loopback (up to its 64 KiB)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(data)


def send_many(sock, head, body, pieces=5, pause=0.005):
    """The head alone, then the body in `pieces` writes, each after a short pause (TCP_NODELAY:
    a segment each)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if head:
        sock.sendall(head)
    step = max(1, -(-len(body) // pieces))
    for i in range(0, len(body), step):
        time.sleep(pause)
        sock.sendall(body[i:i + step])


def check_exchanges(test, clients, expected, log=""):
    """finish() each client: every one must have got exactly `expected[i]`, then an orderly EOF.
    One failure lists every client that did not (with `log`, hamba's connection lines, say)."""
    problems = []
    for c, want in zip(clients, expected):
        got, end = c.finish()
        if (end, got) != ("eof", want):
            same = len(got) == len(want)
            problems.append(f"{c}: end {end}, got {len(got)} of {len(want)} bytes"
                            + (" (different ones)" if same else f", starting {got[:48]!r}"))
    test.assertEqual(problems, [], log)


def connection_lines(log, last=12):
    """The last `last` per-connection lines (--log-connections text) of a hamba log."""
    lines = [line for line in log.splitlines() if " conn " in line]
    return "\n".join(lines[-last:])


class Exchange:
    """One client connection to hamba's `port`: sends `head` + `body` from a thread, in one
    write (`mode` "one") or many ("many"), then shuts its write side (`shut`), while another
    thread reads what comes back until EOF, reset or `timeout` seconds of silence, and then
    closes the connection (so a session that hamba ends once both sides are closed does not wait
    for the test). The test meanwhile does what it must (hold a server, release a slot);
    finish() returns (what came back, how it ended: "eof", "reset" or "timeout"). `bind`: the
    client's own address (127.0.0.2, say, so that the PROXY headers name it, not hamba);
    `label` names it in failure messages."""

    def __init__(self, port, head, body=b"", mode="one", shut=True, host="127.0.0.1", bind=None,
                 timeout=10.0, label=""):
        if mode not in WRITE_MODES:
            raise ValueError(mode)
        self.sock = open_client(port, host, bind, timeout)
        self.client_port = self.sock.getsockname()[1]
        self.head, self.body, self.mode, self.shut = head, body, mode, shut
        self.label = label
        self.send_error = None
        self.data, self.end = b"", None
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._sender.start()
        self._receiver.start()

    def _send(self):
        try:
            if self.mode == "one":
                send_one(self.sock, self.head + self.body)
            else:
                send_many(self.sock, self.head, self.body)
            if self.shut:
                self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.send_error = e

    def _receive(self):
        data, end = b"", None
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    end = "eof"
                    break
                data += chunk
        except socket.timeout:
            end = "timeout"
        except OSError:
            end = "reset"
        self._sender.join(10)
        self.sock.close()
        self.data, self.end = data, end

    def sent(self):
        """True once everything is sent (and the write side shut, with `shut`)."""
        return not self._sender.is_alive()

    def ended(self):
        """True once the connection has ended (hamba closed or reset it)."""
        return not self._receiver.is_alive()

    def finish(self):
        self._receiver.join(30)
        return self.data, self.end

    def __repr__(self):
        size = len(self.head) + len(self.body)
        return (f"{self.label + ': ' if self.label else ''}{size} bytes in "
                f"{'one write' if self.mode == 'one' else 'many writes'} from port "
                f"{self.client_port}")


V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v1(source, source_port, destination, destination_port):
    """The PROXY v1 header for a TCP connection (IPv4 or IPv6 addresses as text)."""
    family = "TCP6" if ":" in source else "TCP4"
    return f"PROXY {family} {source} {destination} {source_port} {destination_port}\r\n".encode()


def proxy_v2(source, source_port, destination, destination_port):
    """The PROXY v2 header (PROXY command, TCP, no TLV) for a connection."""
    src, dst = ipaddress.ip_address(source), ipaddress.ip_address(destination)
    family = 0x11 if src.version == 4 else 0x21
    body = src.packed + dst.packed + struct.pack("!HH", source_port, destination_port)
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(body)) + body


def split_proxy_header(data):
    """A PROXY header (v1 or v2, as HAProxy's spec has them) at the start of `data`: (its fields,
    the bytes after it). The fields: version (1 or 2), family ("TCP4", "TCP6", "UNKNOWN" or
    "LOCAL"), source, destination (addresses as text) and source_port, destination_port. v2 TLVs
    are skipped. Raises AssertionError when `data` does not start with a whole, valid one."""
    if data.startswith(b"PROXY "):
        end = data.find(b"\r\n")
        if end < 0 or end > 105:
            raise AssertionError(f"no v1 header: {data[:120]!r}")
        words = data[:end].decode("ascii").split(" ")
        if words[1] == "UNKNOWN":
            return {"version": 1, "family": "UNKNOWN"}, data[end + 2:]
        if len(words) != 6 or words[1] not in ("TCP4", "TCP6"):
            raise AssertionError(f"malformed v1 header: {data[:end]!r}")
        for address in words[2:4]:
            ipaddress.ip_address(address)  # raises on a malformed one
        return {"version": 1, "family": words[1], "source": words[2], "destination": words[3],
                "source_port": int(words[4]), "destination_port": int(words[5])}, data[end + 2:]
    if not data.startswith(V2_SIGNATURE) or len(data) < 16:
        raise AssertionError(f"no PROXY header: {data[:40]!r}")
    version_command, family, length = data[12], data[13], int.from_bytes(data[14:16], "big")
    if version_command >> 4 != 2 or len(data) < 16 + length:
        raise AssertionError(f"malformed v2 header: {data[:16 + length]!r}")
    rest = data[16 + length:]
    if version_command & 0xF == 0:
        return {"version": 2, "family": "LOCAL"}, rest
    body = data[16:16 + length]
    if family == 0x11 and length >= 12:
        size, name = 4, "TCP4"
    elif family == 0x21 and length >= 36:
        size, name = 16, "TCP6"
    else:
        raise AssertionError(f"v2 header of family {family:#x}, length {length}")
    return {"version": 2, "family": name,
            "source": str(ipaddress.ip_address(body[:size])),
            "destination": str(ipaddress.ip_address(body[size:2 * size])),
            "source_port": int.from_bytes(body[2 * size:2 * size + 2], "big"),
            "destination_port": int.from_bytes(body[2 * size + 2:2 * size + 4], "big")}, rest


def python_client_hello(server_name):
    """The TLS ClientHello Python's ssl module sends for `server_name` (None: no name); nothing
    is connected."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()
