"""Weights and source hashing through real sockets: 40 connections over weights 3 and 1 land 30
and 10, `hamba weight` changes the share live (an SNI route's servers too), and `balance: source`
keeps each client address (127.0.0.2, 127.0.0.3) on one server, moving only the clients of a
server taken out."""

import json
import os
import socket
import tempfile
import unittest

from hamba_helpers import TagServer
from harness import (Hamba, assert_stops_cleanly, free_port, hamba_command, http_request,
                     probe_done, read_all, wait_until, write_file)


def fetch(port, source=None):
    """One connection through hamba (from `source`, a loopback address): the backend's tag."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0) if source else None) as c:
        return read_all(c).decode()


def config(port, servers, extra=""):
    lines = [f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: false\n{extra}    servers:']
    for address, weight in servers:
        lines.append(f'      - {{address: "{address}", weight: {weight}}}')
    return "\n".join(lines) + "\n"


class Weights(unittest.TestCase):
    def test_weights_3_and_1_land_30_and_10_and_change_live(self):
        port = free_port()
        with TagServer("a") as a, TagServer("b") as b:
            admin = free_port()
            with Hamba(config=config(port, [(a.address(), 3), (b.address(), 1)]),
                       ports=[port, admin], env={"ADMIN": f"127.0.0.1:{admin}"}) as hamba:
                # Smooth weighted round robin repeats every 4 picks (A A B A), so any 40 in a row
                # hold 30 and 10, once wait_port's probe has taken its turn (a worker may accept
                # it a moment after the port answered, in the middle of the 40).
                wait_until(lambda: probe_done(admin), what="the probe connection ended")
                counts = {"a": 0, "b": 0}
                for _ in range(40):
                    counts[fetch(port)] += 1
                self.assertEqual(counts, {"a": 30, "b": 10}, hamba.log())

                r = hamba.ctl("weight", b.address(), "3")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("weight", r.stderr)
                counts = {"a": 0, "b": 0}
                for _ in range(40):
                    counts[fetch(port)] += 1
                self.assertEqual(counts, {"a": 20, "b": 20}, hamba.log())
                shown = hamba.ctl("showconfig").stdout
                self.assertIn("weight: 3", shown)
                self.assertNotIn("weight: 1\n", shown)

                bad = hamba.ctl("weight", b.address(), "300")
                self.assertEqual(bad.returncode, 2, bad.stderr)
                self.assertIn("300", bad.stderr)
                assert_stops_cleanly(self, hamba)

    def test_weight_of_a_server_only_a_route_has(self):
        port, admin = free_port(), free_port()
        with TagServer("d") as d, TagServer("r") as r:
            text = (f'frontends:\n  - bind: "127.0.0.1:{port}"\n    check: false\n'
                    f'    servers: ["{d.address()}"]\n    routes:\n      - name: r\n'
                    f'        sni: [r.test]\n        servers: ["{r.address()}"]\n')
            with Hamba(config=text, ports=[port, admin],
                       env={"ADMIN": f"127.0.0.1:{admin}"}) as hamba:
                res = hamba.ctl("weight", r.address(), "7")
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertIn(f"weight {r.address()} 7: 1 server", res.stderr)
                self.assertIn("weight: 7", hamba.ctl("showconfig").stdout)
                _, _, body = http_request(admin, "GET", "/stats.json")
                servers = {s["backend"]: s for s in json.loads(body)["frontends"][0]["servers"]}
                self.assertEqual(servers["r"]["weight"], 7)
                self.assertEqual(servers["default"]["weight"], 1)
                assert_stops_cleanly(self, hamba)

    def test_bad_weight_in_yaml_names_file_line_and_column(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as d:
            for weight in (0, 300):
                path = write_file(os.path.join(d, "hamba.yaml"),
                                  config(port, [("127.0.0.1:1", weight)]))
                r = hamba_command("debugconfig", "--config", path)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
                self.assertIn(f"{path}:5:", r.stderr)
                self.assertIn(f"weight {weight}", r.stderr)


class Source(unittest.TestCase):
    def test_each_client_address_sticks_and_only_a_removed_servers_clients_move(self):
        port = free_port()
        with TagServer("a") as a, TagServer("b") as b, TagServer("c") as c:
            with Hamba(config=config(port, [(a.address(), 1), (b.address(), 1), (c.address(), 1)],
                                     "    balance: source\n"), ports=[port]) as hamba:
                home = {}
                for source in ("127.0.0.2", "127.0.0.3"):
                    tags = {fetch(port, source) for _ in range(12)}
                    self.assertEqual(len(tags), 1, (source, tags, hamba.log()))
                    home[source] = tags.pop()
                servers = {"a": a, "b": b, "c": c}
                # Take the first client's server out: that client moves (and sticks again),
                # the second one stays unless it was on the same server.
                out = home["127.0.0.2"]
                r = hamba.ctl("disable", servers[out].address())
                self.assertEqual(r.returncode, 0, r.stderr)
                moved = {fetch(port, "127.0.0.2") for _ in range(12)}
                self.assertEqual(len(moved), 1, moved)
                self.assertNotIn(out, moved)
                if home["127.0.0.3"] != out:
                    self.assertEqual({fetch(port, "127.0.0.3") for _ in range(12)},
                                     {home["127.0.0.3"]})
                # Back in: everyone is home again.
                self.assertEqual(hamba.ctl("enable", servers[out].address()).returncode, 0)
                for source, tag in home.items():
                    self.assertEqual({fetch(port, source) for _ in range(6)}, {tag})
                self.assertIn("balance: source", hamba.ctl("showconfig").stdout)
                assert_stops_cleanly(self, hamba)

    def test_unknown_balance_is_refused_with_its_position(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as d:
            path = write_file(os.path.join(d, "hamba.yaml"),
                              config(port, [("127.0.0.1:1", 1)], "    balance: sourse\n"))
            r = hamba_command("debugconfig", "--config", path)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"{path}:4:", r.stderr)
            self.assertIn("sourse", r.stderr)


if __name__ == "__main__":
    unittest.main()
