"""The queue of clients waiting for a free slot (server maxconn, global maxconn): a client queued
because the only server up was full gets one of the others at once when that server goes down
or is disabled (with every server down, hamba tries them anyway), rather than waiting out its
connect timeout; with a global maxconn over two frontends, a freed slot goes to the frontends in
turn, so a busy first frontend does not starve the second; a server removed by a reconfigure
and added back by the next one still counts the session it holds against its maxconn; and a
client that arrives in the loop turn that frees a slot queues behind the clients waiting for it;
and on a frontend with 18 routes whose servers are full, a freed slot reaches the client of its
route at the back of the queue."""

import select
import signal
import socket
import threading
import unittest

from hamba_helpers import TaggedEcho, _Server, connect, stats_json
from slow_path import python_client_hello
from harness import Hamba, assert_stops_cleanly, free_port, probe_done, read_all, wait_until


class LastServerUpGoes(unittest.TestCase):
    def test_last_server_up_goes_down(self):
        self.check(lambda s1, hamba: s1.close())  # s1's checks fail: no server is up any more

    def test_last_server_up_is_disabled(self):
        def disable(s1, hamba):
            r = hamba.ctl("disable", s1.address())
            self.assertEqual(r.returncode, 0, r.stderr)
        self.check(disable)

    def check(self, take_s1_away):
        port, admin, s2_port = free_port(), free_port(), free_port()
        with TaggedEcho("s1") as s1:
            # fall 1: one failed check is DOWN; rise 1000: a server DOWN stays DOWN.
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                      f'  - bind: "127.0.0.1:{port}"\n    connect_timeout: 3s\n'
                      f'    check: {{interval: 200ms, timeout: 1s, rise: 1000, fall: 1}}\n'
                      f'    servers:\n'
                      f'      - {{address: "{s1.address()}", maxconn: 1}}\n'
                      f'      - {{address: "127.0.0.1:{s2_port}", maxconn: 1}}\n')
            with Hamba(config=config, ports=[port, admin]) as hamba:
                # s2 refuses its first check (nothing listens yet): DOWN, and stays DOWN.
                wait_until(lambda: f"127.0.0.1:{s2_port} is DOWN" in hamba.log(), what="s2 DOWN")
                with TaggedEcho("s2", port=s2_port):
                    a = connect(port)
                    self.assertEqual(a.recv(16), b"s1\n")  # the only server up, now full
                    b = connect(port)
                    wait_until(lambda: stats_json(admin)["frontends"][0]["queued"] == 1,
                               what="b queued")
                    take_s1_away(s1, hamba)
                    self.assertEqual(b.recv(16), b"s2\n", hamba.log())
                    a.close()
                    b.close()
                    assert_stops_cleanly(self, hamba)


class OrderServer(_Server):
    """Reads each connection to EOF, notes what it got (in the order connections end), echoes."""

    def __init__(self):
        self.order = []
        self.lock = threading.Lock()
        super().__init__()

    def serve(self, conn):
        data = read_all(conn)
        if data:  # the health check and wait_port send nothing
            with self.lock:
                self.order.append(data.decode())
        conn.sendall(data)


