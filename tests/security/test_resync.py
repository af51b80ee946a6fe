"""A viewer's resync flood costs one catch-up per frame at most, and is answered at a bounded rate."""

import time

from twisted.internet.task import Clock

from depthcam.broadcast.resynclimit import ResyncLimit
from depthcam.codec import LegacyEncoder
from depthcam.codec.vectors import synthetic_frames
from tests.security.wire import websocket

FPS = 5
RESYNCS = 200


def test_legacy_catchup_is_made_once_per_frame():
    """Asking twice during one frame gives the same bytes without compressing again; a new frame
    gives a new catch-up."""
    encoder = LegacyEncoder(keyframe_interval=30)
    frames = synthetic_frames(2)
    encoder.encode(frames[0])
    first = encoder.catchup()
    assert encoder.catchup() is first
    encoder.encode(frames[1])
    assert encoder.catchup() is not first


def test_resync_limit_allows_a_burst_then_one_a_second():
    """Two at once, then one per second of clock time; the rest are counted as ignored."""
    clock = Clock()
    limit = ResyncLimit(clock)
    assert [limit.allow() for _ in range(5)] == [True, True, False, False, False]
    clock.advance(1.0)
    assert [limit.allow() for _ in range(3)] == [True, False, False]
    assert limit.ignored == 5


def test_a_resync_flood_is_not_answered_message_for_message(programs):
    """200 resyncs sent at once to a legacy-wire source get a few catch-ups, not 200."""
    source = programs.source("--wire", "legacy", "--fps", FPS)
    status, _, viewer = websocket(source.port, "/")
    assert status == 101
    try:
        viewer.frame()  # the first frame: the pump runs
        started = time.monotonic()
        for _ in range(RESYNCS):
            viewer.send_text('{"type": "resync"}')
        received = 0
        viewer.sock.settimeout(1.0)
        while time.monotonic() - started < 3.0:
            try:
                opcode, _ = viewer.frame()
            except TimeoutError:
                continue
            received += opcode == 2
        elapsed = time.monotonic() - started
    finally:
        viewer.close()
    # Frames at FPS, plus at most a burst of 2 and one a second of answered resyncs, plus slack
    # for frames queued before the count started.
    bound = FPS * elapsed + ResyncLimit.BURST + ResyncLimit.PER_S * elapsed + 5
    assert received <= bound < RESYNCS / 4, (received, bound)
