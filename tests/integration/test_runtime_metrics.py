"""The admin endpoints and the per-connection log agree with the traffic the test sent:

- ADMIN=ADDR:PORT (the original's variable) serves /, /metrics and /stats.json;
- after N connections with known payloads, connections and bytes (per frontend and per server)
  in /stats.json and /metrics equal what the clients sent and received;
- /metrics follows the Prometheus text format (HELP/TYPE before samples, counters end in _total),
  and docs/operations.md's list of metric names is every family it serves;
- the stats page shows every server and refreshes itself;
- HAMBA_LOG_CONNECTIONS=json writes one JSON line per connection with the same bytes;
- without ADMIN nothing but the frontend listens.
"""

import json
import os
import re
import unittest

from hamba_helpers import TaggedEcho, proc_sockets
from harness import (SOURCE_DIR, Hamba, bin_path, free_port, http_request, run, wait_port,
                     wait_until)
from runtime_support import exchange

N = 24
SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z_]+="(?:[^"\\]|\\.)*"(?:,[a-z_]+="(?:[^"\\]|\\.)*")*\})? '
                    r'(-?[0-9.e+]+)$')


def get(port, path, method="GET"):
    status, headers, body = http_request(port, method, path, timeout=10)
    return status, headers.get("content-type"), body.decode()


def parse_metrics(text):
    """{(name, labels-text): value}, checking the format on the way."""
    samples, declared = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            declared[name] = kind
            if kind == "counter":
                assert name.endswith("_total"), line
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample: {line!r}"
        assert m.group(1) in declared, f"sample before its TYPE: {line!r}"
        assert m.group(1).startswith("hamba_"), line
        samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples


