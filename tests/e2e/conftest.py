"""Fixtures for the end-to-end tests: depthcam programs as real processes on loopback.

Each program's output goes to a file that the tests read (a pipe nobody drains could fill and stall
the program). Every process started through these fixtures is killed at teardown, pass or fail.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import pytest_twisted

from depthcam.protocol.tokens import TOKEN_ENV_VAR
from depthcam.relay.redisbus import PASSWORD_ENV_VAR
from tests.certificates import Certificates
from tests.relay.clients import ClientTracker

TOKEN = "e2e-test-token-0123456789abcdef"
# A program that has not printed its ready line by then has failed (a loaded CI machine included).
STARTUP_TIMEOUT_S = 30
# How often a wait rechecks its condition (a file's contents, /stats).
POLL_INTERVAL_S = 0.02
RELAY_READY = re.compile(r"relay on http://127\.0\.0\.1:(\d+)/")
SOURCE_CONNECTED = "connected to relay"


def wait_until(condition, timeout_s, what):
    """Poll ``condition()`` until it returns something true, and return that; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


class Program:
    """One ``python -m MODULE ARGS`` process, its stdout and stderr together in ``log_path``.

    Secrets reach it only through ``environ``, never from the environment the tests run in.
    """

    def __init__(self, log_path, module, *args, environ=None):
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items()
               if key not in (TOKEN_ENV_VAR, PASSWORD_ENV_VAR)}
        env.update(environ or {})
        env["PYTHONUNBUFFERED"] = "1"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern, count=1, timeout_s=STARTUP_TIMEOUT_S):
        """The first match of regex ``pattern`` in the output, once it has ``count`` matches."""

        def matched():
            matches = list(re.finditer(pattern, self.output()))
            if len(matches) >= count:
                return matches[0]
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.log_path.name} exited ({self.process.returncode}) before printing "
                    f"{pattern!r}:\n{self.output()}"
                )
            return None

        return wait_until(matched, timeout_s, f"{pattern!r} in {self.log_path.name}")

    def kill(self):
        """SIGKILL, as a crash would end it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class Programs:
    """Starts programs in ``folder`` and kills every one of them in ``kill_all``."""

    def __init__(self, folder):
        self.folder = folder
        self.token_file = folder / "relay-token.txt"
        self.token_file.write_text(TOKEN + "\n")
        self.token_file.chmod(0o600)  # read_token refuses a file others may read
        self._started = []

    def start(self, name, module, *args, environ=None):
        program = Program(self.folder / f"{name}-{len(self._started)}.log", module, *args,
                          environ=environ)
        self._started.append(program)
        return program

    def relay(self, port=0):
        """A relay on 127.0.0.1 (port 0: any free one), once it listens; its port is ``.port``."""
        relay = self.start("relay", "depthcam.relay", "--host", "127.0.0.1", "--port", str(port),
                           "--token-file", str(self.token_file))
        relay.port = int(relay.wait_for(RELAY_READY).group(1))
        return relay

    def push_source(self, relay_port, *args):
        """A push-mode source publishing to the relay's default stream, once it is connected."""
        source = self.start("source", "depthcam.source", "push", f"ws://127.0.0.1:{relay_port}",
                            "--token-file", str(self.token_file), *args)
        source.wait_for(SOURCE_CONNECTED)
        return source

    def kill_all(self):
        for program in self._started:
            program.kill()


@pytest.fixture
def programs(tmp_path):
    """Programs for one test, killed at its end."""
    started = Programs(tmp_path)
    yield started
    started.kill_all()


@pytest.fixture(scope="module")
def module_programs(tmp_path_factory):
    """Programs shared by a module's tests, killed at its end."""
    started = Programs(tmp_path_factory.mktemp("programs"))
    yield started
    started.kill_all()


@pytest_twisted.async_yield_fixture
async def trackers():
    """``trackers(port)`` opens a ClientTracker on that port; every client they opened is closed
    after the test."""
    opened = []

    def make(port):
        opened.append(ClientTracker(port))
        return opened[-1]

    yield make
    for tracker in opened:
        await tracker.close_all()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    """A CA and certificates it signs (``tests/certificates.py``), for TLS buses and upstreams."""
    return Certificates(tmp_path_factory.mktemp("certs"))


def relay_stats(port):
    """The relay's /stats document (as the token holder sees it), or None while nothing answers."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/stats",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.load(response)
    except (OSError, urllib.error.URLError):
        return None


def source_connected(port, stream="default"):
    """Whether the relay on ``port`` says ``stream`` has its source (its /stats)."""
    stats = relay_stats(port)
    return bool(stats and stats["streams"].get(stream, {}).get("source_connected"))
