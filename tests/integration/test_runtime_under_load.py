"""Reconfigure under load: clients keep connecting (at least 1000 connections, each sending
random data and checking every byte of the echo) while `hamba reconfigure` changes the backends
and settings at least 10 times. Expected: 0 client errors, every payload intact, every
reconfigure accepted, and connections opened before the first reconfigure finish on the backend
they started with, even when that backend left the configuration.
"""

import os
import random
import socket
import threading
import time
import unittest

from hamba_helpers import TaggedEcho
from harness import Hamba, free_port, send_and_read_all
from runtime_support import exchange

MIN_CONNECTIONS = 1000
RECONFIGURES = 12
CLIENT_THREADS = 4
MAX_SECONDS = 120


class UnderLoadTest(unittest.TestCase):
    def test_reconfigure_under_load(self):
        port = free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, TaggedEcho("c") as c, \
                Hamba(f"127.0.0.1:{port}", a.address(), b.address(),
                      ports=[port]) as h:
            backends = {"a": a, "b": b, "c": c}
            sets = [("b", "c"), ("c", "a"), ("a", "b")]

            # Long-lived connections, opened now and finished after every reconfigure.
            held = []
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                tag = s.recv(2).decode().strip()
                held.append((s, tag))

            lock = threading.Lock()
            stats = {"done": 0, "errors": [], "before_first": 0, "after_last": 0}
            phase = {"reconfigures": 0, "finished": False}
            deadline = time.monotonic() + MAX_SECONDS

            def client(seed):
                rng = random.Random(seed)
                while time.monotonic() < deadline:
                    with lock:
                        if phase["finished"] and stats["done"] >= MIN_CONNECTIONS:
                            return
                    payload = rng.randbytes(rng.randint(1, 32 * 1024))
                    try:
                        tag, intact = exchange(port, payload)
                        if tag not in backends or not intact:
                            raise AssertionError(f"tag {tag!r}, intact {intact}")
                    except Exception as e:  # every failure counts, whatever its kind
                        with lock:
                            stats["errors"].append(repr(e))
                        continue
                    with lock:
                        stats["done"] += 1
                        if phase["reconfigures"] == 0:
                            stats["before_first"] += 1
                        if phase["finished"]:
                            stats["after_last"] += 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENT_THREADS)]
            for t in threads:
                t.start()
            try:
                while True:  # let some traffic flow before the first change
                    with lock:
                        if stats["done"] >= 50 or time.monotonic() > deadline:
                            break
                    time.sleep(0.01)
                results = []
                for i in range(RECONFIGURES):
                    tags = sets[i % len(sets)]
                    args = ["reconfigure", "--balance", "leastconn" if i % 2 else "roundrobin",
                            "--connect-timeout", f"{2 + i % 3}s", f"127.0.0.1:{port}"]
                    args += [backends[t].address() for t in tags]
                    r = h.ctl(*args)
                    results.append((r.returncode, r.stderr))
                    with lock:
                        phase["reconfigures"] += 1
                    time.sleep(0.15)
                with lock:
                    phase["finished"] = True
            finally:
                for t in threads:
                    t.join(MAX_SECONDS + 10)

            for s, tag in held:
                with s:
                    payload = os.urandom(100_000)
                    self.assertEqual(send_and_read_all(s, payload), payload,
                                     f"held connection on {tag}")

            print(f"{stats['done']} connections, {len(results)} reconfigures, "
                  f"{stats['before_first']} before the first, {stats['after_last']} after the "
                  f"last, {len(stats['errors'])} errors; per backend: a={a.count} b={b.count} "
                  f"c={c.count}")
            self.assertEqual(stats["errors"], [])
            self.assertEqual([rc for rc, _ in results], [0] * RECONFIGURES, results)
            self.assertGreaterEqual(stats["done"], MIN_CONNECTIONS)
            self.assertGreater(stats["before_first"], 0)
            self.assertGreater(stats["after_last"], 0)
            self.assertGreater(c.count, 0)  # c only entered with a reconfigure
            self.assertEqual(h.log().count("reconfigured: 1 frontend"), RECONFIGURES)
            # The last set was sets[(RECONFIGURES - 1) % 3]: new connections follow it.
            last = sets[(RECONFIGURES - 1) % len(sets)]
            seen = {exchange(port, b"after")[0] for _ in range(6)}
            self.assertEqual(seen, set(last))


if __name__ == "__main__":
    unittest.main()