def readme_metric_names():
    """The metric names docs/operations.md lists (its paragraph on /metrics)."""
    with open(os.path.join(SOURCE_DIR, "docs", "operations.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("Metric names (labels")
    end = text.index("## Per-connection log", start)
    return set(re.findall(r"`(hamba_[a-z_]+)", text[start:end]))


def log_lines(h):
    """The JSON connection log lines hamba wrote so far."""
    return [json.loads(line) for line in h.log().splitlines() if line.startswith('{"time"')]


def listening_ports(pid):
    """TCP ports the process `pid` listens on."""
    return {s["port"] for s in proc_sockets(pid) if s["proto"].startswith("tcp")
            and s["state"] == "0A"}


class MetricsTest(unittest.TestCase):
    def test_stats_agree_with_traffic(self):
        port, admin = free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, \
                Hamba("--check-interval", "1h", f"127.0.0.1:{port}", a.address(),
                      b.address(), ports=[port],
                      env={"ADMIN": f"127.0.0.1:{admin}",
                           "HAMBA_LOG_CONNECTIONS": "json"}) as h:
            wait_port(admin)

            def settled(at_least=0):
                s = json.loads(get(admin, "/stats.json")[2])
                f = s["frontends"][0]
                return s if f["current"] == 0 and f["total"] >= at_least else None

            # wait_port's probe was a connection too (which a worker may accept a moment after
            # the port answered): count from once it was accepted and closed.
            base = wait_until(lambda: settled(1), what="the probe connection closed")["frontends"][0]
            base_servers = {s["address"]: s for s in base["servers"]}
            base_log = len(log_lines(h))
            sent = received = 0
            for i in range(N):
                payload = bytes([i % 251]) * (1000 * i + 1)
                tag, intact = exchange(port, payload)
                self.assertTrue(intact)
                sent += len(payload)
                received += len(tag) + 1 + len(payload)

            stats = wait_until(settled, what="every session closed")
            f = stats["frontends"][0]
            self.assertEqual(f["name"], str(port))
            self.assertEqual(f["total"] - base["total"], N)
            self.assertEqual(f["bytes_in"] - base["bytes_in"], sent)
            self.assertEqual(f["bytes_out"] - base["bytes_out"], received)
            self.assertEqual(f["errors"], 0)
            servers = {s["address"]: s for s in f["servers"]}
            self.assertEqual(set(servers), {a.address(), b.address()})
            for backend in (a, b):  # `served`: connections that carried data (not checks/probe)
                addr = backend.address()
                self.assertEqual(servers[addr]["total"] - base_servers[addr]["total"],
                                 backend.served)
            self.assertEqual(a.served + b.served, N)
            self.assertEqual(sum(s["bytes_in"] for s in f["servers"]), f["bytes_in"])
            self.assertEqual(sum(s["bytes_out"] for s in f["servers"]), f["bytes_out"])
            self.assertEqual(sum(s["bytes_in"] for s in base_servers.values()), base["bytes_in"])
            self.assertTrue(all(s["status"] == "up" for s in f["servers"]))

            status, ctype, text = get(admin, "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
            m = parse_metrics(text)
            self.assertEqual(readme_metric_names(), {name for name, _ in m})
            fl = f'{{frontend="{port}"}}'
            self.assertEqual(m[("hamba_frontend_connections_total", fl)], f["total"])
            self.assertEqual(m[("hamba_frontend_bytes_in_total", fl)], f["bytes_in"])
            self.assertEqual(m[("hamba_frontend_bytes_out_total", fl)], f["bytes_out"])
            self.assertEqual(m[("hamba_frontend_current_connections", fl)], 0)
            for backend in (a, b):
                sl = (f'{{frontend="{port}",server="{backend.address()}",'
                      f'address="{backend.address()}"}}')
                self.assertEqual(m[("hamba_server_connections_total", sl)],
                                 servers[backend.address()]["total"])
                self.assertEqual(m[("hamba_server_up", sl)], 1)
                self.assertEqual(m[("hamba_server_bytes_in_total", sl)],
                                 servers[backend.address()]["bytes_in"])

            status, ctype, page = get(admin, "/")
            self.assertEqual(status, 200)
            self.assertTrue(ctype.startswith("text/html"))
            self.assertIn('http-equiv="refresh"', page)
            self.assertIn(a.address(), page)
            self.assertIn(b.address(), page)
            self.assertIn(">up<", page)

            self.assertEqual(get(admin, "/nothing")[0], 404)
            self.assertEqual(get(admin, "/metrics", method="POST")[0], 405)

            lines = log_lines(h)[base_log:]
            self.assertEqual(len(lines), N)
            self.assertEqual(sum(r["bytes_in"] for r in lines), sent)
            self.assertEqual(sum(r["bytes_out"] for r in lines), received)
            self.assertTrue(all(r["end"] == "closed" for r in lines), lines)
            self.assertTrue(all(r["address"] in (a.address(), b.address()) for r in lines))
            self.assertTrue(all(r["client"].startswith("127.0.0.1:") for r in lines))
            self.assertTrue(all(r["frontend"] == str(port) for r in lines))

    def test_text_connection_log_and_bad_format(self):
        port = free_port()
        with TaggedEcho("a") as a, \
                Hamba("--log-connections", "text", f"127.0.0.1:{port}", a.address(),
                      ports=[port]) as h:
            self.assertEqual(exchange(port, b"z" * 5000), ("a", True))
            pattern = (rf"conn frontend={port} client=127\.0\.0\.1:\d+ server={a.address()} "
                       rf"address={a.address()} bytes_in=5000 bytes_out=5002 duration_ms=\d+ "
                       rf"end=closed")
            wait_until(lambda: re.search(pattern, h.log()), what="the connection's log line")
        r = run([bin_path("hamba"), "--log-connections", "xml", "80", "a:1"])
        self.assertEqual(r.returncode, 2)
        self.assertIn('"xml"', r.stderr)

    def test_nothing_served_unless_asked(self):
        port = free_port()
        with TaggedEcho("a") as a, \
                Hamba(f"127.0.0.1:{port}", a.address(), ports=[port],
                      env={"ADMIN": "", "HAMBA_ADMIN": ""}) as h:
            self.assertEqual(listening_ports(h.pid), {port})
            self.assertNotIn("admin", h.log())
            self.assertNotIn('{"time"', h.log())  # no connection log either
            exchange(port, b"x")
            self.assertNotIn('{"time"', h.log())


if __name__ == "__main__":
    unittest.main()
