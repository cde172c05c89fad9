"""Helpers for the run-time tests (test_runtime_*.py): a client that checks every byte a
TaggedEcho server (hamba_helpers) sends back, and DNS through a private /etc/hosts.

    with TaggedEcho("a") as a, Hamba(port, a.address(), ports=[port]) as h:
        tag, ok = exchange(port, b"hello")        # ("a", True)
        h.ctl("showconfig")                       # CompletedProcess of `hamba showconfig`

DNS tests subclass HostsNamespaceTest: hamba started with `wrapper=self.namespace` sees
`self.hosts` (rewritten by write_hosts) as its /etc/hosts.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import send_and_read_all


def exchange(port, payload, host="127.0.0.1", timeout=10.0):
    """One connection through hamba to a TaggedEcho: returns (tag, payload came back intact)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        reply = send_and_read_all(s, payload)
    tag, _, echoed = reply.partition(b"\n")
    return tag.decode(errors="replace"), hashlib.sha256(echoed).digest() == hashlib.sha256(
        payload).digest()


class HostsNamespaceTest(unittest.TestCase):
    """Base for tests of DNS through the real resolver: `self.namespace` is a command prefix that
    runs its command in a mount namespace where /etc/hosts is `self.hosts`, a file of a private
    directory (`self.dir`) that write_hosts() fills with addresses for the class's NAME. Skipped
    where mount namespaces cannot be made."""

    NAME = None  # the backend host name the subclass resolves

    def setUp(self):
        if not shutil.which("unshare"):
            raise unittest.SkipTest("unshare (util-linux) not installed")
        probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
        if probe.returncode != 0:
            raise unittest.SkipTest(f"cannot create a mount namespace: {probe.stderr!r}")
        self.dir = tempfile.mkdtemp(prefix="hamba-dns-")
        self.hosts = os.path.join(self.dir, "hosts")
        self.namespace = ["unshare", "--mount", "sh", "-c",
                          'mount --bind "$0" /etc/hosts && exec "$@"', self.hosts]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_hosts(self, *addresses):
        """`addresses` (none: the name is gone) for NAME, plus localhost."""
        # In place: the bind mount follows this inode, not the name.
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 localhost\n")
            for a in addresses:
                f.write(f"{a} {self.NAME}\n")
