"""Fixtures for the source's tests: one synthetic scene, real WebSocket viewers on loopback, and
a capture of the log."""

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.logger import formatEvent, globalLogPublisher

from depthcam.source.scene import SyntheticScene
from tests.relay.clients import _Waiters
from tests.source.viewers import RecordingViewer, within


@pytest.fixture(scope="session")
def scene():
    """One SyntheticScene for the whole run (building one takes a few hundred milliseconds)."""
    return SyntheticScene(seed=7)


@pytest_twisted.async_yield_fixture
async def connect_viewer():
    """``await connect_viewer(port)`` opens a RecordingViewer on /ws; all are closed afterwards."""
    viewers = []

    async def connect(port, path="/ws"):
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}{path}")
        factory.protocol = RecordingViewer
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        viewer = await within(endpoint.connect(factory))
        viewers.append(viewer)
        await within(viewer.opened)
        return viewer

    yield connect
    for viewer in viewers:
        if not viewer.closed.called:
            viewer.dropConnection(abort=True)
        await within(viewer.closed)


class LogCapture:
    """This process's log events as text, with ``wait_for`` on them (checked after each event)."""

    def __init__(self):
        self.events = []  # (time.time() of the event, text)
        self.waiters = _Waiters(self)

    def __call__(self, event):
        self.events.append((event["log_time"], formatEvent(event)))
        # Later, not inside the code that is logging: a woken test must not run in its middle.
        reactor.callLater(0, self.waiters.check)

    def lines(self, fragment):
        return [text for _, text in self.events if fragment in text]

    def times(self, fragment):
        return [when for when, text in self.events if fragment in text]

    def wait_for_line(self, fragment, count=1):
        return self.waiters.wait_for(lambda capture: len(capture.lines(fragment)) >= count,
                                     what=lambda: f"{count} log lines with {fragment!r} "
                                                  f"(got {len(self.lines(fragment))})")


@pytest.fixture
def log_capture():
    """A LogCapture of every log event during the test."""
    capture = LogCapture()
    globalLogPublisher.addObserver(capture)
    yield capture
    globalLogPublisher.removeObserver(capture)
