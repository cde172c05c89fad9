"""Reconfigure and SIGHUP storms under load: while clients echo random payloads (every byte
checked) and download streams that outlive several reloads, hamba's --config file is rewritten
and SIGHUP sent, and `hamba reconfigure` given, 40 times in all, 50 ms apart, over three servers.
Expected: 0 client errors, every payload intact, hamba still running, and its descriptors and
memory back to where they were once the load is over (a reload leaks nothing).
"""

import os
import random
import signal
import threading
import time
import unittest

from fault_support import SANITIZED, ServerProcess, download, echo, fd_count
from hamba_helpers import rss_kib
from harness import Hamba, free_port, wait_until

STORM = 40
CLIENT_THREADS = 3
MAX_SECONDS = 60


def yaml_for(port, servers):
    lines = ["frontends:", f"  - bind: '127.0.0.1:{port}'", "    servers:"]
    lines += [f"      - '{s.address()}'" for s in servers]
    return "\n".join(lines) + "\n"


class ReloadStorm(unittest.TestCase):
    def test_reconfigure_and_sighup_storm_under_load(self):
        port = free_port()
        with ServerProcess("a") as a, ServerProcess("b") as b, ServerProcess("c") as c:
            servers = [a, b, c]
            with Hamba("--check-interval", "200ms", config=yaml_for(port, [a, b]),
                       ports=[port]) as hamba:
                time.sleep(0.3)
                fds_before, rss_before = fd_count(hamba.pid), rss_kib(hamba.pid)
                lock = threading.Lock()
                stats = {"done": 0, "errors": []}
                stop = threading.Event()
                deadline = time.monotonic() + MAX_SECONDS

                def client(seed):
                    rng = random.Random(seed)
                    while not stop.is_set() and time.monotonic() < deadline:
                        if rng.random() < 0.1:  # a longer one, across several reloads
                            r = download(port, 2 << 20, b"storm%d" % seed, read_size=16384,
                                         pause=0.001)
                        else:
                            r = echo(port, rng.randbytes(rng.randint(1, 64 * 1024)))
                        with lock:
                            if r.ok:
                                stats["done"] += 1
                            else:
                                stats["errors"].append(repr(r))

                threads = [threading.Thread(target=client, args=(i,), daemon=True)
                           for i in range(CLIENT_THREADS)]
                for t in threads:
                    t.start()
                rng = random.Random(14)
                results = []
                try:
                    for i in range(STORM):
                        chosen = rng.sample(servers, rng.randint(1, 3))
                        if i % 2:
                            # Replaced by rename, as editors and config mounts do: a file
                            # rewritten in place can be read half-written (even empty, which
                            # is a valid configuration of no frontend).
                            with open(hamba.config + ".new", "w") as f:
                                f.write(yaml_for(port, chosen))
                            os.rename(hamba.config + ".new", hamba.config)
                            hamba.signal(signal.SIGHUP)
                        else:
                            r = hamba.ctl("reconfigure", "--balance",
                                          rng.choice(["roundrobin", "leastconn"]),
                                          f"127.0.0.1:{port}", *[s.address() for s in chosen])
                            results.append((r.returncode, r.stderr))
                        time.sleep(0.05)
                    time.sleep(0.5)
                finally:
                    stop.set()
                    for t in threads:
                        t.join(MAX_SECONDS)
                print(f"storm of {STORM} reloads: {stats['done']} transfers, "
                      f"{len(stats['errors'])} errors")
                self.assertEqual(stats["errors"], [])
                self.assertGreater(stats["done"], 50)
                self.assertEqual([rc for rc, _ in results], [0] * len(results), results)
                self.assertTrue(hamba.running(), hamba.log())
                # Nothing left behind: descriptors back to their count, memory near its size.
                wait_until(lambda: fd_count(hamba.pid) <= fds_before + 1, timeout=10,
                           what=f"descriptors back to {fds_before}")
                fds_after, rss_after = fd_count(hamba.pid), rss_kib(hamba.pid)
                print(f"descriptors {fds_before} -> {fds_after}, RSS {rss_before} -> "
                      f"{rss_after} KiB")
                if not SANITIZED:
                    self.assertLess(rss_after - rss_before, 4096)
                self.assertEqual(hamba.stop(), 0, hamba.log())
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
