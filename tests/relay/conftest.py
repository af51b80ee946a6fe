"""Fixtures for the relay's tests: encoded frame streams and relays listening on loopback port 0."""

from dataclasses import dataclass, replace

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.logger import globalLogPublisher
from twisted.web.client import Agent, PartialDownloadError, readBody

from depthcam.codec import ClassicEncoder, DepthFrame, DepthUnits, StreamDecoder
from depthcam.codec.vectors import synthetic_frames
from depthcam.relay.auth import BearerTokenCheck
from depthcam.relay.config import RelayConfig
from depthcam.relay.resources import build_relay
from twisted.web.http_headers import Headers
from tests.relay.clients import ClientTracker

TOKEN = "relay-test-token-0123456789"
KEYFRAME_INTERVAL = 10


class EncodedStream:
    """Wire frames of one encoder run, encoded on demand and kept; with their expected codes."""

    def __init__(self, make_frame, encoder=None):
        self._make_frame = make_frame
        self._encoder = encoder or ClassicEncoder(keyframe_interval=KEYFRAME_INTERVAL)
        self._decoder = StreamDecoder()
        self.messages = []
        self.codes = []  # by sequence: what a correct decoder shows for that frame

    def __getitem__(self, index):
        while len(self.messages) <= index:
            message = self._encoder.encode(self._make_frame(len(self.messages)))
            self.messages.append(message)
            self.codes.append(self._decoder.decode(message).codes)
        return self.messages[index]

    def first(self, count):
        return [self[index] for index in range(count)]


@pytest.fixture(scope="session")
def scene_stream():
    """A small moving scene (about 1.5 kB a frame), keyframe every KEYFRAME_INTERVAL frames."""
    frames = synthetic_frames(48)
    return EncodedStream(lambda index: frames[index % len(frames)])


@pytest.fixture(scope="session")
def noise_stream():
    """Random depth (about 10 kB a frame, LZMA cannot shrink it), to fill socket buffers fast."""
    rng = np.random.default_rng(3)

    def make_frame(index):
        raw = rng.integers(450, 1000, (480, 640), dtype=np.uint16)
        return DepthFrame(raw, DepthUnits.RAW_DISPARITY, 1.6e9 + index / 30)

    return EncodedStream(make_frame)


@pytest.fixture
def relay_log():
    """Every log event emitted while the test runs."""
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@dataclass
class RunningRelay:
    """A relay listening on loopback, the clients opened against it, and a way to GET its pages."""

    relay: object
    listening_port: object
    clients: ClientTracker

    @property
    def port(self):
        return self.listening_port.getHost().port

    @property
    def registry(self):
        return self.relay.registry

    def stream(self, name="s"):
        return self.registry.streams[name]

    async def get(self, path, token=None):
        """(status, body) of an HTTP GET, with ``Authorization: Bearer <token>`` if given."""
        headers = Headers({b"authorization": [f"Bearer {token}".encode()]} if token else {})
        response = await Agent(reactor).request(
            b"GET", f"http://127.0.0.1:{self.port}{path}".encode(), headers)
        try:
            body = await readBody(response)
        except PartialDownloadError as exc:  # an answer without a length, closed at its end
            body = exc.response
        return response.code, body


@pytest_twisted.async_yield_fixture
async def start_relay(tmp_path):
    """Call with RelayConfig fields to start a relay on port 0; everything is closed afterwards."""
    running = []

    def start(**fields):
        config = replace(RelayConfig(client_dir=tmp_path / "client"), port=0, **fields)
        relay = build_relay(config, BearerTokenCheck(TOKEN), reactor)
        port = reactor.listenTCP(0, relay.site, interface="127.0.0.1")
        running.append(RunningRelay(relay, port, ClientTracker(port.getHost().port)))
        return running[-1]

    yield start
    for relay in running:
        await relay.clients.close_all()
        await relay.listening_port.stopListening()
