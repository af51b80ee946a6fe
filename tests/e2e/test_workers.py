"""``depthcam-relay --workers N``: N real processes on one port, joined by the local hub or Redis."""

import os
import signal

import pytest
import pytest_twisted

from tests.e2e.conftest import SOURCE_CONNECTED, relay_stats
from tests.e2e.scaling import (
    REDIS_SERVER, WORKERS_READY, HeaderViewer, RedisServer, assert_header_chain, eventually,
    push_source, start_relay,
)

WORKERS = 2
# Enough viewers that the kernel's spreading puts some on each worker (all on one: 2 in 2**12).
VIEWERS = 12
FLOWING_FRAMES = 45


def header_viewer(tracker):
    return tracker.connect(HeaderViewer, "/view/default")


def workers_relay(programs, *args):
    return start_relay(programs, "--workers", str(WORKERS), *args, ready=WORKERS_READY)


async def workers_by_pid(port, count=WORKERS):
    """/stats of each worker by pid (each GET lands on some worker), once all ``count`` answered."""
    seen = {}

    def all_seen():
        stats = relay_stats(port)
        if stats is not None:
            seen[stats["totals"]["bus"]["pid"]] = stats
        return len(seen) >= count

    await eventually(all_seen, f"/stats from {count} workers")
    return seen



async def assert_every_viewer_on_every_worker_sees_the_stream(programs, relay, trackers):
    push_source(programs, relay.port).wait_for(SOURCE_CONNECTED)
    tracker = trackers(relay.port)
    viewers = [await header_viewer(tracker) for _ in range(VIEWERS)]
    for viewer in viewers:
        await viewer.wait_for_frames(FLOWING_FRAMES)
        assert not viewer.closed
        assert_header_chain(viewer)
    workers = await workers_by_pid(relay.port)
    counts = [stats["streams"]["default"]["viewers"] for stats in workers.values()]
    sources = [stats["streams"]["default"]["source_connected"] for stats in workers.values()]
    assert sum(counts) == VIEWERS
    assert sorted(sources) == [False, True]
    return viewers, workers


@pytest_twisted.ensureDeferred
async def test_viewers_on_every_worker_see_the_stream_without_redis(programs, trackers):
    """With no --bus, viewers on the worker without the source get the stream through the local hub."""
    relay = workers_relay(programs)
    _, workers = await assert_every_viewer_on_every_worker_sees_the_stream(programs, relay, trackers)
    assert all(stats["totals"]["bus"]["bus"].startswith("local hub") for stats in workers.values())


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
@pytest_twisted.ensureDeferred
async def test_viewers_on_every_worker_see_the_stream_through_redis(programs, trackers, tmp_path):
    """With --bus, the workers join through Redis instead."""
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        relay = workers_relay(programs, "--bus", redis.url)
        _, workers = await assert_every_viewer_on_every_worker_sees_the_stream(programs, relay,
                                                                               trackers)
        assert all(stats["totals"]["bus"]["bus"] == redis.url for stats in workers.values())
    finally:
        redis.kill()


@pytest_twisted.ensureDeferred
async def test_a_killed_worker_is_restarted_and_its_viewers_come_back(programs, trackers):
    """SIGKILL the worker without the source: its viewers are cut, the others go on; it is started
    again, and viewers that reconnect (as the browser client does) watch again."""
    relay = workers_relay(programs)
    viewers, workers = await assert_every_viewer_on_every_worker_sees_the_stream(
        programs, relay, trackers)
    victim = next(pid for pid, stats in workers.items()
                  if not stats["streams"]["default"]["source_connected"])
    os.kill(victim, signal.SIGKILL)
    cut = [viewer for viewer in viewers if (await _closed_soon(viewer))]
    survivors = [viewer for viewer in viewers if viewer not in cut]
    assert cut and survivors
    relay.wait_for(r"worker \d ended")
    for viewer in survivors:
        await viewer.wait_for_frames(len(viewer.frames) + FLOWING_FRAMES)
        assert not viewer.closed
        assert_header_chain(viewer)
    restarted = await workers_by_pid(relay.port)
    assert victim not in restarted
    tracker = trackers(relay.port)
    again = [await header_viewer(tracker) for _ in cut]
    for viewer in again:
        await viewer.wait_for_frames(FLOWING_FRAMES)
        assert_header_chain(viewer)


async def _closed_soon(viewer):
    """Whether ``viewer`` closes within a few seconds (its worker was killed)."""
    try:
        await viewer.wait_for(lambda v: v.closed, timeout_s=5.0)
    except Exception:
        return False
    return True
