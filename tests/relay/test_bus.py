"""relay/bus.py in one process: two relays joined through a real local hub (relay/hub.py) on a Unix socket."""

from dataclasses import replace

import pytest_twisted
from twisted.internet import reactor

from depthcam.protocol.closecodes import CloseCode
from depthcam.relay.auth import BearerTokenCheck
from depthcam.relay.bus import BusLink
from depthcam.relay.config import RelayConfig
from depthcam.relay.hub import HubBus, HubFactory
from depthcam.relay.resources import build_relay
from tests.relay.clients import ClientTracker, assert_decodes_in_order
from tests.relay.conftest import KEYFRAME_INTERVAL, TOKEN


class _Joined:
    """A relay built with a BusLink on the hub, listening on loopback port 0."""

    def __init__(self, hub_path, tmp_path):
        self.link = BusLink(HubBus(hub_path, reactor), reactor)
        config = replace(RelayConfig(client_dir=tmp_path / "client"), port=0)
        self.relay = build_relay(config, BearerTokenCheck(TOKEN), reactor, self.link)
        self.port = reactor.listenTCP(0, self.relay.site, interface="127.0.0.1")
        self.clients = ClientTracker(self.port.getHost().port)
        self.link.start()


@pytest_twisted.async_yield_fixture
async def joined_relays(tmp_path):
    """Two relays, A and B, joined through one local hub; all closed afterwards."""
    hub_path = str(tmp_path / "hub.sock")
    hub = reactor.listenUNIX(hub_path, HubFactory())
    relays = [_Joined(hub_path, tmp_path), _Joined(hub_path, tmp_path)]
    for joined in relays:
        await _until(lambda joined=joined: joined.link.bus.is_connected)
    yield relays
    for joined in relays:
        await joined.clients.close_all()
        joined.link.stop()
        await joined.port.stopListening()
    await hub.stopListening()


async def _until(condition, timeout_s=20.0):
    """Wait, letting the reactor run, until ``condition()`` holds."""
    from twisted.internet import task

    waited = 0.0
    while not condition():
        assert waited < timeout_s, "timed out"
        await task.deferLater(reactor, 0.01, lambda: None)
        waited += 0.01


@pytest_twisted.ensureDeferred
async def test_frames_from_a_source_on_one_relay_reach_viewers_of_the_other(joined_relays, scene_stream):
    """A viewer on relay B decodes, in order, what a source sends to relay A, and A's source hears it."""
    relay_a, relay_b = joined_relays
    viewer = await relay_b.clients.viewer()
    source = await relay_a.clients.source(token=TOKEN)
    await _until(lambda: relay_b.link.stats()["subscribed_streams"] == ["s"])
    for message in scene_stream.first(3 * KEYFRAME_INTERVAL):
        source.send_frame(message)
    await viewer.wait_for_frames(3 * KEYFRAME_INTERVAL)
    assert_decodes_in_order(viewer)
    assert relay_a.link.frames_published == 3 * KEYFRAME_INTERVAL
    # The viewer on B counts for A's source (after B announced it), though A has none of its own.
    await _until(lambda: relay_a.relay.registry.streams["s"].remote_viewer_count(
        reactor.seconds(), BusLink.VIEWER_COUNT_EXPIRY_S) == 1)
    assert len(relay_a.relay.registry.streams["s"].fanout) == 0


@pytest_twisted.ensureDeferred
async def test_a_newer_source_on_another_relay_replaces_the_older_one(joined_relays, scene_stream):
    """Newest source wins across relays: A's source is closed with 4001 when B gets one, and A's
    viewer goes on with B's frames from a keyframe."""
    relay_a, relay_b = joined_relays
    viewer = await relay_a.clients.viewer()
    older = await relay_a.clients.source(token=TOKEN)
    for message in scene_stream.first(KEYFRAME_INTERVAL):
        older.send_frame(message)
    await viewer.wait_for_frames(KEYFRAME_INTERVAL)
    newer = await relay_b.clients.source(token=TOKEN)
    await older.closed_d
    assert older.close_code == CloseCode.SOURCE_REPLACED
    assert relay_a.link.sources_superseded == 1 and relay_b.link.sources_superseded == 0
    await _until(lambda: relay_a.link.stats()["subscribed_streams"] == ["s"])
    for message in scene_stream.first(3 * KEYFRAME_INTERVAL)[KEYFRAME_INTERVAL:]:
        newer.send_frame(message)
    await viewer.wait_for_frames(3 * KEYFRAME_INTERVAL)
    assert_decodes_in_order(viewer)
    assert not newer.closed
