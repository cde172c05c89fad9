"""bench_kernel_relay (bench/kernel_relay, the kernel relay experiment) keeps every byte in
order: checksummed transfers both ways at once through it (1 B, 64 KiB, 16 MiB), each side
shutting its write half after its last byte, and a reply that starts only after the client's
half-close. Each connection must have been relayed by the kernel (the program logs which relay
took it), and the same transfers pass through its --user relay.

A FIN that overtook data the kernel's workers still held shows as a short count or a wrong
digest on the other side. No byte moves before the program has paired the sockets (the client
waits for the relay's word, the server for the client's first byte): bytes that arrive between
the two map updates of the pairing are passed up to a socket nobody reads (bench/README.md,
"Kernel relay", the pairing race), a known fault the transfers leave out so that they stay
deterministic. The two known faults have tests of their own, expected to fail while the fault
is there (an unexpected success fails the run, so a fix is noticed): the pairing race, widened
on purpose (--pair-gap-ms), and backpressure (a client that stops reading lets its server send
everything; the user relay holds it back, and its twin of that test must pass).

Exits 77 (skipped) where the program is not built or cannot load its BPF program (no CAP_BPF
and CAP_NET_ADMIN, no sockmap). Not run under the sanitizers (not registered there:
tests/bench/CMakeLists.txt)."""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

from hamba_helpers import FirehoseServer, read_digest, send_stream, stream_digest
from harness import BIN_DIR, free_port, wait_until

SKIP = 77
KIB, MIB = 1 << 10, 1 << 20
BINARY = os.path.abspath(os.path.join(BIN_DIR, "bench_kernel_relay"))


class StreamServer:
    """Per connection: waits for the client's b"!" (not counted), then sends its stream of `size`
    bytes and its FIN while it hashes what it receives until EOF. `reply_after_eof`: the stream
    starts only after the client's EOF. `received` holds (count, sha256) per connection."""

    def __init__(self, size, reply_after_eof=False, gate=True):
        self.size, self.reply_after_eof, self.gate = size, reply_after_eof, gate
        self.received = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            if self.gate and conn.recv(1) != b"!":
                return
            if self.reply_after_eof:
                self.received.append(read_digest(conn))
                send_stream(conn, self.size, b"server")
                return
            sender = threading.Thread(target=send_stream, args=(conn, self.size, b"server"))
            sender.start()
            self.received.append(read_digest(conn))
            sender.join()

    def close(self):
        self.sock.close()


class Relay:
    """bench_kernel_relay in front of `server_port`, logging which relay takes each connection."""

    def __init__(self, server_port, *options):
        self.port = free_port()
        self.log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                     f"kernel_relay_{os.getpid()}_{self.port}.log")
        self.log_file = open(self.log_path, "w+")
        self.proc = subprocess.Popen([BINARY, f"127.0.0.1:{self.port}",
                                      f"127.0.0.1:{server_port}", "--log", *options],
                                     stderr=self.log_file)
        wait_until(lambda: "listening on" in self.log(), timeout=10, what="the relay listening")

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def relayed(self, by):
        return self.log().count(f"relayed by the {by} relay")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log_file.close()
        os.unlink(self.log_path)


def transfer(relay, by, size):
    """One connection: once `relay` says the `by` relay took it, sends b"!", then `size` bytes
    and its FIN while it reads the server's stream to EOF: (count, sha256) received."""
    with socket.create_connection(("127.0.0.1", relay.port), timeout=30) as c:
        wait_until(lambda: relay.relayed("kernel") + relay.relayed("user") == 1, timeout=30,
                   what="the relay's choice")
        assert relay.relayed(by) == 1, f"not the {by} relay: {relay.log()}"
        c.sendall(b"!")
        sender = threading.Thread(target=send_stream, args=(c, size, b"client"))
        sender.start()
        got = read_digest(c)
        sender.join()
        return got


