"""Fixtures for the security tests: certificates (``tests/certificates.py``), and depthcam programs as real processes.

Every program runs as ``python -m MODULE`` on loopback port 0, its output in a file the tests
read; every process started here is killed at teardown, pass or fail. A program may be started
with a lower open-file limit (``resource.setrlimit`` in the child before it runs).
"""

import os
import re
import resource
import signal
import subprocess
import sys
import time

import pytest

from depthcam.protocol.tokens import TOKEN_ENV_VAR
from tests.certificates import Certificates

TOKEN = "security-test-token-0123456789"
# A program that has not printed its ready line by then has failed (a loaded CI machine included).
STARTUP_TIMEOUT_S = 30
POLL_INTERVAL_S = 0.05
RELAY_READY = re.compile(r"relay on (https?)://127\.0\.0\.1:(\d+)/")
SOURCE_READY = re.compile(r"open (https?)://\S+?:(\d+)/")


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
    """One ``python -m MODULE ARGS`` process, its stdout and stderr together in ``log_path``."""

    def __init__(self, log_path, module, *args, fd_limit=None):
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV_VAR}
        env["PYTHONUNBUFFERED"] = "1"

        def lower_fd_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, fd_limit)

        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, *map(str, args)], stdout=log,
                stderr=subprocess.STDOUT, env=env,
                preexec_fn=lower_fd_limit if fd_limit else None,
            )
        self.port = None

    def output(self):
        return self.log_path.read_text(errors="replace")

    def lines(self):
        return self.output().splitlines()

    def wait_for(self, pattern, timeout_s=STARTUP_TIMEOUT_S):
        """The first match of regex ``pattern`` in the output."""

        def matched():
            if self.process.poll() is not None:
                found = re.search(pattern, self.output())
                if found:
                    return found
                raise AssertionError(f"exited ({self.process.returncode}) before "
                                     f"{pattern!r}:\n{self.output()[-3000:]}")
            return re.search(pattern, self.output())

        return wait_until(matched, timeout_s, f"{pattern!r} in {self.log_path.name}")

    def exit_status(self, timeout_s=STARTUP_TIMEOUT_S):
        return self.process.wait(timeout=timeout_s)

    def signal(self, signum):
        self.process.send_signal(signum)

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def programs(tmp_path):
    """``programs.relay(*flags)``, ``programs.source(*args)``, ``programs.start(module, *args)``."""

    class Programs:
        token_file = tmp_path / "relay-token.txt"

        def __init__(self):
            self.started = []
            self.token_file.write_text(TOKEN + "\n")
            self.token_file.chmod(0o600)

        def start(self, module, *args, fd_limit=None):
            name = module.rsplit(".", 1)[-1]
            program = Program(tmp_path / f"{name}-{len(self.started)}.log", module, *args,
                              fd_limit=fd_limit)
            self.started.append(program)
            return program

        def relay(self, *flags, fd_limit=None, token_file=None):
            """A relay on 127.0.0.1, port 0; waits for its ready line and sets ``.port``."""
            program = self.start("depthcam.relay", "--host", "127.0.0.1", "--port", 0,
                                 "--token-file", token_file or self.token_file, *flags,
                                 fd_limit=fd_limit)
            program.port = int(program.wait_for(RELAY_READY).group(2))
            return program

        def source(self, *args):
            """A direct-mode source (built-in scene) on port 0; waits for its banner."""
            program = self.start("depthcam.source", "serve", "--port", 0, *args)
            program.port = int(program.wait_for(SOURCE_READY).group(2))
            return program

    running = Programs()
    yield running
    for program in running.started:
        program.kill()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory):
    """A CA and certificates for the TLS tests, made with ``cryptography``."""
    return Certificates(tmp_path_factory.mktemp("certs"))
