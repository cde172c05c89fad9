"""The DockerCoins page in headless Chromium (Debian's chromium), on a stack started with
scripts/run-local: after a few seconds the speed shows a positive "~X.X hashes/second" and the
chart has points. The screenshot is kept as a test artifact (dockercoins-page.png).

Chromium is driven over --remote-debugging-pipe (the DevTools protocol, JSON messages ended by
NUL on file descriptors 3 and 4), so the page runs in real time: --virtual-time-budget would
run its one-second polls faster than the workers mine.
"""

import base64
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import artifact_path
from services_support import RunLocal


class Chromium:
    """A headless Chromium and one page, commanded over the DevTools pipe."""

    def __init__(self, width=1280, height=860):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise unittest.SkipTest("chromium not installed (apt-get install chromium)")
        self.profile = tempfile.TemporaryDirectory(prefix="dockercoins-chromium-")
        commands_r, self._commands = os.pipe()
        self._answers, answers_w = os.pipe()
        # In the child, the ends go to 3 (commands) and 4 (answers); duplicated above 10 first
        # so that 3 and 4 may be overwritten whatever they held. pass_fds keeps 3 and 4 open
        # (subprocess closes the other descriptors after preexec_fn has run).
        high_r = fcntl.fcntl(commands_r, fcntl.F_DUPFD, 10)
        high_w = fcntl.fcntl(answers_w, fcntl.F_DUPFD, 10)

        def child_fds():
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, pass_fds=(3, 4), start_new_session=True)
        for fd in (commands_r, answers_w, high_r, high_w):
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.session = None

    def call(self, method, params=None, timeout=30.0):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer["result"]
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raise TimeoutError(f"{method}: no answer within {timeout}s")

    def open(self, url):
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]

    def evaluate(self, expression):
        """The value of `expression` in the page; PageError when it threw (on a page still
        loading, an element it reads may not be there yet) or the page was still navigating."""
        try:
            answer = self.call("Runtime.evaluate",
                               {"expression": expression, "returnByValue": True})
        except RuntimeError as e:
            # Asked while the new target still navigates from about:blank to its URL (seen
            # under load): the page is loading, as when an element is not there yet.
            if "navigated or closed" in str(e) or "context" in str(e):
                raise PageError(str(e)) from None
            raise
        if "exceptionDetails" in answer:
            raise PageError(answer["exceptionDetails"].get("exception", {}).get("description")
                            or answer["exceptionDetails"].get("text"))
        return answer["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.session = None
            self.call("Browser.close", timeout=5)
            self.proc.wait(timeout=10)
        except Exception:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        os.close(self._commands)
        os.close(self._answers)
        self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PageError(RuntimeError):
    """An expression evaluated in the page threw."""


class PageTest(unittest.TestCase):
    def test_speed_and_chart(self):
        with RunLocal(workers=2) as stack, Chromium() as browser:
            browser.open(f"http://127.0.0.1:{stack.webui_port}/")
            deadline = time.monotonic() + 30
            state = {}
            while time.monotonic() < deadline:
                time.sleep(1)
                try:
                    state = browser.evaluate(
                        "({speed: document.getElementById('speed').textContent,"
                        " points: Number(document.getElementById('chart').dataset.points),"
                        " path: document.getElementById('line').getAttribute('d'),"
                        " coins: document.getElementById('coins').textContent,"
                        " status: document.getElementById('status').textContent})")
                except PageError:
                    continue  # still loading
                speed = re.fullmatch(r"~(\d+\.\d) hashes/second", state.get("speed") or "")
                if speed and float(speed.group(1)) > 0 and state["points"] >= 5:
                    break
            time.sleep(1)  # one more refresh so the screenshot shows a settled page
            browser.screenshot(artifact_path("dockercoins-page.png"))
            self.assertRegex(state["speed"], r"^~\d+\.\d hashes/second$")
            self.assertGreater(float(state["speed"][1:].split()[0]), 0, state)
            self.assertGreaterEqual(state["points"], 5, state)
            self.assertGreaterEqual(state["path"].count("L"), 4, state)  # a drawn line
            self.assertEqual(state["status"], "live", state)
            self.assertRegex(state["coins"], r"^\d[\d,]*$")


if __name__ == "__main__":
    unittest.main()
