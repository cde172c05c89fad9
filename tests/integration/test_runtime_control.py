"""hamba's control socket and the original's commands, against a real running hamba:

- `hamba run` with no config starts empty and binds nothing (no TCP or UDP socket at all);
  `reconfigure PORT BACKEND` configures it; `showconfig` prints it;
- `hamba status` prints one line of state and exits 0 while hamba serves, 1 when none answers; `debugconfig` prints any command line as YAML that --config reads back;
- an invalid reconfigure (bad port, a bind address already in use) is refused with the reason,
  exits non-zero, and the running configuration stays (still served, still shown);
- disable / enable / drain HOST:PORT steer new connections; drain lets an open one finish;
- the control socket is mode 0600.
"""

import os
import signal
import socket
import stat
import tempfile
import unittest

from hamba_helpers import TaggedEcho, proc_sockets
from harness import (Hamba, bin_path, free_port, http_request, run, send_and_read_all, wait_port,
                     wait_until)
from runtime_support import exchange


def inet_sockets(pid):
    """The TCP and UDP sockets (IPv4 and IPv6) that process pid holds, as "proto local-address"."""
    return [f"{s['proto']} {s['local']}" for s in proc_sockets(pid)]


class ControlTest(unittest.TestCase):
    def test_run_empty_binds_nothing_until_configured(self):
        port = free_port()
        with TaggedEcho("a") as a, Hamba("run") as h:
            self.assertEqual(inet_sockets(h.pid), [])
            r = h.ctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("waiting for a configuration", r.stdout)
            self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)

            self.assertEqual(h.ctl("reconfigure", f"127.0.0.1:{port}", a.address()).returncode, 0)
            wait_port(port)
            # The check above can fail: now that there is a frontend, there is a socket.
            self.assertGreaterEqual(len(inet_sockets(h.pid)), 1, inet_sockets(h.pid))

    def test_status_is_one_line_and_exit_0_while_serving(self):
        port = free_port()
        with TaggedEcho("a") as a, Hamba(f"127.0.0.1:{port}", a.address(), "127.0.0.1:1",
                                         ports=[port]) as h:
            r = h.ctl("status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^serving 1 frontend, [0-2]/2 servers up, \d+ connections?, "
                                       r"up \d+ s\n$")
            # 127.0.0.1:1 refuses: once checked it is down, and hamba still says it serves.
            # Down after 3 failed checks 2 s apart: 6 s, more on a loaded machine.
            wait_until(lambda: "1/2 servers up" in h.ctl("status").stdout, timeout=40,
                       what="one server down")
            self.assertEqual(h.ctl("status").returncode, 0)
            self.assertEqual(h.ctl("status", "now").returncode, 2)

            h.signal(signal.SIGTERM)
            h.wait()
            r = h.ctl("status")
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot reach hamba", r.stderr)

    def test_run_empty_then_reconfigure_and_showconfig(self):
        port = free_port()
        with TaggedEcho("a") as a, Hamba("run") as h:
            shown = h.ctl("showconfig")
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertIn("frontends:", shown.stdout)
            self.assertNotIn("bind:", shown.stdout)
            st = os.stat(h.control)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

            r = h.ctl("reconfigure", f"127.0.0.1:{port}", a.address())
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_port(port)
            self.assertEqual(exchange(port, b"x" * 1000), ("a", True))

            shown = h.ctl("showconfig")
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertIn(f'bind: "127.0.0.1:{port}"', shown.stdout)
            self.assertIn(f'address: "{a.address()}"', shown.stdout)
            self.assertIn("reconfigured: 1 frontend", h.log())

            # No --config: SIGHUP has nothing to reload and must not end the process.
            h.signal(signal.SIGHUP)
            wait_until(lambda: "SIGHUP: no --config file" in h.log(), what="SIGHUP logged")
            self.assertTrue(h.running())
            self.assertEqual(exchange(port, b"after SIGHUP"), ("a", True))

    def test_reconfigure_that_names_no_admin_keeps_it(self):
        port, port2, admin = free_port(), free_port(), free_port()
        with TaggedEcho("a") as a, Hamba(f"127.0.0.1:{port}", a.address(),
                                         env={"ADMIN": f"127.0.0.1:{admin}"},
                                         ports=[port]) as h:
            wait_port(admin)
            # The client's environment has no ADMIN: the new configuration names none.
            r = run([bin_path("hamba"), "reconfigure", f"127.0.0.1:{port2}", a.address()],
                    env={"HAMBA_CONTROL": h.control})
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_port(port2)
            self.assertIn(f"admin endpoints stay on http://127.0.0.1:{admin}/", h.log())
            status, _, body = http_request(admin, "GET", "/stats.json")
            self.assertEqual(status, 200)
            self.assertIn(str(port2).encode(), body)
            # One that names another address moves it, and says so.
            admin2 = free_port()
            r = h.ctl("reconfigure", f"127.0.0.1:{port2}", a.address(),
                      env={"ADMIN": f"127.0.0.1:{admin2}"})
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_port(admin2)
            self.assertIn(f"admin endpoints move from http://127.0.0.1:{admin}/ to "
                          f"http://127.0.0.1:{admin2}/", h.log())

    def test_debugconfig_prints_yaml_that_config_reads_back(self):
        port = free_port()
        r = run([bin_path("hamba"), "debugconfig", "--balance", "leastconn", str(port), "web1",
                 "80", "web2:8080"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("balance: leastconn", r.stdout)
        self.assertIn('address: "web1:80"', r.stdout)
        self.assertIn('address: "web2:8080"', r.stdout)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(r.stdout)
        try:
            again = run([bin_path("hamba"), "debugconfig", "--config", f.name])
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertEqual(again.stdout, r.stdout)
        finally:
            os.unlink(f.name)

    def test_invalid_reconfigure_keeps_the_running_config(self):
        port = free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, \
                Hamba(f"127.0.0.1:{port}", a.address(), ports=[port]) as h:
            before = h.ctl("showconfig").stdout

            # Refused by the client before sending: a port out of range.
            r = h.ctl("reconfigure", "127.0.0.1:99999", b.address())
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("99999", r.stderr)

            # Refused by the running hamba: the new bind address is taken by someone else.
            with socket.socket() as squatter:
                squatter.bind(("127.0.0.1", 0))
                squatter.listen(1)
                taken = squatter.getsockname()[1]
                r = h.ctl("reconfigure", f"127.0.0.1:{taken}", b.address())
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("refused", r.stderr)
                self.assertIn(str(taken), r.stderr)
                self.assertIn("EADDRINUSE", r.stderr)

            # A YAML file with a typo: refused with the file, line and column.
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                f.write(f"frontends:\n  - bind: '127.0.0.1:{port}'\n    backendz: [{b.address()}]\n")
            try:
                r = h.ctl("reconfigure", "--config", f.name)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(f"{f.name}:3:5:", r.stderr)
                self.assertIn("'backendz'", r.stderr)
            finally:
                os.unlink(f.name)

            self.assertEqual(h.ctl("showconfig").stdout, before)
            for _ in range(5):
                self.assertEqual(exchange(port, b"still here"), ("a", True))
            self.assertEqual(b.count, 0)

    def test_nothing_listening_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as d:
            r = run([bin_path("hamba"), "showconfig"], env={"HAMBA_CONTROL": f"{d}/none.sock"})
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot reach hamba", r.stderr)
            self.assertIn(f"{d}/none.sock", r.stderr)

    def test_disable_enable_drain(self):
        port = free_port()
        with TaggedEcho("a") as a, TaggedEcho("b") as b, \
                Hamba(f"127.0.0.1:{port}", a.address(), b.address(),
                      ports=[port]) as h:
            tags = [exchange(port, b"p")[0] for _ in range(10)]
            self.assertEqual(sorted(set(tags)), ["a", "b"])

            r = h.ctl("disable", a.address())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("state: disabled", h.ctl("showconfig").stdout)
            tags = [exchange(port, b"p")[0] for _ in range(10)]
            self.assertEqual(tags, ["b"] * 10)

            r = h.ctl("enable", a.address())
            self.assertEqual(r.returncode, 0, r.stderr)
            tags = [exchange(port, b"p")[0] for _ in range(10)]
            self.assertEqual(tags.count("a"), 5)
            self.assertEqual(tags.count("b"), 5)

            # drain: a connection already on `a` goes on; new ones go to `b` only.
            open_conn = None
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if s.recv(2) == b"a\n":
                    open_conn = s
                    break
                s.close()
            self.assertIsNotNone(open_conn, "no connection landed on a")
            with open_conn:
                r = h.ctl("drain", a.address())
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("state: drain", h.ctl("showconfig").stdout)
                tags = [exchange(port, b"p")[0] for _ in range(6)]
                self.assertEqual(tags, ["b"] * 6)
                self.assertEqual(send_and_read_all(open_conn, b"finishing on a"), b"finishing on a")

            r = h.ctl("disable", "127.0.0.1:1")
            self.assertEqual(r.returncode, 1)
            self.assertIn("no server 127.0.0.1:1", r.stderr)


if __name__ == "__main__":
    unittest.main()
