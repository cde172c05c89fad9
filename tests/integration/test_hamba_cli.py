"""hamba's command line as a user meets it: exit status and the one line on stderr naming the
bad word (2 for usage errors, 1 for run-time ones), usage, --version, debugconfig."""

import os
import socket
import tempfile
import unittest

from harness import Process, bin_path, free_port, run, wait_port, wait_until


def hamba(*args, env=None):
    return run([bin_path("hamba"), *args], timeout=20, env=env)


class CommandLine(unittest.TestCase):
    def assert_usage_error(self, args, word, env=None):
        r = hamba(*args, env=env)
        self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("hamba: "), lines[0])
        self.assertIn(word, lines[0])

    def test_bad_input(self):
        self.assert_usage_error(["0", "a:1"], "port 0")
        self.assert_usage_error(["65536", "a:1"], "65536")
        self.assert_usage_error(["eighty", "a:1"], '"eighty"')
        self.assert_usage_error(["80", "redis"], '"redis" has no port')
        self.assert_usage_error(["80", "a:1", "b:2", "dangling"], '"dangling"')
        self.assert_usage_error(["80", "a:x"], '"x"')
        self.assert_usage_error(["80"], "no server")
        self.assert_usage_error(["--frobnicate", "80", "a:1"], '"--frobnicate"')
        self.assert_usage_error(["--balance", "random", "80", "a:1"], '"random"')
        self.assert_usage_error(["80", "a:1"], "HAMBA_CONNECT_TIMEOUT",
                                env={"HAMBA_CONNECT_TIMEOUT": "soon"})

    def test_bad_thread_counts(self):
        self.assert_usage_error(["--threads", "0", "80", "a:1"], '--threads "0"')
        self.assert_usage_error(["--threads", "abc", "80", "a:1"], '--threads "abc"')
        self.assert_usage_error(["80", "a:1"], 'HAMBA_THREADS "-2"', env={"HAMBA_THREADS": "-2"})
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "hamba.yaml")
            with open(path, "w") as f:
                f.write("threads: -1\nfrontends: []\n")
            for action in ("run", "debugconfig"):
                r = hamba(action, "--config", path)
                self.assertEqual(r.returncode, 2, r.stderr)
                lines = r.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn("threads: -1", lines[0])
                self.assertIn(f"{path}:1:", lines[0])

    def test_no_argument_prints_usage(self):
        r = hamba()
        self.assertEqual(r.returncode, 2)
        for form in ("[ADDR:]PORT SERVER", "run", "reconfigure", "debugconfig", "showconfig",
                     "--connect-timeout", "--maxconn", "--balance"):
            self.assertIn(form, r.stderr)
        h = hamba("--help")
        self.assertEqual(h.returncode, 0)
        self.assertIn("reconfigure", h.stdout)
        v = hamba("--version")
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"^hamba \d+\.\d+")

    def test_debugconfig_prints_the_effective_config(self):
        r = hamba("debugconfig", "--idle-timeout", "1m", "8080", "rng1", "80", "rng2:81",
                  "[::1]:82", env={"HAMBA_BALANCE": "leastconn"})
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in ('bind: ":8080"', 'address: "rng1:80"', 'address: "rng2:81"',
                     'address: "[::1]:82"', "balance: leastconn", "idle_timeout: 1m",
                     "connect_timeout: 5s"):
            self.assertIn(text, r.stdout)
        # No limit is printed unless given: the global one comes from the file-descriptor limit
        # at start, and servers have none.
        self.assertNotIn("maxconn", r.stdout)
        limited = hamba("debugconfig", "--maxconn", "256", "--server-maxconn", "32", "8080",
                        "rng1:80")
        self.assertEqual(limited.returncode, 0, limited.stderr)
        self.assertIn("maxconn: 256", limited.stdout)
        self.assertIn("maxconn: 32", limited.stdout)
        # The whole command as one string (some platforms pass it so).
        one = hamba("debugconfig 8080 rng1 80 rng2:81")
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertIn('address: "rng1:80"', one.stdout)

    def test_a_file_saying_backends_still_loads_with_one_warning(self):
        # `backends:` is the old word for a frontend's `servers:`: the file loads as before,
        # debugconfig prints `servers:`, and one warning line names the file, however many
        # frontends use the old word.
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "old.yaml")
            with open(path, "w") as f:
                f.write("frontends:\n"
                        "  - bind: ':8080'\n    backends: [rng1:80]\n"
                        "  - bind: ':8081'\n    backends: [rng2:80]\n")
            r = hamba("debugconfig", "--config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("servers:", r.stdout)
        self.assertNotIn("backends", r.stdout)
        self.assertIn('address: "rng2:80"', r.stdout)
        warnings = [line for line in r.stderr.splitlines() if "'backends'" in line]
        self.assertEqual(len(warnings), 1, r.stderr)
        self.assertIn(f"{path}:3:", warnings[0])
        self.assertIn("'servers'", warnings[0])

    def test_address_in_use(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            r = hamba(f"127.0.0.1:{port}", "127.0.0.1:9")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"127.0.0.1:{port}", r.stderr)
            self.assertIn("EADDRINUSE", r.stderr)

    def test_address_not_local(self):
        r = hamba("192.0.2.1:8080", "127.0.0.1:9")  # TEST-NET-1: not this host's
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("192.0.2.1:8080", r.stderr)
        self.assertIn("EADDRNOTAVAIL", r.stderr)

    def test_listen_on_one_address_and_ipv6(self):
        port = free_port()
        with Process([bin_path("hamba"), f"127.0.0.1:{port}", "127.0.0.1:9"]) as p:
            wait_port(port)
            # The kernel takes connections from listen(2) on, a moment before the line is
            # written: wait for it rather than read the log once.
            wait_until(lambda: f"127.0.0.1:{port}" in p.log(), what="the listening line")
        if socket.has_ipv6:
            try:
                port6 = free_port("::1")
            except OSError:
                return  # no IPv6 loopback here
            with Process([bin_path("hamba"), f"[::1]:{port6}", "[::1]:9"]) as p:
                wait_port(port6, host="::1")
                wait_until(lambda: f"[::1]:{port6}" in p.log(), what="the listening line")


if __name__ == "__main__":
    unittest.main(verbosity=2)
