"""Backup servers through real sockets: a backup takes connections only while no normal server
is up, the first backup only (HAProxy's rule without `option allbackups`), and gives back as soon
as a normal server is up again. The last normal server goes away killed (SIGKILL, with checks
off: the failed connects take it down), by a failing health check, by `hamba drain` and by a
reconfigure. The slow path: a client queued for a normal server at its maxconn is not handed to
the backup (HAProxy queues it too), unless the normal servers leave while it waits."""

import unittest

from fault_support import ServerProcess, who
from hamba_helpers import TaggedEcho, connect, stats_json
from harness import Hamba, free_port, http_request, wait_until
from slow_path import SlotHolder, queued, wait_queued


def servers_yaml(normal, backups):
    items = [f'"{s.address()}"' for s in normal]
    items += [f'{{address: "{s.address()}", backup: true}}' for s in backups]
    return "[" + ", ".join(items) + "]"


def who_many(port, n):
    return [who(port) for _ in range(n)]


def server_stats(admin):
    return {s["address"]: s for s in stats_json(admin)["frontends"][0]["servers"]}


class Backup(unittest.TestCase):
    def test_killed_normal_servers_hand_over_to_the_first_backup_and_take_back(self):
        port, admin = free_port(), free_port()
        with ServerProcess("a") as a, ServerProcess("b") as b, ServerProcess("c") as c, \
                ServerProcess("d") as d:
            config = f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    check: false
    observe: {{failures: 1}}
    retry_after: 1s
    servers: {servers_yaml([a, b], [c, d])}
"""
            with Hamba(config=config, ports=[port, admin]) as hamba:
                self.assertEqual(set(who_many(port, 20)), {"a", "b"})
                stats = server_stats(admin)
                self.assertTrue(stats[c.address()]["backup"])
                self.assertFalse(stats[a.address()]["backup"])
                a.kill()
                b.kill()
                # The failed connects are retried on the next server: clients see no error, and
                # once both are DOWN every connection goes to the first backup.
                wait_until(lambda: who_many(port, 3) == ["c"] * 3, what="the backup c serving")
                self.assertEqual(who_many(port, 20), ["c"] * 20, hamba.log())
                self.assertIn("running on backup", hamba.log())
                a.start()  # same port: retry_after brings it back
                wait_until(lambda: who(port) == "a", what="a serving again")
                # b, still dead, is tried again every second: its failed connects go to a.
                self.assertEqual(set(who_many(port, 20)), {"a"}, hamba.log())
                self.assertEqual(server_stats(admin)[d.address()]["total"], 0)

    def test_a_failing_check_hands_over_to_the_backup(self):
        port, admin = free_port(), free_port()
        with ServerProcess("a") as a, ServerProcess("c") as c:
            config = f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    check: {{interval: 200ms, timeout: 200ms, rise: 1, fall: 1}}
    observe: false
    servers: {servers_yaml([a], [c])}
"""
            with Hamba(config=config, ports=[port, admin]) as hamba:
                self.assertEqual(who_many(port, 10), ["a"] * 10)
                a.kill()
                wait_until(lambda: not server_stats(admin)[a.address()]["up"],
                           what="the check taking a down")
                self.assertEqual(who_many(port, 10), ["c"] * 10, hamba.log())
                self.assertTrue(stats_json(admin)["frontends"][0]["on_backup"])
                self.assertIn(b"running on backup", http_request(admin, "GET", "/")[2])
                a.start()
                wait_until(lambda: server_stats(admin)[a.address()]["up"],
                           what="the check bringing a back")
                self.assertEqual(who_many(port, 10), ["a"] * 10, hamba.log())
                self.assertFalse(stats_json(admin)["frontends"][0]["on_backup"])

    def test_drain_and_reconfigure(self):
        port, admin = free_port(), free_port()
        with ServerProcess("a") as a, ServerProcess("c") as c:
            def config(normal, backups):
                return f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    check: {{interval: 1h}}
    servers: {servers_yaml(normal, backups)}
"""
            with Hamba(config=config([a], [c]), ports=[port, admin]) as hamba:
                self.assertEqual(who_many(port, 5), ["a"] * 5)
                self.assertEqual(hamba.ctl("drain", a.address()).returncode, 0)
                self.assertEqual(who_many(port, 5), ["c"] * 5)
                self.assertEqual(hamba.ctl("enable", a.address()).returncode, 0)
                self.assertEqual(who_many(port, 5), ["a"] * 5)
                # The roles swapped by a reconfigure: the same members, a new set in use.
                hamba.write_config(config([c], [a]))
                self.assertEqual(hamba.ctl("reconfigure", "--config", hamba.config).returncode, 0)
                self.assertEqual(who_many(port, 5), ["c"] * 5)
                shown = hamba.ctl("showconfig").stdout
                self.assertIn("backup: true", shown)
                self.assertTrue(server_stats(admin)[a.address()]["backup"])
                # A bad value at a reconfigure leaves the running configuration in place.
                hamba.write_config(config([c], [a]).replace("backup: true", "backup: maybe"))
                bad = hamba.ctl("reconfigure", "--config", hamba.config)
                self.assertNotEqual(bad.returncode, 0)
                self.assertIn("'maybe' is not true or false", bad.stderr)
                self.assertEqual(who_many(port, 5), ["c"] * 5)

    def test_a_client_queued_for_a_full_normal_server_waits_for_it_not_for_the_backup(self):
        port, admin = free_port(), free_port()
        with TaggedEcho("a") as a, TaggedEcho("c") as c:
            config = f"""admin: "127.0.0.1:{admin}"
frontends:
  - bind: "127.0.0.1:{port}"
    check: {{interval: 1h}}
    servers:
      - {{address: "{a.address()}", maxconn: 1}}
      - {{address: "{c.address()}", backup: true}}
"""
            with Hamba(config=config, ports=[port, admin]) as hamba:
                holder = SlotHolder(port, b"x", b"a\nx")
                waiting = connect(port)
                wait_queued(admin, 1)
                self.assertEqual(c.served, 0)
                holder.release()
                self.assertEqual(waiting.recv(16), b"a\n", hamba.log())
                # Queued again behind the slot it now holds: this one goes to the backup when
                # the last normal server leaves (disabled) while it waits.
                second = connect(port)
                wait_queued(admin, 1)
                self.assertEqual(hamba.ctl("disable", a.address()).returncode, 0)
                self.assertEqual(second.recv(16), b"c\n", hamba.log())
                self.assertEqual(queued(admin), 0)
                for s in (waiting, second):
                    s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
