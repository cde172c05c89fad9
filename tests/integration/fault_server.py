"""A backend of the fault suite that runs as a process of its own, so a test can kill it
(SIGKILL, SIGSTOP) like a real server. Stdlib only; one thread per connection.

    python3 fault_server.py --port PORT [--host 127.0.0.1] [--tag a] [--pace-kib-s N] [--silent]

Each connection starts with one command line from the client:

    who\\n              answers the tag and closes
    echo\\n             echoes every byte until the client's EOF, then shuts its write side
    get SIZE SEED\\n    sends SIZE bytes of the deterministic stream for SEED (fault_support),
                       paced to --pace-kib-s when given, then closes
    hold\\n             accepts and never answers (reads and discards until EOF)

With --silent it accepts and never answers anything (it reads and discards until EOF), like a
hung server. A connection that closes before a full line (a health check, a probe) is ignored. Prints
"ready PORT" on stdout once it listens.
"""

import argparse
import hashlib
import socket
import sys
import threading
import time


def stream_block(seed, index):
    """Block `index` (64 KiB) of the deterministic stream for `seed` (bytes)."""
    return hashlib.sha256(seed + index.to_bytes(8, "big")).digest() * 2048


def send_stream(conn, size, seed, pace):
    index = 0
    left = size
    start = time.monotonic()
    sent = 0
    while left > 0:
        block = stream_block(seed, index)[:left]
        conn.sendall(block)
        sent += len(block)
        left -= len(block)
        index += 1
        if pace:
            ahead = sent / (pace * 1024) - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def read_line(conn):
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            return None
        line += chunk
        if len(line) > 256:
            return None
    return line.decode().split()


def serve(conn, tag, pace, silent):
    with conn:
        try:
            if silent:
                while conn.recv(65536):
                    pass
                time.sleep(3600)  # hung: not even the client's EOF gets an answer
                return
            words = read_line(conn)
            if not words:
                return
            if words[0] == "who":
                conn.sendall(tag.encode() + b"\n")
            elif words[0] == "echo":
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    conn.sendall(data)
                conn.shutdown(socket.SHUT_WR)
            elif words[0] == "get":
                send_stream(conn, int(words[1]), words[2].encode(), pace)
            elif words[0] == "hold":
                while conn.recv(65536):
                    pass
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tag", default="server")
    p.add_argument("--pace-kib-s", type=int, default=0)
    p.add_argument("--silent", action="store_true")
    args = p.parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(512)
    print(f"ready {sock.getsockname()[1]}", flush=True)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve, args=(conn, args.tag, args.pace_kib_s, args.silent),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
