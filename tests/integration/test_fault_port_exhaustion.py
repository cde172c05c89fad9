"""hamba's own shortage of local ports is not the server's fault: in a network namespace of its
own whose ephemeral port range (net.ipv4.ip_local_port_range, per namespace) holds two ports,
hamba holds two connections to its one server; the next clients' connects find no local port
left (EADDRNOTAVAIL). Those clients may fail, but the server is not blamed: it stays UP in
/stats.json with no connect error and no traffic failure, and no "cannot connect to server" or
"is DOWN" line is logged. The two held connections still work.

The test moves itself into the new namespace (unshare(2), as root) and brings its loopback up;
skipped where that is not allowed. Its clients, and its requests to the admin listener, bind
source ports below the range, so only hamba's connects to the server take ports from it; health
checks are off (passive health still counts failed connects: observe failures 3)."""

import ctypes
import fcntl
import http.client
import json
import os
import socket
import struct
import unittest

from hamba_helpers import TaggedEcho
from harness import Hamba, free_port, wait_until

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PORT_RANGE = (40000, 40001)
HELD = 2
MORE = 4


def enter_network_namespace():
    """Moves this thread (the main one, before any other starts) into a new network namespace
    and brings its loopback up. Raises OSError where that is not allowed."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def client(port):
    """A connection to hamba from a source port outside the ephemeral range."""
    s = socket.socket()
    s.settimeout(10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", free_port()))
    s.connect(("127.0.0.1", port))
    return s


def stats(admin):
    conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=10,
                                      source_address=("127.0.0.1", free_port()))
    try:
        conn.request("GET", "/stats.json")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def listening(port):
    with open("/proc/net/tcp") as f:
        return any(l.split()[3] == "0A" and int(l.split()[1].rsplit(":", 1)[1], 16) == port
                   for l in f.readlines()[1:])


def connections_to(port):
    """Established connections to 127.0.0.1:port (from /proc/net/tcp, state 01)."""
    with open("/proc/net/tcp") as f:
        return sum(1 for l in f.readlines()[1:]
                   if l.split()[3] == "01" and int(l.split()[2].rsplit(":", 1)[1], 16) == port)


class PortExhaustion(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: a network namespace of its own")
        try:
            enter_network_namespace()
        except OSError as e:
            self.skipTest(f"no network namespace of its own: {e}")
        with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
            f.write(f"{PORT_RANGE[0]} {PORT_RANGE[1]}")

    def test_no_local_port_left_is_not_the_servers_fault(self):
        port, admin = free_port(), free_port()
        self.assertFalse(PORT_RANGE[0] <= port <= PORT_RANGE[1])
        with TaggedEcho("s", port=free_port()) as server:  # not from the range
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                      f'  - bind: "127.0.0.1:{port}"\n    check: false\n'
                      f'    connect_timeout: 1s\n    retries: 3\n'
                      f'    observe: {{failures: 3}}\n    servers: ["{server.address()}"]\n')
            # No readiness probe through the frontend: it would take one of the two ports.
            with Hamba(config=config) as hamba:
                wait_until(lambda: listening(port) and listening(admin), what="hamba listening")
                held = [client(port) for _ in range(HELD)]
                self.addCleanup(lambda: [c.close() for c in held])
                for c in held:
                    self.assertEqual(c.recv(16), b"s\n")
                # Both ports of the range are taken by hamba's connections to the server.
                self.assertEqual(connections_to(server.port), HELD)
                ends = []
                more = [client(port) for _ in range(MORE)]
                for c in more:
                    try:
                        ends.append(c.recv(16) or b"<eof>")  # no port for it: closed
                    except ConnectionResetError:
                        ends.append(b"<reset>")
                    except socket.timeout:
                        ends.append(b"<still open>")
                    c.close()
                print(f"{MORE} clients with no local port left toward the server: {ends}")
                for c in held:  # still relaying
                    c.sendall(b"ping")
                    self.assertEqual(c.recv(16), b"ping")
                s = stats(admin)["frontends"][0]["servers"][0]
                print(f"server: status {s['status']}, connect_errors {s['connect_errors']}, "
                      f"retries {s['retries']}, traffic_failures {s['traffic_failures']}")
                blamed = [l for l in hamba.log().splitlines()
                          if "cannot connect to server" in l or "is DOWN" in l]
                self.assertFalse(blamed, f"{len(blamed)} log lines blame the server: {blamed[:3]}")
                self.assertTrue(s["up"], s)
                self.assertEqual((s["connect_errors"], s["retries"], s["traffic_failures"]),
                                 (0, 0, 0), s)
                for c in held:
                    c.close()
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
