"""DNS failures against a name's servers, through the real resolver: hamba runs in a mount
namespace whose /etc/resolv.conf points at a small DNS server of this test (UDP, port 53 of a
loopback address of its own), which answers, fails (SERVFAIL), stays silent (a timeout) or says
the name does not exist (NXDOMAIN), as the test says.
- SERVFAIL and timeouts never drain: the last answer stands, and the failure is logged once;
- NXDOMAIN drains only after the hold (--dns-hold): before it the server still takes clients,
  after it the name's servers drain;
- the name answering again brings its server back.
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from fault_support import ServerProcess, echo
from harness import Hamba, free_port, wait_until

NAME = "svc.fault.test"


class DnsServer:
    """Answers A queries for every name with `address` (AAAA: no data), or fails as `mode` says:
    "answer", "servfail", "silent" (no reply: the client times out), "nxdomain"."""

    def __init__(self, host, address):
        self.address = address
        self.mode = "answer"
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 53))
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.queries += 1
            reply = self._reply(query)
            if reply:
                self.sock.sendto(reply, peer)

    def _reply(self, query):
        if self.mode == "silent" or len(query) < 12:
            return None
        qid, flags = struct.unpack("!HH", query[:4])
        end = 12
        while query[end] != 0:
            end += query[end] + 1
        question = query[12:end + 5]
        qtype = struct.unpack("!H", query[end + 1:end + 3])[0]
        rd = flags & 0x0100
        rcode = {"servfail": 2, "nxdomain": 3}.get(self.mode, 0)
        answers = b""
        if rcode == 0 and qtype == 1:  # A
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 4) + \
                socket.inet_aton(self.address)
        header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1,
                             1 if answers else 0, 0, 0)
        return header + question + answers

    def close(self):
        self.sock.close()


class DnsFailures(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("a DNS server on port 53 needs root")
        if not shutil.which("unshare"):
            raise unittest.SkipTest("unshare (util-linux) not installed")
        probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
        if probe.returncode != 0:
            raise unittest.SkipTest(f"cannot create a mount namespace: {probe.stderr!r}")
        self.dir = tempfile.mkdtemp(prefix="hamba-dnsfail-")
        # A loopback address of its own for the DNS server: tests may run side by side.
        self.dns_host = f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}"
        hosts = os.path.join(self.dir, "hosts")
        resolv = os.path.join(self.dir, "resolv.conf")
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n")
        with open(resolv, "w") as f:
            f.write(f"nameserver {self.dns_host}\noptions timeout:1 attempts:1\n")
        self.namespace = ["unshare", "--mount", "sh", "-c",
                          'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/resolv.conf '
                          '&& shift && exec "$@"', hosts, resolv]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_failures_keep_the_last_answer_nxdomain_drains_after_the_hold(self):
        backend_port = free_port("127.0.0.2")
        port = free_port()
        hold = 3.0
        dns = DnsServer(self.dns_host, "127.0.0.2")
        try:
            with ServerProcess("two", host="127.0.0.2", port=backend_port), \
                    Hamba("--resolve-interval", "200ms", "--check-interval", "300ms",
                          "--connect-timeout", "500ms", "--dns-hold", f"{int(hold)}s",
                          f"127.0.0.1:{port}", f"{NAME}:{backend_port}",
                          wrapper=self.namespace, ports=[port]) as h:
                served = lambda: echo(port, b"dns fault", timeout=5).ok
                wait_until(served, what="the name resolved")

                for mode in ("servfail", "silent"):
                    dns.mode = mode
                    before = dns.queries
                    wait_until(lambda: dns.queries >= before + 4, what=f"{mode} queries")
                    self.assertTrue(all(served() for _ in range(5)),
                                    f"{mode}: the last answer did not stand\n{h.log()}")
                    dns.mode = "answer"
                    time.sleep(0.5)
                self.assertNotIn("no longer in DNS", h.log())
                self.assertEqual(h.log().count("cannot resolve server"), 2, h.log())

                dns.mode = "nxdomain"
                gone_at = time.monotonic()
                wait_until(lambda: "does not resolve" in h.log(), what="NXDOMAIN logged")
                # Within the hold: still served.
                while time.monotonic() < gone_at + hold - 1.0:
                    self.assertTrue(served(), f"drained before the hold\n{h.log()}")
                    time.sleep(0.2)
                wait_until(lambda: "no longer in DNS" in h.log(), timeout=hold + 3,
                           what="drained after the hold")
                drained_after = time.monotonic() - gone_at
                print(f"NXDOMAIN: drained {drained_after:.2f}s after the name went (hold "
                      f"{hold}s)")
                self.assertGreaterEqual(drained_after, hold - 0.5)
                # (the workers take the view without it on the main loop's next turn)
                wait_until(lambda: not served(), timeout=5, what="no longer served")

                dns.mode = "answer"
                wait_until(served, what="back after the name answers again")
                self.assertTrue(h.running())
        finally:
            dns.close()

    def test_default_hold_is_30s(self):
        from harness import bin_path, run
        r = run([bin_path("hamba"), "debugconfig", "80", "svc:80"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("dns_hold: 30s", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
