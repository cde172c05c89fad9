"""balance: first through real sockets (HAProxy's `first`): the first server by order with room
(its maxconn) takes each connection, so connections gather on the fewest servers; a freed slot
on an earlier server takes the next connection (consolidation); with every server full the
client queues and gets the first slot that frees. The server counts every worker shares make it
exact however many clients arrive at once (the test runs with 2 workers, and 1 in its twin)."""

import threading
import unittest

from hamba_helpers import TaggedEcho, connect, stats_json
from harness import Hamba, free_port, probe_done, wait_until
from slow_path import wait_queued


def open_held(port, n):
    """`n` connections opened at once from as many threads, each held open after its server's
    greeting: (sockets, greetings)."""
    socks, tags, lock = [], [], threading.Lock()

    def one():
        s = connect(port)
        tag = s.recv(16)
        with lock:
            socks.append(s)
            tags.append(tag.decode().strip())

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return socks, tags


def current(admin):
    return {s["address"]: s["current"] for s in stats_json(admin)["frontends"][0]["servers"]}


class First(unittest.TestCase):
    def test_fills_in_order_spills_consolidates_and_queues(self):
        port, admin = free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, TaggedEcho("c") as c:
            config = f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    balance: first
    check: {{interval: 1h}}
    servers:
      - {{address: "{a.address()}", maxconn: 3}}
      - {{address: "{b.address()}", maxconn: 3, weight: 100}}
      - {{address: "{c.address()}", maxconn: 3}}
"""
            with Hamba(config=config, ports=[port, admin]) as hamba:
                held = {}  # socket -> the server that greeted it

                def add(n):
                    socks, tags = open_held(port, n)
                    held.update(zip(socks, tags))
                    return sorted(tags)

                def close_one(tag):
                    s = next(s for s, t in held.items() if t == tag)
                    del held[s]
                    s.close()

                # The start's readiness probe goes through hamba to a, maybe a moment later.
                wait_until(lambda: probe_done(admin), what="the readiness probe's turn")
                self.assertEqual(add(5), ["a", "a", "a", "b", "b"], hamba.log())
                # Two of a's close: the next two connections take their slots, not b's or c's.
                close_one("a")
                close_one("a")
                wait_until(lambda: current(admin)[a.address()] == 1, what="a's two slots free")
                self.assertEqual(add(2), ["a", "a"], hamba.log())
                # Filled to 9 at once from many clients: exactly 3 each, never past maxconn.
                self.assertEqual(add(4), ["b", "c", "c", "c"], hamba.log())
                self.assertEqual(set(current(admin).values()), {3})
                # Every server full: the next client queues, and takes the first slot freed.
                waiting = connect(port)
                wait_queued(admin, 1)
                close_one("c")
                self.assertEqual(waiting.recv(16), b"c\n", hamba.log())
                for s in list(held) + [waiting]:
                    s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