class Transfers(unittest.TestCase):
    options = ()  # the relay's options
    relay = "kernel"  # which relay must take every connection

    def check(self, size, reply_after_eof=False):
        server = StreamServer(size, reply_after_eof)
        relay = Relay(server.port, *self.options)
        try:
            self.assertEqual(transfer(relay, self.relay, size),
                             (size, stream_digest(size, b"server")),
                             "the server's stream, as the client got it")
            wait_until(lambda: server.received, timeout=30, what="the server's EOF")
            self.assertEqual(server.received, [(size, stream_digest(size, b"client"))],
                             "the client's stream, as the server got it")
            self.assertEqual(relay.relayed(self.relay), 1, relay.log())
        finally:
            relay.close()
            server.close()

    def test_1_byte_both_ways(self):
        self.check(1)

    def test_64_kib_both_ways(self):
        self.check(64 * KIB)

    def test_16_mib_both_ways(self):
        self.check(16 * MIB)

    def test_reply_after_the_clients_half_close(self):
        self.check(64 * KIB, reply_after_eof=True)

    def check_stalled_readers(self):
        # 4 clients with 4 KiB receive buffers that never read, behind a server that sends each
        # 32 MiB as fast as it is taken: a relay that holds backpressure stops it after a few
        # socket buffers (the user relay: about 7 MiB a connection); the kernel relay's redirect
        # takes everything off the server's socket, and the kernel holds it.
        clients, size = 4, 32 * MIB
        with FirehoseServer(size) as fire:
            relay = Relay(fire.port, *self.options)
            conns = []
            try:
                for _ in range(clients):
                    c = socket.socket()
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    c.connect(("127.0.0.1", relay.port))
                    conns.append(c)
                last, deadline = -1, time.monotonic() + 10
                while fire.sent != last and time.monotonic() < deadline:
                    last = fire.sent
                    time.sleep(0.5)
                self.assertLess(fire.sent, clients * size // 2,
                                f"the servers sent {fire.sent / MIB:.0f} MiB to clients that do "
                                "not read")
            finally:
                for c in conns:
                    c.close()
                relay.close()

    @unittest.expectedFailure
    def test_a_client_that_stops_reading_holds_its_server_back(self):
        self.check_stalled_readers()  # known fault: no backpressure through the sockmap

    @unittest.expectedFailure
    def test_bytes_sent_during_the_pairing_arrive(self):
        # Known fault: the pairing race (bench/README.md). The relay pauses 100 ms between the
        # sockhash's updates and the peers'; the client sends 4 KiB every 5 ms from its connect
        # until the relay says the pairing is done, so bytes arrive inside that window.
        server = StreamServer(0, gate=False)
        relay = Relay(server.port, "--pair-gap-ms", "100")
        try:
            with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as c:
                sent, until = 0, time.monotonic() + 10
                while not relay.relayed("kernel") and time.monotonic() < until:
                    c.sendall(b"x" * 4096)
                    sent += 4096
                    time.sleep(0.005)
                c.shutdown(socket.SHUT_WR)
                until = time.monotonic() + 3
                while not server.received and time.monotonic() < until:
                    time.sleep(0.05)
                self.assertEqual([n for n, _ in server.received], [sent],
                                 "the server's count at its EOF (none: no EOF in 3 s)")
        finally:
            relay.close()
            server.close()


class UserTransfers(Transfers):
    options = ("--user",)
    relay = "user"

    def test_a_client_that_stops_reading_holds_its_server_back(self):
        self.check_stalled_readers()

    test_bytes_sent_during_the_pairing_arrive = None  # no pairing in user space


def main():
    if not os.access(BINARY, os.X_OK):
        print(f"skipped: {BINARY} is not built (it needs clang and libbpf-dev)")
        return SKIP
    check = subprocess.run([BINARY, "--check"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        print(f"skipped: {check.stderr.strip()}")
        return SKIP
    started = time.monotonic()
    result = unittest.main(verbosity=2, exit=False).result
    print(f"{time.monotonic() - started:.1f} s")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
