"""Per-source limits (per_source) with real sockets from many loopback sources (127.0.0.2 ...):

- A flood of 10 000 connections from one source with maxconn 10: exactly 10 are open at once,
  the rest are reset unread, and another source's requests all succeed; its p99 latency during
  the flood is printed beside the same client's without it (a figure, not an assertion).
- The rate holds across the workers: one source's burst gets `rate` connections per window.
- tarpit holds a connection over the limit and closes it with a FIN, not a reset.
- With accept_proxy, the limits count the address the header carries, not the sender; over a
  limit with tarpit, that connection is held too (header and body in one segment, and in many).
- 100 000 distinct sources fill the table to its bound (table_size) with none untracked, and the
  table's memory is what it states; with sources beyond its bound, the least recently seen go
  first.
"""

import json
import os
import re
import socket
import threading
import time
import unittest

from hamba_helpers import Backend, rss_kib, stats_json
from harness import Hamba, assert_stops_cleanly, free_port, http_request, wait_until
from slow_path import proxy_v1, send_many, send_one

FLOOD_SOURCE, GOOD_SOURCE = "127.0.0.2", "127.0.0.3"


def echo(conn):
    """Echoes until the client leaves."""
    conn.settimeout(60)
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                return
            conn.sendall(data)
    except OSError:
        return


class CloseAll:
    """A server that closes every connection at once (no thread per connection: thousands of
    clients pass without piling up)."""

    def __enter__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            c.close()

    def __exit__(self, *exc):
        self.listener.close()


def connect_once(test, port, sources, seconds, admin=None):
    """One connection from each of `sources`, closed at once with a reset (hamba has admitted
    it at accept all the same), within `seconds`. With `admin`, paced: every 32, until hamba
    has none open, so that a slow hamba never holds many open at once (4 open in one bucket
    of the table would leave a newcomer there untracked)."""
    deadline = time.monotonic() + seconds
    for i, source in enumerate(sources):
        test.assertLess(time.monotonic(), deadline, f"only {i} sources in {seconds} s")
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
        if admin and i % 32 == 31:
            wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == 0,
                       timeout=max(1, deadline - time.monotonic()), what="every session ended")


def denied(admin_port):
    status, _, body = http_request(admin_port, "GET", "/metrics")
    assert status == 200
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^hamba_frontend_denied_connections_total\{[^}]*reason="(\w+)"\} (\d+)$',
        body.decode(), re.M)}


