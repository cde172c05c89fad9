"""Passive and application health through real sockets: failed connects and resets before the
first byte take a server DOWN at once (observe), it comes back after retry_after when checks are
off; an http check finds an nginx that answers 500 on the check path DOWN while its port still
accepts, and a redis check passes on a real redis-server and fails on one that is loading.
Turning checks off by a reconfigure brings a server they had taken DOWN back."""

import os
import shutil
import socket
import struct
import tempfile
import unittest

from hamba_helpers import Backend, TagServer, TaggedEcho, greeting, stats_json
from harness import (Hamba, Process, assert_stops_cleanly, free_port, hamba_command,
                     http_request, read_all, start_redis, wait_port, wait_until, write_file)


def fetch(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            return read_all(c).decode()
    except ConnectionResetError:
        return "reset"


def server_stats(admin, address):
    for f in stats_json(admin)["frontends"]:
        for s in f["servers"]:
            if s["address"] == address:
                return s
    raise AssertionError(f"no server {address} in the stats")


def reset_at_once(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx.err warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{sick};
        location /health {{ return 500 "sick\\n"; }}
        location / {{ return 200 "sick-server\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{well};
        location /health {{ return 200 "ok\\n"; }}
        location / {{ return 200 "well-server\\n"; }}
    }}
}}
"""


class Passive(unittest.TestCase):
    def test_failed_connects_mark_down_at_once_and_retry_after_brings_it_back(self):
        port, admin, dead = free_port(), free_port(), free_port()
        with TagServer("a") as a:
            with Hamba(config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    check: false
    observe: {{failures: 3}}
    retry_after: 1s
    servers: ["127.0.0.1:{dead}", "{a.address()}"]
""", ports=[port, admin]) as hamba:
                for _ in range(8):  # the failed connects are retried on "a": clients see no error
                    self.assertEqual(fetch(port), "a", hamba.log())
                wait_until(lambda: "is DOWN: 3 failed connects" in hamba.log(), timeout=5,
                           what="DOWN by traffic logged")
                s = server_stats(admin, f"127.0.0.1:{dead}")
                self.assertFalse(s["up"])
                self.assertEqual(s["traffic_failures"], 3)
                self.assertIn("ECONNREFUSED", s["down_reason"])
                status, _, metrics = http_request(admin, "GET", "/metrics")
                self.assertIn(f'hamba_server_up{{frontend="{port}",server="127.0.0.1:{dead}",'
                              f'address="127.0.0.1:{dead}"}} 0', metrics.decode())
                # Checks are off: after retry_after it is tried again, and now it answers.
                with Backend(lambda c: c.sendall(b"back"), port=dead):
                    wait_until(lambda: "UP again to be tried" in hamba.log(), timeout=10,
                               what="retry after 1s")
                    got = {fetch(port) for _ in range(6)}
                    self.assertEqual(got, {"a", "back"}, hamba.log())
                assert_stops_cleanly(self, hamba)

    def test_resets_before_the_first_byte_mark_down_active_check_brings_back(self):
        port, admin = free_port(), free_port()
        with TagServer("a") as a, Backend(reset_at_once) as rst:
            # Checks on, but rarely: the traffic, not the check, must find it.
            with Hamba(config=f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    check: {{interval: 1h}}
    servers: ["{rst.address()}", "{a.address()}"]
""", ports=[port, admin]) as hamba:
                # How many clients meet a reset first depends on when the main loop takes the
                # workers' reports (under load, after a few more connections): fetch until it has.
                seen = []
                for _ in range(100):
                    seen.append(fetch(port))
                    if f"{rst.address()} is DOWN" in hamba.log():
                        break
                # The reset comes before the first byte, or (under load) already with the
                # connect: both are the server's failures.
                wait_until(lambda: f"{rst.address()} is DOWN: 3 failed connects or early resets"
                           in hamba.log(), timeout=5, what="DOWN by resets")
                self.assertFalse(server_stats(admin, rst.address())["up"])
                # The stats say DOWN only once the workers were handed a view without it: from
                # the next client on, none meets the resetting server.
                after = [fetch(port) for _ in range(8)]
                self.assertEqual(after, ["a"] * 8, (seen, after))
                reason = server_stats(admin, rst.address())["down_reason"]
                self.assertTrue("reset before its first byte" in reason or "ECONNRESET" in reason,
                                reason)
                self.assertIn("back when its health check passes", hamba.log())
                self.assertFalse(server_stats(admin, rst.address())["up"])
                assert_stops_cleanly(self, hamba)

    def test_observe_off_and_bad_input(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as d:
            for text, word in (("slowstart: -1s", "-1s"), ("check: {type: grpc}", "grpc"),
                               ("check: {type: http, path: health}", "health"),
                               ("observe: {failures: -1}", "-1")):
                path = write_file(os.path.join(d, "hamba.yaml"),
                                  f'frontends:\n  - bind: "127.0.0.1:{port}"\n'
                                  f'    {text}\n    servers: ["127.0.0.1:1"]\n')
                r = hamba_command("debugconfig", "--config", path)
                self.assertEqual(r.returncode, 2, (text, r.stderr))
                self.assertIn(f"{path}:3:", r.stderr, text)
                self.assertIn(word, r.stderr, text)
        for word in ("http:health", "grpc"):
            r = hamba_command("debugconfig", "--check", word, str(port), "127.0.0.1:1")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(word, r.stderr)
        r = hamba_command("debugconfig", "--check", "http:/health", str(port), "127.0.0.1:1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('path: "/health"', r.stdout)
        self.assertIn("observe: {failures: 3}", r.stdout)
        r = hamba_command("debugconfig", str(port), "127.0.0.1:1", env={"HAMBA_CHECK": "redis"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("type: redis", r.stdout)
        r = hamba_command("debugconfig", str(port), "127.0.0.1:1",
                          env={"HAMBA_CHECK": "http:nope"})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("HAMBA_CHECK", r.stderr)


class ApplicationChecks(unittest.TestCase):
    def test_http_check_marks_nginx_answering_500_down(self):
        if not shutil.which("nginx"):
            raise unittest.SkipTest("nginx not installed")
        sick, well, port, admin = free_port(), free_port(), free_port(), free_port()
        work = tempfile.mkdtemp(prefix="hamba-nginx-")
        try:
            conf = os.path.join(work, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(dir=work, sick=sick, well=well))
            with Process(["nginx", "-p", work, "-e", f"{work}/nginx.err", "-c", conf]) as nginx:
                wait_port(sick)
                wait_port(well)
                with Hamba("--check", "http:/health", "--check-interval", "200ms",
                           "--admin", f"127.0.0.1:{admin}", str(port),
                           f"127.0.0.1:{sick}", f"127.0.0.1:{well}",
                           ports=[port, admin]) as hamba:
                    wait_until(lambda: "is DOWN: http 500" in hamba.log(), timeout=10,
                               what="the sick nginx DOWN by its http check")
                    s = server_stats(admin, f"127.0.0.1:{sick}")
                    self.assertFalse(s["up"])
                    self.assertEqual(s["last_check"], "http 500")
                    self.assertEqual(s["check_type"], "http")
                    self.assertTrue(server_stats(admin, f"127.0.0.1:{well}")["up"])
                    # Its port still accepts, yet no client is sent there.
                    socket.create_connection(("127.0.0.1", sick), timeout=5).close()
                    for _ in range(6):
                        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                            self.assertIn(b"well-server", read_all(c))
                    assert_stops_cleanly(self, hamba)
                self.assertTrue(nginx.running())
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_redis_check_passes_on_redis_fails_on_loading(self):
        redis, rport = start_redis()
        loading = Backend(lambda c: (c.recv(64), c.sendall(
            b"-LOADING Redis is loading the dataset in memory\r\n")))
        port, admin = free_port(), free_port()
        with redis, loading:
            with Hamba("--check", "redis", "--admin", f"127.0.0.1:{admin}",
                       "--check-interval", "200ms",
                       str(port), f"127.0.0.1:{rport}", loading.address(),
                       ports=[port, admin]) as hamba:
                wait_until(lambda: "is DOWN: redis -LOADING" in hamba.log(), timeout=10,
                           what="the loading redis DOWN")
                wait_until(lambda: server_stats(admin, f"127.0.0.1:{rport}")["last_check"] == "ok",
                           timeout=10, what="redis-server passes")
                self.assertTrue(server_stats(admin, f"127.0.0.1:{rport}")["up"])
                self.assertEqual(server_stats(admin, f"127.0.0.1:{rport}")["check_type"], "redis")
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    c.sendall(b"PING\r\n")
                    self.assertEqual(c.recv(64), b"+PONG\r\n")
                assert_stops_cleanly(self, hamba)


class ChecksTurnedOff(unittest.TestCase):
    """Turning health checks off by a reconfigure brings a server that checks had taken DOWN
    back into the rotation: with nothing checking it, DOWN would be for good."""

    def test_down_server_comes_back_when_checks_are_turned_off(self):
        port, s2_port = free_port(), free_port()

        def config(check):
            return (f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: {check}\n'
                    f'    servers: ["{s1.address()}", "127.0.0.1:{s2_port}"]\n')

        with TaggedEcho("s1") as s1:
            # fall 1: one refused check is DOWN; rise 1000: it would stay DOWN.
            with Hamba(config=config("{interval: 200ms, timeout: 1s, rise: 1000, fall: 1}"),
                       ports=[port]) as hamba:
                wait_until(lambda: f"127.0.0.1:{s2_port} is DOWN" in hamba.log(), what="s2 DOWN")
                with TaggedEcho("s2", port=s2_port):
                    self.assertEqual({greeting(port) for _ in range(4)}, {b"s1\n"})
                    hamba.write_config(config("false"))
                    r = hamba.ctl("reconfigure", "--config", hamba.config)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    seen = {greeting(port) for _ in range(4)}  # round robin: both
                    self.assertEqual(seen, {b"s1\n", b"s2\n"}, hamba.log())
                    assert_stops_cleanly(self, hamba)


if __name__ == "__main__":
    unittest.main()
