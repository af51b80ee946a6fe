"""Fixtures for the packaging tests: the sdist and wheels, built once a session the way CI and a
user build them, and fresh virtualenvs outside the checkout with a wheel installed.

Programs run from those virtualenvs with a PATH of the virtualenv's bin/ alone (so no Node, and
nothing of the checkout's .venv), from a working directory outside the checkout, with no
PYTHONPATH: they can only find the page through the installed package.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from depthcam.protocol.tokens import TOKEN_ENV_VAR
from tests.e2e.conftest import RELAY_READY, SOURCE_CONNECTED, TOKEN, Program

REPO = Path(__file__).resolve().parents[2]
# Generous: on a loaded 2-core machine pip resolves and fetches the build requirements, npm ci
# runs, and the C coder compiles. A timeout means a hang, not a slow build.
BUILD_TIMEOUT_S = 600
INSTALL_TIMEOUT_S = 600
COMMAND_TIMEOUT_S = 60
SOURCE_READY = r"open (http://\S+?:(\d+)/) in"
# What a program must not inherit from the test's own environment.
UNSET = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", TOKEN_ENV_VAR, "NODE_PATH")

def run(argv, cwd, timeout_s, env=None):
    """Run ``argv``; its stdout and stderr together, or fail with them and the exit status."""
    result = subprocess.run([str(arg) for arg in argv], cwd=cwd, env=env, timeout=timeout_s,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, f"{argv} exited with {result.returncode}:\n{result.stdout}"
    return result.stdout


def only_file(folder, pattern):
    """The one file in ``folder`` matching glob ``pattern``."""
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


@dataclass(frozen=True)
class Dists:
    """The sdist, the wheel built from the checkout, and the wheel built from the sdist."""

    sdist: Path
    wheel: Path
    sdist_wheel: Path

    def wheels(self):
        return {"wheel": self.wheel, "sdist-wheel": self.sdist_wheel}


@pytest.fixture(scope="session")
def dists(tmp_path_factory):
    """``python -m build`` (an sdist, then a wheel from it) and ``python -m build --wheel`` (a wheel
    from the checkout), each in pip's isolated build environment, as a user or CI builds them."""
    if shutil.which("npm") is None:
        pytest.skip("building a wheel needs npm (make test installs it)")
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out / "via-sdist", REPO], out, BUILD_TIMEOUT_S)
    run([sys.executable, "-m", "build", "--wheel", "--outdir", out / "from-checkout", REPO], out,
        BUILD_TIMEOUT_S)
    return Dists(sdist=only_file(out / "via-sdist", "*.tar.gz"),
                 wheel=only_file(out / "from-checkout", "*.whl"),
                 sdist_wheel=only_file(out / "via-sdist", "*.whl"))


def wheel_names(wheel):
    """Every file name in ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


class Installed:
    """A fresh virtualenv outside the checkout with one wheel installed, and its programs."""

    def __init__(self, wheel, folder):
        self.wheel = wheel
        self.folder = folder
        self.venv = folder / "venv"
        # The programs' working directory: empty, outside the checkout.
        self.cwd = folder / "cwd"
        self.cwd.mkdir()
        self.token_file = folder / "relay-token.txt"
        self.token_file.write_text(TOKEN + "\n")
        self._started = []
        run([sys.executable, "-m", "venv", self.venv], self.cwd, INSTALL_TIMEOUT_S)
        run([self.venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel], self.cwd,
            INSTALL_TIMEOUT_S)

    @property
    def env(self):
        """The environment the installed programs run in: their bin/ is the whole PATH."""
        env = {key: value for key, value in os.environ.items() if key not in UNSET}
        env["PATH"] = str(self.venv / "bin")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def command(self, name, *args):
        """Run an installed program to its end; its output."""
        return run([self.venv / "bin" / name, *args], self.cwd, COMMAND_TIMEOUT_S, self.env)

    def start(self, name, *args):
        """Start the installed program ``name``; a Program to wait on and kill."""
        program = InstalledProgram(self.folder / f"{name}-{len(self._started)}.log",
                                   [self.venv / "bin" / name, *args], self.cwd, self.env)
        self._started.append(program)
        return program

    def source(self):
        """``depthcam-source serve`` on a free port, once it prints its URL; the page's URL is ``.url``."""
        source = self.start("depthcam-source", "serve", "--host", "127.0.0.1", "--port", "0")
        source.url = source.wait_for(SOURCE_READY).group(1)
        return source

    def relay(self):
        """``depthcam-relay`` on a free port, once it listens; its port is ``.port``."""
        relay = self.start("depthcam-relay", "--host", "127.0.0.1", "--port", "0",
                           "--token-file", self.token_file)
        relay.port = int(relay.wait_for(RELAY_READY).group(1))
        return relay

    def push_source(self, relay_port):
        """``depthcam-source push`` to the relay's default stream, once it is connected."""
        source = self.start("depthcam-source", "push", f"ws://127.0.0.1:{relay_port}",
                            "--token-file", self.token_file)
        source.wait_for(SOURCE_CONNECTED)
        return source

    def kill_all(self):
        for program in self._started:
            program.kill()
        self._started = []


class InstalledProgram(Program):
    """A Program (tests/e2e) started from an installed command instead of ``python -m``."""

    def __init__(self, log_path, argv, cwd, env):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([str(arg) for arg in argv], cwd=cwd, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="session", params=["wheel", "sdist-wheel"])
def installed(request, dists, tmp_path_factory):
    """Each wheel (from the checkout, from the sdist) in its own fresh virtualenv; programs started
    through it are killed after each test."""
    wheel = dists.wheels()[request.param]
    environment = Installed(wheel, tmp_path_factory.mktemp(f"installed-{request.param}"))
    assert shutil.which("node", path=environment.env["PATH"]) is None
    assert REPO not in environment.cwd.parents and environment.cwd != REPO
    return environment


@pytest.fixture
def installed_programs(installed):
    """The installed environment; every program a test starts in it is killed at its end."""
    yield installed
    installed.kill_all()
