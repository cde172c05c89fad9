"""TCP_NODELAY is on for both sockets of a proxied connection.

Without it, a small write that follows an unacknowledged one waits for the peer's delayed ACK
(up to 40 ms on Linux): request/response traffic through hamba would crawl. The client side
gets it from the listening socket (Linux copies it to accepted sockets; net/listening_socket.cpp), the
server side when hamba creates the socket, so nothing else in the tests would notice if either
went away. The test takes a copy of hamba's own sockets (pidfd_getfd, Linux 5.6, needs
ptrace rights over hamba: root or the same user with ptrace allowed) and asks them."""

import errno
import socket
import unittest

from hamba_helpers import TaggedEcho, connect, copy_fd, proc_sockets
from harness import start_hamba, wait_until


class NoDelay(unittest.TestCase):
    def test_both_sides_of_a_proxied_connection_have_tcp_nodelay(self):
        with TaggedEcho("a") as backend:
            hamba, port = start_hamba([f"127.0.0.1:{backend.port}"], "--check-interval", "1h")
            with hamba, connect(port) as c:
                self.assertEqual(c.recv(16), b"a\n")  # relayed: both sockets exist
                sides = {}

                def find():
                    for s in proc_sockets(hamba.pid):
                        if not s["proto"].startswith("tcp") or s["state"] == "0A":
                            continue  # the listener has the frontend's port too
                        if s["port"] == port:
                            sides["client"] = s["fd"]
                        elif s["peer_port"] == backend.port:
                            sides["server"] = s["fd"]
                    return len(sides) == 2

                wait_until(find, what="hamba's two sockets of the connection")
                try:
                    copies = {name: copy_fd(hamba.pid, fd) for name, fd in sides.items()}
                except OSError as e:
                    # No ptrace rights (a container's seccomp profile, Yama) or an old kernel.
                    if e.errno not in (errno.EPERM, errno.EACCES, errno.ENOSYS):
                        raise
                    self.skipTest(f"cannot copy hamba's sockets here: {e}")
                for name, copy in copies.items():
                    with socket.socket(fileno=copy) as s:
                        self.assertEqual(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                                         1, f"{name} side of the connection")


if __name__ == "__main__":
    unittest.main(verbosity=2)
