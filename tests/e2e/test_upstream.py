"""``depthcam-relay --upstream ws://HOST:PORT/view/NAME``: a relay chained behind another, real processes."""

import pytest_twisted

from tests.e2e.conftest import relay_stats
from tests.e2e.scaling import (
    assert_decodable_with_gaps_at_keyframes, eventually, free_port, push_source, start_relay,
)
from tests.relay.clients import ClientTracker, assert_decodes_in_order

FLOWING_FRAMES = 60


@pytest_twisted.async_yield_fixture
async def trackers():
    opened = []

    def make(port):
        opened.append(ClientTracker(port))
        return opened[-1]

    yield make
    for tracker in opened:
        await tracker.close_all()


@pytest_twisted.ensureDeferred
async def test_chained_relay_resumes_at_a_keyframe_after_its_upstream_restarts(programs, trackers):
    """A viewer of the edge relay decodes the origin's stream in order; the origin is SIGKILLed and
    started again on its port, the edge reconnects by itself, and the viewer goes on from a keyframe."""
    origin_port = free_port()
    origin = start_relay(programs, port=origin_port)
    push_source(programs, origin.port)
    edge = start_relay(programs, "--upstream", f"ws://127.0.0.1:{origin_port}/view/default")
    viewer = await trackers(edge.port).viewer("default")
    await viewer.wait_for_frames(FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodes_in_order(viewer)
    assert relay_stats(edge.port)["streams"]["default"]["source_connected"]

    origin.kill()
    await eventually(lambda: not relay_stats(edge.port)["streams"]["default"]["source_connected"],
                     "the edge to notice its upstream went")
    cut_at = len(viewer.frames)
    start_relay(programs, port=origin_port)  # the source reconnects to it by itself
    await eventually(lambda: relay_stats(edge.port)["streams"]["default"]["source_connected"],
                     "the edge to reconnect to its upstream")
    await viewer.wait_for_frames(cut_at + FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodable_with_gaps_at_keyframes(viewer)
