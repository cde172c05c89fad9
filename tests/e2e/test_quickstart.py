"""The README's Quick start: `scripts/up` brings the root docker-compose.yml up (DockerCoins with
hamba as `rng`), the web UI answers and mines, and `docker-compose down` is done in seconds with
nothing left; where no Docker can be had, `scripts/up` says so in one line and points to
scripts/run-local. Also:
every compose file of the repository is valid for the installed Compose, and the remote-Redis
ones refuse to start without the variables that say where Redis is."""

import glob
import os
import unittest

from docker_e2e import (POLL, SOURCE_DIR, Stack, assert_nothing_left, build_images, http_get,
                        main, require_docker, rng_hostname, run, wait_mining)
from harness import wait_until


class QuickStartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_docker()

    def test_compose_files_are_valid(self):
        files = ["docker-compose.yml"] + sorted(
            os.path.relpath(f, SOURCE_DIR) for f in glob.glob(os.path.join(SOURCE_DIR,
                                                                          "examples", "*.yml"))
            if not f.endswith("prometheus.yml"))
        self.assertGreaterEqual(len(files), 6)
        for f in files:
            with self.subTest(file=f):
                stack = Stack(f, "config", env={"REDIS_HOST": "172.17.0.1", "REDIS_PORT": "1234"})
                stack.cmd("config", "-q")
        for f in ("examples/extra-hosts.yml", "examples/ambassador.yml"):
            with self.subTest(file=f, variables="missing"):
                stack = Stack(f, "config")
                stack.env["REDIS_HOST"] = ""
                out = stack.cmd("config", "-q", check=False)
                self.assertNotEqual(out.returncode, 0)
                self.assertIn("REDIS_HOST", out.stderr)

    def test_root_compose_file_runs_dockercoins_with_hamba(self):
        build_images()
        with Stack("docker-compose.yml", "quickstart") as stack:
            # `-d`, as a compose user types it: docker-compose 1.29 would print its usage for a
            # doubled -d and start nothing, and scripts/up must not then say it is mining.
            up = run([os.path.join(SOURCE_DIR, "scripts", "up"), "-d"], timeout=900,
                     env={**stack.env, "COMPOSE_PROJECT_NAME": stack.project})
            self.assertIn("web UI on http://localhost:", up.stderr)
            wait_mining(stack.webui_port)
            status, body = http_get(f"http://127.0.0.1:{stack.webui_port}/")  # -> /index.html
            self.assertEqual(status, 200)
            self.assertIn(b"<html", body.lower())
            # rng published on its port is hamba in front of rng1..rng3.
            seen = wait_until(lambda: len({rng_hostname(stack.rng_port) for _ in range(30)}) == 3,
                              timeout=30, what="three rng behind hamba", **POLL)
            self.assertTrue(seen)
            stack.assert_down_is_prompt(self)

    def test_up_without_docker_says_so_in_one_line(self):
        # As an unprivileged user with no engine answering: nothing can be installed or started.
        out = run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                   os.path.join(SOURCE_DIR, "scripts", "up")], check=False, quiet=True,
                  env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
        self.assertEqual(out.returncode, 1)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
        self.assertIn("scripts/run-local", out.stderr)
        self.assertNotIn("Traceback", out.stdout + out.stderr)



def tearDownModule():
    assert_nothing_left()


if __name__ == "__main__":
    main()
