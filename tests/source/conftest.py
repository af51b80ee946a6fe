"""Fixtures for the source's tests: one synthetic scene, and real WebSocket viewers on loopback."""

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint

from depthcam.source.scene import SyntheticScene
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