class GlobalMaxconnSharedFairly(unittest.TestCase):
    def test_second_frontend_is_not_starved(self):
        port_a, port_b = free_port(), free_port()
        with OrderServer() as server:
            config = "maxconn: 1\nfrontends:\n" + "".join(
                f'  - bind: "127.0.0.1:{port}"\n    check: false\n'
                f'    servers: ["{server.address()}"]\n' for port in (port_a, port_b))
            # One worker: each worker holds one waiting client per listener in hand, so with
            # several the order across frontends is decided per worker, not by this turn.
            with Hamba("--threads", "1", config=config, ports=[port_a, port_b]) as hamba:
                # A0 holds the only slot; five more clients of A, then one of B, wait.
                holder = connect(port_a)
                holder.sendall(b"A0")
                wait_until(lambda: server.active >= 1, what="A0 at the server")
                waiting = []
                for name, port in [(f"A{i}", port_a) for i in range(1, 6)] + [("B1", port_b)]:
                    c = connect(port)
                    c.sendall(name.encode())
                    c.shutdown(socket.SHUT_WR)
                    waiting.append((name, c))
                holder.shutdown(socket.SHUT_WR)  # A0 ends: the queue moves, one at a time
                self.assertEqual(read_all(holder), b"A0")
                for name, c in waiting:
                    self.assertEqual(read_all(c), name.encode(), hamba.log())
                    c.close()
                holder.close()
                order = server.order
                self.assertEqual(sorted(order), sorted(["A0", "B1"] + [f"A{i}" for i in
                                                                        range(1, 6)]))
                # B1 is served within the next two freed slots, not after all of A.
                self.assertLessEqual(order.index("B1"), 3, order)
                assert_stops_cleanly(self, hamba)


class ServerAddedBack(unittest.TestCase):
    def test_removed_and_added_back_server_counts_its_open_session(self):
        port, admin = free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b:
            def config(server):
                return (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                        f'  - bind: "127.0.0.1:{port}"\n    check: false\n    servers:\n'
                        f'      - {{address: "{server.address()}", maxconn: 1}}\n')

            def reconfigure(server):
                hamba.write_config(config(server))
                r = hamba.ctl("reconfigure", "--config", hamba.config)
                self.assertEqual(r.returncode, 0, r.stderr)

            with Hamba(config=config(a), ports=[port, admin]) as hamba:
                wait_until(lambda: probe_done(admin), what="the probe connection ended")
                first = connect(port)
                self.assertEqual(first.recv(16), b"a\n")  # a's one slot
                reconfigure(b)  # a leaves the configuration; `first` stays connected
                reconfigure(a)  # and comes back, with `first` still on it
                second = connect(port)

                def decided():  # queued (a is full), or connected to a (a's count was lost)
                    if select.select([second], [], [], 0)[0]:
                        return True
                    return stats_json(admin)["frontends"][0]["queued"] == 1
                wait_until(decided, what="the second client queued or connected")
                f = stats_json(admin)["frontends"][0]
                self.assertEqual(f["queued"], 1, hamba.log())
                self.assertEqual([(s["address"], s["current"], s["maxconn"]) for s in f["servers"]],
                                 [(a.address(), 1, 1)])
                first.close()  # a's slot frees: the queued client takes it
                self.assertEqual(second.recv(16), b"a\n", hamba.log())
                second.close()
                assert_stops_cleanly(self, hamba)


class ByeServer(_Server):
    """Greets each connection with "s1\n", echoes, and closes it itself on a line "bye"."""

    def serve(self, conn):
        conn.sendall(b"s1\n")
        while True:
            data = conn.recv(4096)
            if not data or data.startswith(b"bye"):
                return
            conn.sendall(data)


