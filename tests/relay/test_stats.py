"""relay/stats.py: rate meters under task.Clock, and the /stats document, plain and over HTTP."""

import json
from functools import partial

import pytest_twisted
from twisted.internet.task import Clock

from depthcam.relay.registry import RelayStream, StreamRegistry
from depthcam.broadcast.stats import RateMeter, stats_document
from tests.relay.conftest import TOKEN
from tests.relay.test_viewer import publish

STREAM_KEYS = {
    "source_connected", "frames_in_per_s", "viewers", "bytes_out_per_s",
    "frames_dropped_slow_viewers", "viewers_closed_stuck", "frames_rejected",
    "deltas_dropped_broken_chain", "last_keyframe_age_s",
}


def test_rate_meter_averages_over_its_window():
    """30 events a second for 10 s read as 30/s, and the rate falls to 0 a window after they stop."""
    clock = Clock()
    meter = RateMeter(clock, window_s=5.0)
    for _ in range(300):
        clock.advance(1 / 30)
        meter.mark()
    assert abs(meter.per_second() - 30) < 1
    clock.advance(5.0)
    assert meter.per_second() == 0
    assert meter.total == 300


def test_rate_meter_is_not_inflated_at_startup():
    """In its first second a meter divides by one second, not by the shorter time elapsed."""
    clock = Clock()
    meter = RateMeter(clock)
    clock.advance(0.1)
    meter.mark(100)
    assert meter.per_second() == 100


def test_rate_meter_counts_amounts():
    """mark(n) counts n (bytes, say), not one event."""
    clock = Clock()
    meter = RateMeter(clock, window_s=2.0)
    clock.advance(2.0)
    meter.mark(1000)
    meter.mark(3000)
    assert meter.per_second() == 2000


def test_stats_document_of_an_idle_stream():
    """A stream with a viewer and no source reports zero rates and no keyframe age."""
    clock = Clock()
    registry = StreamRegistry(partial(RelayStream, clock=clock))
    stream = registry.admit_viewer("a")
    document = stats_document(registry.streams, clock.seconds(), {"viewers_refused": registry.viewers_refused, "sources_refused": registry.sources_refused})
    assert set(document["streams"]["a"]) == STREAM_KEYS
    assert document["streams"]["a"]["source_connected"] is False
    assert document["streams"]["a"]["last_keyframe_age_s"] is None
    assert document["totals"]["streams"] == 1
    assert document["totals"]["sources"] == 0
    assert stream.frames_in.total == 0


def test_stats_document_keyframe_age_and_totals(scene_stream):
    """last_keyframe_age_s counts from the latest keyframe; totals add the streams up."""
    clock = Clock()
    registry = StreamRegistry(partial(RelayStream, clock=clock))
    a = registry.admit_publisher("a")
    registry.admit_publisher("b")
    a.publisher = object()
    for message in scene_stream.first(3):
        clock.advance(0.5)
        a.publish_message(message)
    document = stats_document(registry.streams, clock.seconds(), {"viewers_refused": registry.viewers_refused, "sources_refused": registry.sources_refused})
    assert document["streams"]["a"]["last_keyframe_age_s"] == 1.0
    assert document["streams"]["a"]["frames_in_per_s"] == 2.0
    assert document["totals"]["sources"] == 1
    assert document["totals"]["frames_in_per_s"] == 2.0
    assert document["totals"]["streams"] == 2


@pytest_twisted.ensureDeferred
async def test_stats_over_http(start_relay, scene_stream):
    """GET /stats answers JSON with the stream's source, viewers, rates and counters."""
    relay = start_relay()
    viewers = [await relay.clients.viewer("live") for _ in range(2)]
    await relay.clients.viewer("waiting")
    source = await relay.clients.source("live", token=TOKEN)
    await publish(source, viewers, scene_stream.first(12))
    source.send_frame(b"garbage")
    await relay.clients.handshake_status("/source/live", [("Authorization", "Bearer nope")])

    status, body = await relay.get("/stats", TOKEN)
    assert status == 200
    document = json.loads(body)
    live = document["streams"]["live"]
    assert set(live) == STREAM_KEYS
    assert live["source_connected"] is True
    assert live["viewers"] == 2
    assert live["frames_in_per_s"] > 0
    assert live["bytes_out_per_s"] > 0
    assert live["frames_rejected"] == 1
    assert live["frames_dropped_slow_viewers"] == 0
    assert 0 <= live["last_keyframe_age_s"] < 60
    assert document["streams"]["waiting"]["source_connected"] is False
    totals = document["totals"]
    assert (totals["streams"], totals["sources"], totals["viewers"]) == (2, 1, 3)
    assert totals["sources_refused"] == 1