def open_client(port, source, payload=b"x", timeout=10):
    """A connection from `source` that sent `payload`: (socket, "served") once the echo came
    back, or (None, "reset") / (None, "eof")."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(payload)
        data = s.recv(len(payload))
    except (ConnectionResetError, BrokenPipeError):
        s.close()
        return None, "reset"
    if not data:
        s.close()
        return None, "eof"
    return s, "served"


def request_latencies(port, source, count, stop=None):
    """`count` one-connection request/responses from `source`: their latencies (s)."""
    out = []
    for _ in range(count):
        if stop is not None and stop.is_set():
            break
        t0 = time.perf_counter()
        s, how = open_client(port, source, b"ping")
        assert how == "served", how
        s.close()
        out.append(time.perf_counter() - t0)
    return out


def p99(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def frontend_config(port, admin, server_port, per_source, extra=""):
    return (f'admin: "127.0.0.1:{admin}"\nfrontends:\n  - bind: "127.0.0.1:{port}"\n'
            f'    servers: ["127.0.0.1:{server_port}"]\n    check: false\n'
            f'    per_source: {per_source}\n{extra}')


class PerSource(unittest.TestCase):
    def test_flood_from_one_source_leaves_the_others_served(self):
        with Backend(echo) as server:
            port, admin = free_port(), free_port()
            config = frontend_config(port, admin, server.port, "{maxconn: 10}")
            with Hamba(config=config, ports=[port]) as h:
                quiet = request_latencies(port, GOOD_SOURCE, 300)
                held, outcomes = [], {"served": 0, "reset": 0, "eof": 0}
                stop = threading.Event()
                during = []
                good = threading.Thread(
                    target=lambda: during.extend(request_latencies(port, GOOD_SOURCE, 300, stop)))
                good.start()
                try:
                    flood_started = time.monotonic()
                    for _ in range(10000):
                        s, how = open_client(port, FLOOD_SOURCE)
                        outcomes[how] += 1
                        if s:
                            held.append(s)
                    good.join(timeout=120)
                finally:
                    stop.set()
                    good.join()
                self.assertEqual(outcomes["served"], 10, outcomes)
                self.assertEqual(outcomes["reset"], 9990, outcomes)
                self.assertEqual(len(during), 300)  # every request of the other source served
                wait_until(lambda: denied(admin).get("source_maxconn") == 9990,
                           what="9990 refusals counted")
                top = stats_json(admin)["frontends"][0]["per_source"]["top_by_current"]
                self.assertEqual(top[0], {"source": FLOOD_SOURCE, "current": 10, "in_window": 0})
                status, _, page = http_request(admin, "GET", "/")
                self.assertEqual(status, 200)
                self.assertIn(f"most connections: {FLOOD_SOURCE} <b>10</b>", page.decode())
                self.assertIn("refused: source maxconn <b>9990</b>", page.decode())
                print(f"well-behaved client p99: {p99(quiet) * 1000:.2f} ms alone, "
                      f"{p99(during) * 1000:.2f} ms during a 10 000-connection flood "
                      f"from another source")
                # The flood's connections end: the source gets its places back.
                for s in held:
                    s.close()
                wait_until(lambda: open_client(port, FLOOD_SOURCE)[1] == "served",
                           what="the flooding source served again")
                # One line per source per 10 s (a loaded machine can stretch the flood past
                # 10 s), not one per refusal.
                flood_seconds = time.monotonic() - flood_started
                lines = h.log().count(f"refused client {FLOOD_SOURCE}")
                self.assertGreaterEqual(lines, 1)
                self.assertLessEqual(lines, 1 + int(flood_seconds // 10), h.log()[-2000:])
                assert_stops_cleanly(self, h)

    def test_rate_holds_across_workers(self):
        with Backend(echo) as server:
            port, admin = free_port(), free_port()
            # A long window: the burst below falls in one window, or at worst straddles two.
            config = frontend_config(port, admin, server.port, '{rate: "20/60s"}')
            with Hamba(config=config, ports=[port]) as h:
                outcomes = {"served": 0, "reset": 0, "eof": 0}
                for _ in range(100):
                    s, how = open_client(port, FLOOD_SOURCE)
                    outcomes[how] += 1
                    if s:
                        s.close()
                self.assertIn(outcomes["served"], (20, 40), outcomes)
                self.assertEqual(outcomes["reset"], 100 - outcomes["served"], outcomes)
                wait_until(lambda: denied(admin).get("source_rate") == outcomes["reset"],
                           what="the rate refusals counted")
                # The admitted ones were spread over the workers (SO_REUSEPORT hashes each
                # connection's ports): the limit is the table's, not one worker's.
                stats = stats_json(admin)
                if os.environ.get("HAMBA_THREADS") == "2":
                    accepted = [w["accepted"] for w in stats["workers"]]
                    self.assertTrue(all(a > 0 for a in accepted), accepted)
                self.assertEqual(stats["frontends"][0]["per_source"]["top_by_rate"][0]["source"],
                                 FLOOD_SOURCE)
                # Another source has its own window.
                self.assertEqual(open_client(port, GOOD_SOURCE)[1], "served")
                assert_stops_cleanly(self, h)

    def test_tarpit_holds_then_closes(self):
        with Backend(echo) as server:
            port, admin = free_port(), free_port()
            config = frontend_config(port, admin, server.port,
                                     "{maxconn: 1, action: tarpit, tarpit_delay: 5s}")
            with Hamba(config=config, ports=[port]) as h:
                first, how = open_client(port, FLOOD_SOURCE)
                self.assertEqual(how, "served")
                # Over the limit: held open, unread (a refusal would have reset it at once) ...
                with socket.socket() as s:
                    s.bind((FLOOD_SOURCE, 0))
                    s.connect(("127.0.0.1", port))
                    s.sendall(b"x")
                    s.settimeout(0.2)
                    with self.assertRaises(socket.timeout):
                        s.recv(1)
                    wait_until(lambda: denied(admin).get("source_maxconn") == 1,
                               what="the refusal counted")
                    # ... then closed (a reset: the kernel resets a socket closed unread).
                    s.settimeout(30)
                    try:
                        self.assertEqual(s.recv(1), b"")
                    except ConnectionResetError:
                        pass
                first.close()
                assert_stops_cleanly(self, h)

    def test_limits_count_the_address_a_proxy_header_carries(self):
        with Backend(echo) as server:
            port, admin = free_port(), free_port()
            config = frontend_config(port, admin, server.port, "{maxconn: 1}",
                                     '    accept_proxy: {from: ["127.0.0.2/32"]}\n')
            with Hamba(config=config) as h:
                wait_until(lambda: h.ctl("status").returncode == 0, what="hamba up")
                a, how = open_client(port, "127.0.0.2",
                                     proxy_v1("10.5.5.5", 1000, "127.0.0.1", port) + b"x")
                self.assertEqual(how, "served")
                # Same carried client, same sender: over its maxconn.
                self.assertEqual(open_client(port, "127.0.0.2", proxy_v1(
                    "10.5.5.5", 1001, "127.0.0.1", port) + b"x")[1], "reset")
                # Another carried client through the same sender: its own count.
                b, how = open_client(port, "127.0.0.2",
                                     proxy_v1("10.6.6.6", 1000, "127.0.0.1", port) + b"x")
                self.assertEqual(how, "served")
                self.assertIn("refused client 10.5.5.5: over per_source maxconn", h.log())
                a.close()
                b.close()
                assert_stops_cleanly(self, h)

    def test_tarpit_holds_a_client_over_its_limit_after_its_proxy_header(self):
        """The header's client is over its maxconn once its header is read: the connection is
        held like one refused at accept (neither reset nor answered), then closed."""
        with Backend(echo) as server:
            port, admin = free_port(), free_port()
            config = frontend_config(port, admin, server.port,
                                     "{maxconn: 1, action: tarpit, tarpit_delay: 2s}",
                                     '    accept_proxy: {from: ["127.0.0.2/32"]}\n')
            with Hamba(config=config) as h:
                wait_until(lambda: h.ctl("status").returncode == 0, what="hamba up")
                first, how = open_client(port, "127.0.0.2",
                                         proxy_v1("10.5.5.5", 1000, "127.0.0.1", port) + b"x")
                self.assertEqual(how, "served")
                for n, send in enumerate((send_one, lambda s, data: send_many(s, b"", data)), 1):
                    with self.subTest(segments="one" if n == 1 else "many"):
                        with socket.socket() as s:
                            s.bind(("127.0.0.2", 0))
                            s.settimeout(10)
                            s.connect(("127.0.0.1", port))
                            send(s, proxy_v1("10.5.5.5", 1000 + n, "127.0.0.1", port) + b"body")
                            wait_until(lambda: denied(admin).get("source_maxconn") == n,
                                       what="the refusal counted")
                            # Held: a reset (reject's answer) or a close would be here by now.
                            s.settimeout(0.5)
                            with self.assertRaises(socket.timeout):
                                s.recv(1)
                            # ... then closed (a reset when bytes were left unread).
                            s.settimeout(30)
                            try:
                                self.assertEqual(s.recv(1), b"")
                            except ConnectionResetError:
                                pass
                self.assertIn("refused client 10.5.5.5: over per_source maxconn", h.log())
                self.assertEqual(stats_json(admin)["frontends"][0]["current"], 1)
                first.close()
                assert_stops_cleanly(self, h)

    def test_the_least_recently_seen_sources_go_first(self):
        """4 096 sources through a table of 2 048, with a rate of 1 a day: a source the table
        still holds is refused its second connection, one it forgot is served. The table keeps
        the most recent: nearly all of the last 256 are refused (each has had about 0.25 newer
        sources in its bucket of 4; 4 would evict it), and most of the first 512 (about 7) are
        served again (94 % expected, 83 % required)."""
        with CloseAll() as server:
            port, admin = free_port(), free_port()
            config = frontend_config(port, admin, server.port,
                                     '{rate: "1/24h", table_size: 2048}')
            first = int.from_bytes(socket.inet_aton("127.2.0.0"), "big")

            def source(i):
                return socket.inet_ntoa((first + i).to_bytes(4, "big"))
            with Hamba(config=config, ports=[port]):
                connect_once(self, port, [source(i) for i in range(4096)], 120, admin)
                wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == 0,
                           timeout=60, what="every session ended")
                self.assertEqual(denied(admin).get("source_rate", 0), 0)
                # The newest first: a refused probe changes nothing, a served one evicts. (A
                # probe's reset does not tell: the server resets the ones served, unread.)
                connect_once(self, port, [source(i) for i in range(4096 - 256, 4096)], 60, admin)
                wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == 0,
                           timeout=60, what="the probes ended")
                recent = denied(admin).get("source_rate", 0)
                connect_once(self, port, [source(i) for i in range(512)], 60, admin)
                wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == 0,
                           timeout=60, what="the probes ended")
                oldest = denied(admin).get("source_rate", 0) - recent
                table = stats_json(admin)["frontends"][0]["per_source"]
                print(f"of the last 256 sources, {recent} still tracked; of the first 512, "
                      f"{512 - oldest} forgotten; table: {table['used']} of {table['slots']} "
                      f"slots used, {table['untracked']} untracked")
                # (A few may be lost: a source whose reset beat hamba's accept may never have
                # been admitted by its address; 251 of 256 is the fewest seen. A table that
                # forgets its first idle slot instead of its least recently seen kept 70 %.)
                self.assertGreaterEqual(recent, 240)
                self.assertLessEqual(oldest, 512 - 425)
                self.assertLessEqual(table["untracked"], 2)

    def test_table_bound_and_memory_with_100000_sources(self):
        """100 000 distinct sources (127.1.0.0 onwards), each connecting once: the table fills
        to its bound and no further, with no source untracked (a bucket's idle sources give way
        to newcomers); its memory (a mapping of its own: 32 bytes a source) stays within the
        stated size. Under a sanitizer (whose allocator and speed change every figure) 20 000
        sources fill a table of 16 384, and only the bound is checked."""
        sanitized = os.environ.get("HAMBA_SANITIZE", "OFF") not in ("", "OFF")
        count, table_size = (20000, 16384) if sanitized else (100000, 100000)
        first = int.from_bytes(socket.inet_aton("127.1.0.0"), "big")
        def table_mapping_kib(pid, stated):
            """Size and Rss (KiB) of the table's own mapping (calloc maps a block this large by
            itself: its size rounded up to a page), or None if the allocator put it elsewhere."""
            size = None
            with open(f"/proc/{pid}/smaps") as f:
                for line in f:
                    if line.startswith("Size:"):
                        size = int(line.split()[1])
                    elif line.startswith("Rss:") and stated // 1024 <= size <= stated // 1024 + 8:
                        return size, int(line.split()[1])
            return None

        def load(per_source):
            """RSS growth (KiB) of a hamba taking the sources, its table's stats and mapping."""
            port, admin = free_port(), free_port()
            extra = f"    per_source: {per_source}\n" if per_source else ""
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n  - bind: "127.0.0.1:{port}"\n'
                      f'    servers: ["127.0.0.1:{server.port}"]\n'
                      f'    check: false\n{extra}')
            with Hamba(config=config, ports=[port]) as h:
                before = rss_kib(h.pid)
                connect_once(self, port, (socket.inet_ntoa((first + i).to_bytes(4, "big"))
                                          for i in range(count)), 400)
                wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == 0,
                           timeout=60, what="every session ended")
                grown = rss_kib(h.pid) - before
                table = stats_json(admin)["frontends"][0].get("per_source")
                mapping = table_mapping_kib(h.pid, table["bytes"]) if table else None
                self.assertEqual(denied(admin).get("source_maxconn", 0), 0)
                assert_stops_cleanly(self, h)
                return grown, table, mapping

        with CloseAll() as server:
            grown, table, mapping = load(f"{{maxconn: 5, table_size: {table_size}}}")
        slots = -(-table_size // 4) * 4  # whole buckets of 4
        self.assertEqual(table["slots"], slots)
        print(f"{count} sources: {table['used']} slots used of {table['slots']}, "
              f"{table['untracked']} untracked; table {table['bytes'] // 1024} KiB stated, "
              f"its mapping {mapping and mapping[1]} KiB resident; hamba's RSS +{grown} KiB")
        # Each source took a free slot of its bucket or an idle source's: (nearly) none went
        # untracked (only when hamba, falling behind, held 4 of a bucket's sources open at once:
        # 0 with 2 workers, 11 seen with one on a loaded machine), and the table holds no more
        # than its slots. Sources spread over the buckets unevenly (4 a bucket on average):
        # about 80 % of the slots are used.
        self.assertLessEqual(table["used"], table["slots"])
        self.assertGreater(table["used"], slots * 7 // 10)
        if sanitized:
            # A sanitized hamba falls far behind its 400 clients, so buckets fill with open
            # connections and newcomers go untracked by design (851 of 20 000 under TSan).
            return
        self.assertLessEqual(table["untracked"], count // 100)
        # The table's own mapping holds what it states. hamba's RSS as a whole is no measure:
        # after 100 000 connections the allocator keeps from several to 13 MiB, with or without
        # the table (a loaded CI run saw 14 MiB against 11 allowed).
        self.assertIsNotNone(mapping, "the table's mapping")
        self.assertLessEqual(mapping[1], table["bytes"] // 1024 + 4)

if __name__ == "__main__":
    unittest.main()
