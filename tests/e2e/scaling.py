"""Helpers for the scaling tests: a real redis-server (plain or TLS), relays with scaling flags, reactor-friendly waits.

The waits here poll with ``deferLater`` so in-process viewers keep reading while a test waits;
every wait has a deadline.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

from twisted.internet import reactor, task

from depthcam.codec import CodecError
from depthcam.codec.header import parse_header
from tests.e2e.conftest import POLL_INTERVAL_S, RELAY_READY, STARTUP_TIMEOUT_S, relay_stats
from tests.relay.clients import RecordingViewer

REDIS_SERVER = shutil.which("redis-server")
# Long enough for a loaded 2-core machine; a wait that runs out has failed.
EVENT_TIMEOUT_S = 30.0
WORKERS_READY = r"relay on http://127\.0\.0\.1:(\d+)/ \((\d+) workers"


def free_port():
    """A TCP port nothing listens on now (for a server that must come back on the same port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A real ``redis-server`` on a loopback port, no persistence; kill and start it again at will."""

    def __init__(self, folder, *config):
        self.folder = folder
        self.port = free_port()
        self.config = config
        self.process = None
        self.starts = 0

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def listen_flags(self):
        return ["--port", str(self.port)]

    def log(self):
        """What the running server has logged."""
        log_path = self.folder / f"redis-{self.starts}.log"
        return log_path.read_text(errors="replace") if log_path.exists() else ""

    def start(self):
        self.starts += 1
        log_path = self.folder / f"redis-{self.starts}.log"
        self.process = subprocess.Popen(
            [REDIS_SERVER, *self.listen_flags(), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--logfile", str(log_path),
             *self.config])
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while "Ready to accept connections" not in (log_path.read_text() if log_path.exists() else ""):
            assert self.process.poll() is None, f"redis-server exited: {log_path.read_text()}"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(POLL_INTERVAL_S)

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class TLSRedisServer(RedisServer):
    """A redis-server that speaks only TLS (no plain port: ``--port 0``) and wants ``password``.

    Its certificate is ``certificates.good`` (the test CA's, for 127.0.0.1); clients need no
    certificate of their own. It logs each connection (``--loglevel verbose``), so a test can
    count a client's attempts.
    """

    def __init__(self, folder, certificates, password, *config):
        cert, key = certificates.good
        super().__init__(folder, "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                         "--tls-ca-cert-file", str(certificates.ca), "--tls-auth-clients", "no",
                         "--requirepass", password, "--loglevel", "verbose", *config)

    @property
    def url(self):
        return f"rediss://127.0.0.1:{self.port}/0"

    def listen_flags(self):
        return ["--port", "0", "--tls-port", str(self.port)]


def start_relay(programs, *args, port=0, ready=RELAY_READY, environ=None):
    """A relay process with extra flags (and ``environ`` added to its environment), once it
    listens; its port is ``.port``."""
    relay = programs.start("relay", "depthcam.relay", "--host", "127.0.0.1", "--port", str(port),
                           "--token-file", str(programs.token_file), *args, environ=environ)
    relay.port = int(relay.wait_for(ready).group(1))
    return relay


def push_source(programs, port, *args, stream=None):
    """A push source to ``port`` (its default stream, or ``stream``), keyframe every second."""
    url = f"ws://127.0.0.1:{port}" + ("" if stream is None else f"/source/{stream}")
    return programs.start("source", "depthcam.source", "push", url, "--token-file",
                          str(programs.token_file), "--keyframe-interval", "1", *args)


async def eventually(condition, what, timeout_s=EVENT_TIMEOUT_S):
    """Poll ``condition()`` while the reactor runs, until true; return it; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await task.deferLater(reactor, POLL_INTERVAL_S * 5, lambda: None)


def bus_stats(port):
    """The ``bus`` entry of the relay's /stats, or None while it does not answer."""
    stats = relay_stats(port)
    return None if stats is None else stats["totals"].get("bus")


def assert_decodable_with_gaps_at_keyframes(viewer):
    """A RecordingViewer decoded every frame, starting at a keyframe, and every jump is to a keyframe."""
    assert viewer.errors == []
    assert viewer.frames and viewer.frames[0].header.is_keyframe
    for before, after in zip(viewer.frames, viewer.frames[1:]):
        if after.header.sequence != (before.header.sequence + 1) % 2**32:
            assert after.header.is_keyframe, (before.header.sequence, after.header.sequence)


def pause(program):
    """SIGSTOP: the process stops reading anything, as a very slow one would."""
    os.kill(program.process.pid, signal.SIGSTOP)


def resume(program):
    os.kill(program.process.pid, signal.SIGCONT)


class HeaderViewer(RecordingViewer):
    """A viewer that reads only each frame's header (cheap enough for many in one loaded process).

    Its ``frames`` are FrameHeaders; ``errors`` holds headers that failed to parse.
    """

    def onMessage(self, payload, isBinary):
        if not isBinary:
            self.other_messages.append(payload)
        else:
            try:
                self.frames.append(parse_header(payload)[0])
            except CodecError as exc:
                self.errors.append(exc)
        self.waiters.check()


def assert_header_chain(viewer):
    """A HeaderViewer's frames start at a keyframe, and every jump in sequence is to a keyframe."""
    assert viewer.errors == []
    assert viewer.frames and viewer.frames[0].is_keyframe
    for before, after in zip(viewer.frames, viewer.frames[1:]):
        if after.sequence != (before.sequence + 1) % 2**32:
            assert after.is_keyframe, (before.sequence, after.sequence)