class QueuedBeforeNewcomers(unittest.TestCase):
    """A client queued for a full server gets the slot its holder frees, not a client that
    arrives in the same loop turn (HAProxy queues newcomers behind waiting clients too). The
    freed slot and the newcomer land together: hamba is stopped while the holder's connection
    ends and the newcomer connects, so both are in the first poll after it resumes, the end
    first."""

    def test_queued_client_gets_the_freed_slot_first(self):
        port, admin = free_port(), free_port()
        with ByeServer() as server:
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                      f'  - bind: "127.0.0.1:{port}"\n    check: false\n'
                      f'    connect_timeout: 20s\n'
                      f'    servers: [{{address: "{server.address()}", maxconn: 1}}]\n')
            with Hamba("--threads", "1", config=config, ports=[port, admin]) as hamba:
                queued = lambda: stats_json(admin)["frontends"][0]["queued"]
                for round_ in range(3):
                    holder = connect(port)
                    self.assertEqual(holder.recv(16), b"s1\n")
                    waiting = connect(port)
                    wait_until(lambda: queued() == 1, what="the second client queued")
                    # The server ends the holder's connection on its side; hamba passes the
                    # half-close on and waits for the holder's own end.
                    holder.sendall(b"bye\n")
                    self.assertEqual(holder.recv(16), b"")
                    hamba.signal(signal.SIGSTOP)
                    try:
                        holder.close()
                        newcomer = connect(port)  # the kernel completes it: hamba is stopped
                    finally:
                        hamba.signal(signal.SIGCONT)
                    waiting.settimeout(15)
                    try:
                        got = waiting.recv(16)
                    except TimeoutError:
                        got = b"(nothing in 15 s)"
                    self.assertEqual(got, b"s1\n",
                                     f"round {round_}: the queued client lost its turn\n"
                                     f"{hamba.log()[-2000:]}")
                    wait_until(lambda: queued() == 1, what="the newcomer queued behind it")
                    waiting.sendall(b"bye\n")
                    waiting.close()
                    newcomer.settimeout(15)
                    self.assertEqual(newcomer.recv(16), b"s1\n")
                    newcomer.sendall(b"bye\n")
                    newcomer.close()
                    wait_until(lambda: stats_json(admin)["frontends"][0]["current"] == 0,
                               what="every connection ended")
                assert_stops_cleanly(self, hamba)



def read_tag(sock):
    """The TaggedEcho greeting line, without the newline (the echo that follows stays unread)."""
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
    return line.decode().strip()


class ManyFullRoutes(unittest.TestCase):
    """A frontend's queue holds clients of many routes; the walk that serves it skips a route
    whose servers are full for the clients behind it, and still reaches a route with room
    however many full ones are ahead (more than the walk remembers: 18 routes here)."""

    ROUTES = 18

    def test_a_route_with_room_is_reached_behind_many_full_ones(self):
        port, admin = free_port(), free_port()
        servers = [TaggedEcho(f"s{i}") for i in range(self.ROUTES)]
        try:
            routes = "".join(
                f'      - {{name: r{i}, sni: [r{i}.test], '
                f'servers: [{{address: "{srv.address()}", maxconn: 1}}]}}\n'
                for i, srv in enumerate(servers))
            config = (f'admin: "127.0.0.1:{admin}"\nfrontends:\n'
                      f'  - bind: "127.0.0.1:{port}"\n    check: false\n'
                      f'    connect_timeout: 20s\n'
                      f'    servers: ["{servers[0].address()}"]\n'  # the default route
                      f'    routes:\n{routes}')
            with Hamba("--threads", "1", config=config, ports=[port, admin]) as hamba:
                def hello(i):
                    s = socket.create_connection(("127.0.0.1", port), timeout=20)
                    s.sendall(python_client_hello(f"r{i}.test"))
                    return s
                holders = [hello(i) for i in range(self.ROUTES)]
                for i, h in enumerate(holders):
                    self.assertEqual(read_tag(h), f"s{i}")
                # One waiting client per route, in route order: the last route's at the back.
                waiting = [hello(i) for i in range(self.ROUTES)]
                wait_until(lambda: stats_json(admin)["frontends"][0]["queued"] == self.ROUTES,
                           what=f"{self.ROUTES} clients queued")
                holders[-1].close()  # the last route's server has room again
                last = waiting[-1]
                last.settimeout(15)
                try:
                    got = read_tag(last)
                except TimeoutError:
                    got = "(nothing in 15 s)"
                self.assertEqual(got, f"s{self.ROUTES - 1}", hamba.log()[-2000:])
                for s in holders[:-1] + waiting:
                    s.close()
                assert_stops_cleanly(self, hamba)
        finally:
            for srv in servers:
                srv.close()


if __name__ == "__main__":
    unittest.main()
