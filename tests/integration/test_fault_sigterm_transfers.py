"""SIGTERM during transfers: every transfer either completes within the grace, every byte
intact, or is reset when the grace ends; none is cut short with an orderly EOF, which a client
would take for the whole answer. Short transfers (they fit in the grace) and long ones (paced
by their server, they cannot) run at once; hamba exits 0 soon after the grace.
"""

import threading
import time
import unittest

from fault_support import ServerProcess, download
from hamba_helpers import stats_json
from harness import free_port, probe_done, start_hamba, wait_until

KIB = 1024
GRACE = 1.5


class SigtermTransfers(unittest.TestCase):
    def test_transfers_complete_or_reset_never_cut(self):
        # 256 KiB/s per connection: 128 KiB takes 0.5 s (fits), 4 MiB takes 16 s (does not).
        with ServerProcess("a", pace_kib_s=256) as a:
            admin = free_port()
            hamba, port = start_hamba([a.address()], "--grace", f"{int(GRACE * 1000)}ms",
                                      "--check-interval", "1h", "--admin", f"127.0.0.1:{admin}")
            with hamba:
                wait_until(lambda: probe_done(admin), what="probe done")
                sizes = [128 * KIB] * 4 + [4096 * KIB] * 4
                results = [None] * len(sizes)

                def run(i):
                    results[i] = download(port, sizes[i], b"term%d" % i, timeout=20)

                threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sizes))]
                for t in threads:
                    t.start()
                wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == len(sizes),
                           what="every transfer started")
                term_at = time.monotonic()
                hamba.signal(15)
                for t in threads:
                    t.join(30)
                code = hamba.wait(timeout=10)
                exited_after = time.monotonic() - term_at
                print(f"SIGTERM with a {GRACE}s grace: {results}; exit {code} after "
                      f"{exited_after:.2f}s")
                self.assertEqual(code, 0, hamba.log())
                self.assertLess(exited_after, GRACE + 3)
                for size, r in zip(sizes, results):
                    self.assertIsNotNone(r)
                    if r.end == "eof":
                        self.assertTrue(r.ok, f"cut short silently: {r} of {size} bytes")
                    else:
                        self.assertEqual(r.end, "reset", r)
                        self.assertTrue(r.prefix, r)
                short = [r for size, r in zip(sizes, results) if size == 128 * KIB]
                long = [r for size, r in zip(sizes, results) if size > 128 * KIB]
                self.assertTrue(all(r.ok for r in short), short)  # they fit in the grace
                self.assertTrue(all(r.end == "reset" for r in long), long)
                self.assertNotIn("Sanitizer", hamba.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
