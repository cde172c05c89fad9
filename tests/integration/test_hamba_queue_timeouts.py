"""A queued client whose connect timeout runs out in the same timeout sweep as the idle timeout of
the session holding the slot it waits for: the holder ends first, the queue gives the slot to
the waiting client, whose connect has only just begun. hamba must not then charge that connect
with a timeout: the server never had a connect outstanding for connect_timeout, so no
"cannot connect to server ...: connect timeout" line, no connect error, no retry against it.

The scenario, on one worker (the sweep walks its sessions newest first, and the holder must
come before the waiting client): one server with maxconn 1, idle_timeout equal to
connect_timeout, an accept_proxy frontend. The waiting client W connects first and sends half a
PROXY header (accepted: the older session); the holder H connects, sends a whole header and a
byte, and gets the slot. Then W finishes its header (queued: its connect timeout starts) and H
sends a byte (its idle timeout starts) back to back: both expire in the same 250 ms sweep, H
first. Two rounds."""

import socket
import threading
import time
import unittest

from hamba_helpers import Backend, stats_json
from harness import Hamba, free_port, probe_done, read_all, wait_until

TIMEOUT = "1s"
ROUNDS = 2
HEADER = b"PROXY TCP4 192.0.2.1 192.0.2.2 4000 80"


class Holder(Backend):
    """Reads each connection until its EOF, sending nothing; `received` is what came in all."""

    def __init__(self):
        self.received = b""
        self.got_lock = threading.Lock()
        super().__init__(self.hold)

    def hold(self, conn):
        conn.settimeout(30)
        while True:
            data = conn.recv(4096)
            if not data:
                return
            with self.got_lock:
                self.received += data


def until_closed(sock, timeout=10.0):
    """Reads `sock` until the other side closes it (EOF or reset); what came before."""
    sock.settimeout(timeout)
    try:
        return read_all(sock)
    except (ConnectionResetError, BrokenPipeError):
        return b"<reset>"


class ConnectTimeoutOfAFreshConnect(unittest.TestCase):
    def test_slot_freed_in_the_sweep_is_not_a_connect_timeout(self):
        port, admin = free_port(), free_port()
        with Holder() as server:
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                      f'  - bind: "127.0.0.1:{port}"\n    accept_proxy: true\n'
                      f'    preread_timeout: 20s\n    connect_timeout: {TIMEOUT}\n'
                      f'    idle_timeout: {TIMEOUT}\n    check: false\n'
                      f'    servers: [{{address: "{server.address()}", maxconn: 1}}]\n')
            with Hamba("--threads", "1", config=config, ports=[port, admin]) as hamba:
                wait_until(lambda: probe_done(admin), what="the readiness probe done")
                frontend = lambda: stats_json(admin)["frontends"][0]
                for round_ in range(ROUNDS):
                    w = socket.create_connection(("127.0.0.1", port), timeout=10)
                    w.sendall(HEADER)  # half a header: accepted, waiting for the rest
                    wait_until(lambda: frontend()["current"] == 1, what="W accepted")
                    h = socket.create_connection(("127.0.0.1", port), timeout=10)
                    mark = f"h{round_}".encode()
                    h.sendall(HEADER + b"\r\n" + mark)
                    wait_until(lambda: mark in server.received, what="H at the server")
                    self.assertEqual(frontend()["servers"][0]["current"], 1)
                    w.sendall(b"\r\n")  # queued: its connect timeout starts
                    h.sendall(b".")     # its idle timeout starts
                    started = time.monotonic()
                    h_end = until_closed(h)
                    w_end = until_closed(w)  # served in the slot H left, or timed out
                    print(f"round {round_}: H closed ({h_end!r}), W closed ({w_end!r}) "
                          f"{time.monotonic() - started:.2f}s after")
                    h.close()
                    w.close()
                    wait_until(lambda: frontend()["current"] == 0, what="both sessions gone")
                s = frontend()["servers"][0]
                print(f"server: connect_errors {s['connect_errors']}, retries {s['retries']}, "
                      f"traffic_failures {s['traffic_failures']}, status {s['status']}")
                blamed = [l for l in hamba.log().splitlines() if "connect timeout" in l]
                self.assertFalse(blamed, f"{len(blamed)} connect timeout(s) logged: {blamed[:3]}")
                self.assertEqual((s["connect_errors"], s["retries"], s["traffic_failures"]),
                                 (0, 0, 0), s)
                self.assertTrue(s["up"], s)
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
