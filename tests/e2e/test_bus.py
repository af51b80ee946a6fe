"""Relays joined through a real redis-server (``depthcam-relay --bus``), as real processes, with faults."""

import time

import pytest
import pytest_twisted
from twisted.internet import reactor, task

from tests.e2e.conftest import SOURCE_CONNECTED, relay_stats
from tests.e2e.scaling import (
    REDIS_SERVER, RedisServer, assert_decodable_with_gaps_at_keyframes, bus_stats, eventually,
    pause, push_source, resume, start_relay,
)
from tests.relay.clients import assert_decodes_in_order

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed "
                                "(Debian: apt-get install redis-server; .ci/run installs it)")

# Frames a viewer must decode to show a stream is flowing (2 s at the source's 30 frames/s).
FLOWING_FRAMES = 60
# So long that no keyframe falls due in a test: a joiner can only start from a cache.
LONG_KEYFRAME_INTERVAL_S = "600"
# A joiner caught up from the cache starts at once; one waiting for a keyframe would wait 600 s.
JOINER_FIRST_FRAME_WITHIN_S = 2.0


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()



def bus_relay(programs, redis, *args):
    return start_relay(programs, "--bus", redis.url, *args)


@pytest_twisted.ensureDeferred
async def test_viewer_of_another_relay_gets_every_frame_through_redis(programs, redis, trackers):
    """A viewer on relay B decodes, in order, the stream whose source pushes to relay A; a late
    joiner on B starts at once from B's own cache."""
    relay_a, relay_b = bus_relay(programs, redis), bus_relay(programs, redis)
    push_source(programs, relay_a.port, "--keyframe-interval", LONG_KEYFRAME_INTERVAL_S)
    on_b = trackers(relay_b.port)
    viewer = await on_b.viewer("default")
    await viewer.wait_for_frames(FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodes_in_order(viewer)

    joined_at = time.time()
    late = await on_b.viewer("default")
    await late.wait_for_frames(1)
    assert time.time() - joined_at < JOINER_FIRST_FRAME_WITHIN_S
    assert late.frames[0].header.is_keyframe and late.errors == []
    assert late.frames[0].header.capture_time_us / 1e6 < joined_at
    await late.wait_for_frames(20)
    assert_decodes_in_order(late)

    stats_a, stats_b = bus_stats(relay_a.port), bus_stats(relay_b.port)
    assert stats_a["connected"] and stats_b["connected"]
    assert stats_b["subscribed_streams"] == ["default"] and stats_a["subscribed_streams"] == []
    assert stats_a["frames_published"] >= FLOWING_FRAMES
    assert stats_b["frames_received"] >= FLOWING_FRAMES
    assert relay_stats(relay_a.port)["streams"]["default"]["source_connected"]
    assert not relay_stats(relay_b.port)["streams"]["default"]["source_connected"]


@pytest_twisted.ensureDeferred
async def test_redis_restarted_mid_stream_viewers_resume_at_a_keyframe(programs, redis, trackers):
    """Redis killed and started again: both relays reconnect and resubscribe, and the viewer on the
    subscribing relay goes on from a keyframe, never receiving a frame it cannot decode."""
    relay_a, relay_b = bus_relay(programs, redis), bus_relay(programs, redis)
    push_source(programs, relay_a.port)
    viewer = await trackers(relay_b.port).viewer("default")
    await viewer.wait_for_frames(30)

    redis.kill()
    await eventually(lambda: bus_stats(relay_b.port)["disconnects"] >= 1, "relay B to see Redis go")
    before_restart = len(viewer.frames)
    redis.start()
    await eventually(lambda: bus_stats(relay_b.port)["connects"] >= 2, "relay B to reconnect")
    await eventually(lambda: bus_stats(relay_a.port)["connects"] >= 2, "relay A to reconnect")
    await viewer.wait_for_frames(before_restart + FLOWING_FRAMES)
    assert not viewer.closed
    assert_decodable_with_gaps_at_keyframes(viewer)
    assert bus_stats(relay_b.port)["subscribed_streams"] == ["default"]


@pytest_twisted.ensureDeferred
async def test_source_moving_to_another_relay_takes_the_stream_everywhere(programs, redis, trackers):
    """A second source for the stream on relay B wins over the one on relay A (closed with 4001);
    once the first is gone, viewers on both relays go on with the new source's frames."""
    relay_a, relay_b = bus_relay(programs, redis), bus_relay(programs, redis)
    first = push_source(programs, relay_a.port)
    first.wait_for(SOURCE_CONNECTED)
    on_a = await trackers(relay_a.port).viewer("default")
    on_b = await trackers(relay_b.port).viewer("default")
    await on_b.wait_for_frames(30)

    second = push_source(programs, relay_b.port)
    second.wait_for(SOURCE_CONNECTED)
    # The first source hears it was replaced (4001) from relay A, which heard B's newer claim.
    first.wait_for(r"another source took this stream over \(4001\)")
    first.kill()  # the camera moved: the old box is gone
    await eventually(lambda: relay_stats(relay_a.port)["totals"]["bus"]["sources_superseded"] == 1,
                     "relay A to count the superseded source")
    await eventually(lambda: not relay_stats(relay_a.port)["streams"]["default"]["source_connected"],
                     "relay A to let its source go")
    moved_a, moved_b = len(on_a.frames), len(on_b.frames)
    await on_a.wait_for_frames(moved_a + FLOWING_FRAMES)
    await on_b.wait_for_frames(moved_b + FLOWING_FRAMES)
    for viewer in (on_a, on_b):
        assert not viewer.closed
        assert_decodable_with_gaps_at_keyframes(viewer)
    assert relay_stats(relay_b.port)["streams"]["default"]["source_connected"]
    assert bus_stats(relay_a.port)["subscribed_streams"] == ["default"]


@pytest.fixture
def small_buffer_redis(tmp_path):
    """A Redis that drops a subscriber as soon as 32 kB wait for it (the default is 32 MB): less
    than the 2 s of frames (about 45 kB/s) that wait while a relay is stopped."""
    server = RedisServer(tmp_path, "--client-output-buffer-limit", "pubsub 32kb 16kb 1")
    server.start()
    yield server
    server.kill()


# How long relay B stops in the late-reader test: a backlog far past the 1 s budget, far below
# what Redis holds for a subscriber before dropping it.
STALL_S = 4.0
# The budget is 1 s; a frame forwarded after the stall may also have waited this long for a
# loaded machine to run relay B (a frame of the backlog would be up to STALL_S old).
LOADED_MARGIN_S = 1.0


@pytest_twisted.ensureDeferred
async def test_a_relay_that_read_the_bus_late_skips_the_backlog(programs, redis, trackers):
    """Relay B stops for a few seconds while Redis keeps its frames: running again, it drops the
    backlog instead of sending its viewer seconds of stale frames, and goes on from a keyframe
    within its --max-lag; every frame decodes and nothing after that keyframe is lost."""
    relay_a = bus_relay(programs, redis)
    relay_b = bus_relay(programs, redis, "--max-lag", "1")
    push_source(programs, relay_a.port)
    on_b = await trackers(relay_b.port).viewer("default")
    await on_b.wait_for_frames(30)

    pause(relay_b)
    try:
        await task.deferLater(reactor, STALL_S, lambda: None)
    finally:
        resumed_wall_s = time.time()
        resume(relay_b)
    resumed_at = len(on_b.frames)
    await on_b.wait_for_frames(resumed_at + FLOWING_FRAMES)

    stats = await eventually(lambda: bus_stats(relay_b.port), "relay B's /stats")
    assert stats["connects"] == 1  # Redis kept it: the backlog did reach relay B
    assert stats["frames_skipped_late"] > 0
    after = on_b.frames[resumed_at:]
    assert after[0].header.is_keyframe
    oldest_s = min(frame.header.capture_time_us for frame in after) / 1e6
    assert resumed_wall_s - oldest_s <= 1.0 + LOADED_MARGIN_S, "relay B forwarded stale frames"
    sequences = [frame.header.sequence for frame in after]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert_decodable_with_gaps_at_keyframes(on_b)


@pytest_twisted.ensureDeferred
async def test_a_stalled_subscriber_relay_blocks_no_one_and_recovers(programs, small_buffer_redis,
                                                                     trackers):
    """Relay B stops reading (SIGSTOP) until Redis drops it: relay A's viewers go on meanwhile, and
    once B runs again it resubscribes and its viewer goes on from a keyframe, nothing corrupt."""
    redis = small_buffer_redis
    relay_a, relay_b = bus_relay(programs, redis), bus_relay(programs, redis)
    push_source(programs, relay_a.port)
    on_a = await trackers(relay_a.port).viewer("default")
    on_b = await trackers(relay_b.port).viewer("default")
    await on_b.wait_for_frames(30)

    pause(relay_b)
    try:
        stalled_at = len(on_a.frames)
        await on_a.wait_for_frames(stalled_at + FLOWING_FRAMES)
    finally:
        resume(relay_b)
    await eventually(lambda: bus_stats(relay_b.port)["connects"] >= 2,
                     "relay B to be dropped by Redis and reconnect")
    resumed_at = len(on_b.frames)
    await on_b.wait_for_frames(resumed_at + FLOWING_FRAMES)
    for viewer in (on_a, on_b):
        assert not viewer.closed
        assert_decodable_with_gaps_at_keyframes(viewer)
