"""TCP keepalive and TCP_USER_TIMEOUT on both sockets of a proxied connection.

Toward servers keepalive is on by default (60 s, 15 s, 4 probes: config/config.h says why); toward
clients it is off unless configured; on neither side is it set where hamba's own idle timeout
ends a silent connection before the first probe. What the kernel does with a socket is seen from outside:
`ss -tno` shows a keepalive timer (`timer:(keepalive,59sec,0)`) on a socket that has it, the
kernel's TCPKeepAlive counter (/proc/PID/net/netstat) counts the probes sent, and a copy of
hamba's own socket (pidfd_getfd, see hamba_helpers.copy_fd) answers getsockopt for the figures
and the user timeout. Every connection is an idle one over loopback, held open by the test."""

import errno
import re
import socket
import subprocess
import tempfile
import time
import unittest

from hamba_helpers import TaggedEcho, connect, copy_fd
from harness import Hamba, free_port, hamba_command, start_hamba, wait_until, write_file

TIMER = re.compile(r"timer:\((\w+),([0-9.]+)(ms|sec|min),(\d+)\)")


def ss_timers():
    """{(local port, peer port): (timer name, seconds left)} of every established TCP socket on
    127.0.0.1 (written [::ffff:127.0.0.1] on a dual-stack socket, as hamba's accepted ones are),
    from `ss -tnoH`; a socket with no timer has ("", 0)."""
    out = subprocess.run(["ss", "-tnoH", "state", "established"], capture_output=True, text=True,
                         check=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        addrs = [f for f in fields if f.startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:"))]
        if len(addrs) != 2:
            continue
        key = (int(addrs[0].rsplit(":", 1)[1]), int(addrs[1].rsplit(":", 1)[1]))
        m = TIMER.search(line)
        if not m:
            found[key] = ("", 0.0)
            continue
        scale = {"ms": 0.001, "sec": 1.0, "min": 60.0}[m.group(3)]
        found[key] = (m.group(1), float(m.group(2)) * scale)
    return found


def keepalive_probes(pid):
    """The kernel's count of keepalive probes sent (TcpExt TCPKeepAlive) in `pid`'s network
    namespace."""
    with open(f"/proc/{pid}/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:]))["TCPKeepAlive"])
    raise AssertionError("no TcpExt line in /proc/net/netstat")


class Sides:
    """hamba's two sockets of the one connection `client` holds through frontend `port` to
    `backend`: their (local port, peer port) keys in ss_timers()."""

    def __init__(self, client, port, backend):
        self.client = (port, client.getsockname()[1])  # hamba's accepted socket
        self.backend = backend
        self.server = None  # hamba's connect: the peer of the backend's accepted socket

    def timers(self):
        timers = ss_timers()
        if self.server is None:
            for (local, peer), _ in timers.items():
                if peer == self.backend.port and (self.backend.port, local) in timers:
                    self.server = (local, peer)
        if self.server is None or self.client not in timers or self.server not in timers:
            return None
        return timers[self.client], timers[self.server]


def wait_sides(test, client, port, backend):
    """The ss timers of both of hamba's sockets of the connection, once ss lists them."""
    sides = Sides(client, port, backend)
    seen = []
    wait_until(lambda: seen.append(sides.timers()) or seen[-1] is not None,
               what="hamba's two sockets of the connection in ss")
    return sides, seen[-1]


def socket_options(test, pid, local_port, peer_port):
    """(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT) of hamba's
    socket from `local_port` to `peer_port`, through a copy of it; skips where no copy can be
    had."""
    from hamba_helpers import proc_sockets

    fd = next(s["fd"] for s in proc_sockets(pid)
              if s["port"] == local_port and s["peer_port"] == peer_port)
    try:
        copy = copy_fd(pid, fd)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EACCES, errno.ENOSYS):
            raise
        test.skipTest(f"cannot copy hamba's sockets here: {e}")
    with socket.socket(fileno=copy) as s:
        return (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))


class Keepalive(unittest.TestCase):
    def test_configured_on_both_sides_seen_by_ss_and_getsockopt(self):
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba(
                [f"127.0.0.1:{backend.port}"], "--check-interval", "1h",
                "--tcp-keepalive", "7s,3s,5", "--tcp-user-timeout", "4s",
                "--server-tcp-keepalive", "40s,5s,2", "--server-tcp-user-timeout", "6500ms")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")
                sides, (client, server) = wait_sides(self, c, port, backend)
                self.assertEqual(client[0], "keepalive", f"client side: {client}")
                self.assertLessEqual(client[1], 7.0)
                self.assertEqual(server[0], "keepalive", f"server side: {server}")
                self.assertLessEqual(server[1], 40.0)
                self.assertGreater(server[1], 7.0)
                self.assertEqual(socket_options(self, hamba.pid, *sides.client), (1, 7, 3, 5, 4000))
                self.assertEqual(socket_options(self, hamba.pid, *sides.server),
                                 (1, 40, 5, 2, 6500))

    def test_defaults_keepalive_toward_servers_only(self):
        # Connections allowed to idle longer than the keepalive's 60 s (an ambassador's).
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "1h",
                                      "--idle-timeout", "1h")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")
                sides, (client, server) = wait_sides(self, c, port, backend)
                self.assertNotEqual(client[0], "keepalive", f"client side: {client}")
                self.assertEqual(server[0], "keepalive", f"server side: {server}")
                self.assertLessEqual(server[1], 60.0)
                self.assertGreater(server[1], 15.0)
                self.assertEqual(socket_options(self, hamba.pid, *sides.server)[:4],
                                 (1, 60, 15, 4))
                self.assertEqual(socket_options(self, hamba.pid, *sides.client)[0], 0)

    def test_not_set_where_the_idle_timeout_ends_connections_first(self):
        # The default idle timeout (50 s) closes a silent connection before a 60 s probe: no
        # keepalive, and no system call for it; one below it (40 s) is set.
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "1h",
                                      "--tcp-keepalive", "on")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")
                sides, (client, server) = wait_sides(self, c, port, backend)
                self.assertNotEqual(server[0], "keepalive", f"server side: {server}")
                self.assertNotEqual(client[0], "keepalive", f"client side: {client}")
                self.assertEqual(socket_options(self, hamba.pid, *sides.server)[0], 0)
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "1h",
                                      "--server-tcp-keepalive", "40s")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")
                _, (_, server) = wait_sides(self, c, port, backend)
                self.assertEqual(server[0], "keepalive", f"server side: {server}")

    def test_off_toward_servers(self):
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "1h",
                                      "--server-tcp-keepalive", "off")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")
                _, (client, server) = wait_sides(self, c, port, backend)
                self.assertNotEqual(server[0], "keepalive", f"server side: {server}")

    def test_probes_are_sent_on_an_idle_connection(self):
        # Idle 1 s on both sides: over 3.5 s each of hamba's sockets sends a probe a second (the
        # peer's answer starts the idle wait again), so at least 4 in all. Other processes'
        # probes can only add to the count.
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "1h",
                                      "--tcp-keepalive", "1s,1s,3",
                                      "--server-tcp-keepalive", "1s,1s,3")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")
                wait_sides(self, c, port, backend)
                before = keepalive_probes(hamba.pid)
                time.sleep(3.5)
                sent = keepalive_probes(hamba.pid) - before
                self.assertGreaterEqual(sent, 4, "keepalive probes sent in 3.5 s")
                c.sendall(b"still here")  # the probes were answered: the connection lives
                self.assertEqual(c.recv(16), b"still here")

    def test_reconfigure_applies_to_new_connections_and_a_bad_value_changes_nothing(self):
        with TaggedEcho("a") as backend:
            port = free_port()

            def config(keepalive):
                return (f'frontends:\n  - bind: "127.0.0.1:{port}"\n'
                        f'    check: {{interval: 1h}}\n'
                        f'    tcp_keepalive: {keepalive}\n'
                        f'    servers: ["127.0.0.1:{backend.port}"]\n')

            with Hamba(config=config("{idle: 30s}"), ports=[port]) as hamba:
                hamba.write_config(config("{idle: 9s, interval: 2s, count: 3}"))
                self.assertEqual(hamba.ctl("reconfigure", "--config", hamba.config).returncode, 0)
                with connect(port) as c:
                    self.assertEqual(c.recv(16), b"a\n")
                    sides, (client, _) = wait_sides(self, c, port, backend)
                    self.assertEqual(client[0], "keepalive")
                    self.assertLessEqual(client[1], 9.0)
                    self.assertEqual(socket_options(self, hamba.pid, *sides.client)[:4],
                                     (1, 9, 2, 3))
                hamba.write_config(config("{idle: 1500ms}"))
                bad = hamba.ctl("reconfigure", "--config", hamba.config)
                self.assertNotEqual(bad.returncode, 0)
                self.assertIn("whole seconds", bad.stderr)
                self.assertIn(":4:", bad.stderr)  # file:line:col of the bad figure
                shown = hamba.ctl("showconfig").stdout
                self.assertIn("tcp_keepalive: {idle: 9s, interval: 2s, count: 3}", shown)

    def test_a_bad_value_at_start_is_one_line_and_exit_2(self):
        port = free_port()
        r = hamba_command("--server-tcp-keepalive", "60s,15s,0", str(port), "127.0.0.1:9")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("count 0 must be between 1 and 127", r.stderr)
        with tempfile.TemporaryDirectory() as d:
            path = write_file(f"{d}/bad.yaml",
                              f'frontends:\n  - bind: "127.0.0.1:{port}"\n'
                              f'    servers: [{{address: "127.0.0.1:9", backup: yes-ish}}]\n')
            r = hamba_command("--config", path)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("bad.yaml:3:", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
