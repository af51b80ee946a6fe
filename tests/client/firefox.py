"""Debian's firefox-esr for the browser tests: the subset of Playwright's Browser and Page they use.

Firefox is driven by npm ``puppeteer-core`` over WebDriver BiDi (``firefox_driver.mjs``, one JSON
request a line), headful under ``xvfb-run -a`` with Mesa's llvmpipe (``LIBGL_ALWAYS_SOFTWARE=1``):
headless Firefox has no WebGL here. So a test written against Playwright's ``new_page``,
``goto``, ``evaluate``, ``wait_for_function``, ``on("pageerror")`` and ``close`` runs unchanged.
"""

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

FIREFOX = os.environ.get("FIREFOX", "/usr/bin/firefox-esr")
DRIVER = Path(__file__).resolve().parent / "firefox_driver.mjs"
NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
# Starting Firefox under Xvfb takes a few seconds on an idle machine; a loaded one can take far longer.
STARTUP_TIMEOUT_S = 120
# An answer's deadline beyond the request's own (a wait's timeout, a page load).
ANSWER_MARGIN_S = 60


def firefox_missing():
    """Why Firefox cannot run here, or None."""
    if not Path(FIREFOX).exists():
        return f"needs Debian's firefox-esr at {FIREFOX} (make test installs it)"
    if not shutil.which("xvfb-run"):
        return "needs xvfb-run (Debian's xvfb; make test installs it)"
    if not (NODE_MODULES / "puppeteer-core").is_dir():
        return "needs tests/client/node_modules (make test installs it)"
    return None


class FirefoxError(AssertionError):
    """Firefox or the page did not do what was asked (the driver's message says what)."""


class FirefoxBrowser:
    """One firefox-esr process, through the driver; ``close()`` ends both."""

    def __init__(self):
        self._process = subprocess.Popen(
            ["xvfb-run", "-a", "node", str(DRIVER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "LIBGL_ALWAYS_SOFTWARE": "1", "FIREFOX": FIREFOX},
            start_new_session=True,
        )
        self._next_id = 0
        self._lock = threading.Lock()
        hello = self._read_line(STARTUP_TIMEOUT_S)
        self.version = hello["version"]

    def _read_line(self, timeout_s):
        """The driver's next answer, or FirefoxError after ``timeout_s`` (then the driver is ended)."""
        result = {}
        reader = threading.Thread(target=lambda: result.update(line=self._process.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(timeout_s)
        if reader.is_alive() or not result.get("line"):
            self.close()
            raise FirefoxError(f"the Firefox driver gave no answer in {timeout_s} s: {self._process.stderr.read()[-2000:]}")
        return json.loads(result["line"])

    def request(self, op, timeout_s, **fields):
        """Send one request; return the answer (FirefoxError if the driver reports one)."""
        with self._lock:
            self._next_id += 1
            self._process.stdin.write(json.dumps({"id": self._next_id, "op": op, **fields}) + "\n")
            self._process.stdin.flush()
            answer = self._read_line(timeout_s + ANSWER_MARGIN_S)
        return answer

    def new_page(self, viewport):
        return FirefoxPage(self, viewport)

    def close(self):
        if self._process.poll() is None:
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, 9)
                self._process.wait(timeout=10)


class FirefoxPage:
    """One tab; the Playwright Page calls the browser tests make."""

    def __init__(self, browser, viewport):
        self._browser = browser
        self._listeners = []
        self._page = self._call("newPage", 60, width=viewport["width"], height=viewport["height"])["page"]

    def _call(self, op, timeout_s, **fields):
        answer = self._browser.request(op, timeout_s, **fields, **({"page": self._page} if op != "newPage" else {}))
        for message in answer.get("pageErrors", []):
            for listener in self._listeners:
                listener(message)
        if "error" in answer:
            raise FirefoxError(f"{op}: {answer['error']}")
        return answer

    def on(self, event, listener):
        assert event == "pageerror", event
        self._listeners.append(listener)

    def goto(self, url):
        self._call("goto", 60, url=url)

    def evaluate(self, expression, arg=None):
        return self._call("evaluate", 120, expression=expression, arg=arg)["value"]

    def wait_for_function(self, expression, timeout=30000):
        # An expression or a function ("() => ...", as the Chromium tests pass under the page's
        # Content-Security-Policy): the driver polls either with evaluate(), calling a function.
        self._call("waitForFunction", timeout / 1000, expression=expression, timeoutMs=timeout)

    def close(self):
        self._call("closePage", 30)
