"""Allow and deny lists with real sockets from many sources: loopback is a /8, so clients bound to
127.0.0.2 ... 127.0.3.254 (and ::1) are different sources to hamba.

- A refused client is reset before hamba reads a byte (its recv fails with ECONNRESET, the server
  never sees it), counted in hamba_frontend_denied_connections_total{reason}, and logged once per
  source per 10 s however often it tries.
- allow, deny (deny wins), IPv6 and v4-mapped clients of a dual-stack socket.
- allow_file and deny_file are read again on SIGHUP; a bad file at a reload leaves the running
  lists in place, a bad file or CIDR at start is one line and exit 2.
"""

import ipaddress
import os
import re
import shutil
import signal
import socket
import tempfile
import unittest

from hamba_helpers import TagServer
from harness import (Hamba, assert_stops_cleanly, free_port, hamba_command, http_request,
                     wait_until, write_file)


def source_addresses(first="127.0.0.2", last="127.0.3.254", step=1):
    a, b = int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))
    return [str(ipaddress.ip_address(n)) for n in range(a, b + 1, step)
            if not str(ipaddress.ip_address(n)).endswith((".0", ".255"))]


def outcome(port, source, host="127.0.0.1", payload=b""):
    """What a client bound to `source` gets from the frontend: the server's tag, "reset" (refused:
    reset before anything came), or "eof" (closed with nothing)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(10)
        s.bind((source, 0))
        try:
            # On loopback the reset may come before connect() returns.
            s.connect((host, port))
            if payload:
                s.sendall(payload)
            data = s.recv(64)
        except ConnectionResetError:
            return "reset"
        return data.decode() if data else "eof"


def denied(admin_port):
    """hamba_frontend_denied_connections_total by reason (summed over frontends)."""
    status, _, body = http_request(admin_port, "GET", "/metrics")
    assert status == 200
    counts = {}
    for m in re.finditer(r'^hamba_frontend_denied_connections_total\{[^}]*reason="(\w+)"\} (\d+)$',
                         body.decode(), re.M):
        counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
    return counts


class AllowDeny(unittest.TestCase):
    def test_many_sources_allow_and_deny(self):
        """Across 127.0.0.2-127.0.3.254 (every 3rd address: about 250 sources), exactly the
        allowed and not denied ones are served; every other one is reset unread."""
        with TagServer("a") as a:
            port, admin = free_port(), free_port()
            # No health check: every connection the server accepts is a client's.
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n  - bind: "127.0.0.1:{port}"\n'
                      f'    servers: ["127.0.0.1:{a.port}"]\n    check: false\n'
                      '    allow: ["127.0.1.0/24", "127.0.0.1"]\n    deny: ["127.0.1.128/26"]\n')
            with Hamba(config=config, ports=[port]) as h:
                served_before = a.accepted
                expect = {"a": 0, "reset": 0}
                for source in source_addresses(step=3):
                    n = ipaddress.ip_address(source)
                    allowed = n in ipaddress.ip_network("127.0.1.0/24")
                    deny = n in ipaddress.ip_network("127.0.1.128/26")
                    want = "a" if allowed and not deny else "reset"
                    self.assertEqual(outcome(port, source), want, source)
                    expect[want] += 1
                wait_until(lambda: a.accepted - served_before >= expect["a"],
                           what="the allowed clients at the server")
                # Refused clients never reached the server: only the allowed ones (and the
                # readiness probe, from 127.0.0.1) did.
                self.assertLessEqual(a.accepted - served_before, expect["a"] + 1)
                counts = denied(admin)
                deny_total = sum(1 for s in source_addresses(step=3)
                                 if ipaddress.ip_address(s) in ipaddress.ip_network("127.0.1.128/26"))
                self.assertEqual(counts.get("deny_list"), deny_total, counts)
                self.assertEqual(counts.get("not_allowed"), expect["reset"] - deny_total, counts)
                self.assertEqual(counts.get("untrusted_proxy"), 0)
                assert_stops_cleanly(self, h)

    def test_refusals_logged_once_per_source(self):
        with TagServer("a") as a:
            port, admin = free_port(), free_port()
            with Hamba("--admin", f"127.0.0.1:{admin}", "--deny", "127.0.0.7",
                       "--deny", "127.0.0.8", port, f"127.0.0.1:{a.port}", ports=[port]) as h:
                for _ in range(20):
                    self.assertEqual(outcome(port, "127.0.0.7"), "reset")
                self.assertEqual(outcome(port, "127.0.0.8"), "reset")
                self.assertEqual(outcome(port, "127.0.0.9"), "a")
                wait_until(lambda: denied(admin).get("deny_list") == 21, what="21 refusals")
                log = h.log()
                self.assertEqual(log.count("refused client 127.0.0.7: in the deny list"), 1, log)
                self.assertEqual(log.count("refused client 127.0.0.8: in the deny list"), 1, log)
                assert_stops_cleanly(self, h)

    def test_ipv6_and_v4_mapped_on_a_dual_stack_socket(self):
        """An empty host binds [::] (dual stack): IPv4 clients arrive as ::ffff:a.b.c.d, and
        the IPv4 CIDRs still match them; ::1 is matched by an IPv6 CIDR."""
        try:
            socket.socket(socket.AF_INET6).close()
        except OSError:
            raise unittest.SkipTest("no IPv6")
        with TagServer("a") as a:
            port = free_port()
            config = (f'frontends:\n  - bind: ":{port}"\n    servers: ["127.0.0.1:{a.port}"]\n'
                      '    allow: ["127.0.0.0/30", "::ffff:127.0.0.4/128", "::1"]\n'
                      '    deny: ["127.0.0.3"]\n')
            with Hamba(config=config, ports=[port]) as h:
                self.assertEqual(outcome(port, "127.0.0.2"), "a")
                self.assertEqual(outcome(port, "127.0.0.3"), "reset")  # denied
                self.assertEqual(outcome(port, "127.0.0.4"), "a")  # v4-mapped, written as such
                self.assertEqual(outcome(port, "127.0.0.5"), "reset")  # not allowed
                self.assertEqual(outcome(port, "::1", host="::1"), "a")
                shown = h.ctl("showconfig").stdout
                self.assertIn('allow: ["127.0.0.0/30", "127.0.0.4/32", "::1/128"]', shown)
                # `hamba reconfigure` with a list changed: applied to the next connection.
                h.write_config(config.replace('deny: ["127.0.0.3"]', 'deny: ["127.0.0.2"]'))
                r = h.ctl("reconfigure", "--config", h.config)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(outcome(port, "127.0.0.2"), "reset")
                self.assertEqual(outcome(port, "127.0.0.3"), "a")
                assert_stops_cleanly(self, h)

    def test_list_files_reload_on_sighup_and_bad_files(self):
        with TagServer("a") as a:
            port = free_port()
            scratch = tempfile.mkdtemp(prefix="hamba-test-")
            deny_path = os.path.join(scratch, "deny.lst")
            write_file(deny_path, "# nobody yet\n")
            try:
                config = (f'frontends:\n  - bind: "127.0.0.1:{port}"\n'
                          f'    servers: ["127.0.0.1:{a.port}"]\n    deny_file: {deny_path}\n')
                with Hamba(config=config, ports=[port]) as h:
                    self.assertEqual(outcome(port, "127.0.0.20"), "a")
                    write_file(deny_path, "127.0.0.16/28  # the lab\n")
                    h.signal(signal.SIGHUP)
                    wait_until(lambda: outcome(port, "127.0.0.20") == "reset",
                               what="the new deny list")
                    self.assertEqual(outcome(port, "127.0.0.40"), "a")
                    # A bad line at a reload: the error names the file, line and column, and the
                    # lists in force stay.
                    write_file(deny_path, "127.0.0.16/28\n\n  127.0.0.300\n")
                    h.signal(signal.SIGHUP)
                    wait_until(lambda: f"{deny_path}:3:3: '127.0.0.300'" in h.log(),
                               what="the bad file's error")
                    self.assertIn("the running one stays", h.log())
                    self.assertEqual(outcome(port, "127.0.0.20"), "reset")
                    self.assertEqual(outcome(port, "127.0.0.40"), "a")
                    # A file that goes away: the same.
                    os.unlink(deny_path)
                    h.signal(signal.SIGHUP)
                    wait_until(lambda: f"{deny_path}: cannot read" in h.log(),
                               what="the missing file's error")
                    self.assertEqual(outcome(port, "127.0.0.20"), "reset")
                    assert_stops_cleanly(self, h)
                # At start, a bad file or CIDR: one line naming it, exit 2.
                write_file(deny_path, "10.0.0.0/8\n10.1.2.3/8\n")
                r = hamba_command("debugconfig", "--config", write_file(
                    deny_path + ".yaml", config))
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(f"{deny_path}:2:1: '10.1.2.3/8' has bits set after the prefix",
                              r.stderr)
                r = hamba_command("--deny", "10.0.0.0/33", "debugconfig", "80", "a:1")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--deny: '10.0.0.0/33': the prefix length", r.stderr)
                r = hamba_command("debugconfig", "--config", write_file(
                    deny_path + ".yaml", config.replace(f"deny_file: {deny_path}",
                                                        'allow: ["10.0.0.0/8", "bad"]')))
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(".yaml:4:27: 'bad' is not an address", r.stderr)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
