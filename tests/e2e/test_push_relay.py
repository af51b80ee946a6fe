"""Push mode end to end: `python -m depthcam.relay` and `python -m depthcam.source push` as real
processes on loopback, watched by WebSocket viewers in this process and by Chromium.
"""

import time
from pathlib import Path

import numpy as np
import pytest
import pytest_twisted
from twisted.internet import defer

from tests.client.test_browser import CHROMIUM, CLIENT_DIR, browser  # noqa: F401 (a fixture)
from tests.e2e.conftest import SOURCE_CONNECTED, source_connected, wait_until
from tests.relay.clients import ClientTracker, RecordingViewer, assert_decodes_in_order

# Frames each of the three viewers must get in order (1 s at the source's 30 frames/s).
FRAMES_PER_VIEWER = 30
# How long a viewer may take to get its frames. The source and the relay are processes of their
# own, so a loaded machine slows the stream itself: with 4 busy loops and other engineers' browser
# tests on the 2 cores (load average 20), the source sent 2.5 frames/s; 30 frames then take 12 s.
FRAMES_WAIT_S = 60
# So long that no keyframe falls due while a stream runs here: a joiner can only be caught up.
LONG_KEYFRAME_INTERVAL_S = 600
# At least this many frames lie in the relay's cache when the late viewer joins.
CAUGHT_UP_FRAMES = 20
# The requirement: the source is back within this long of the relay listening again.
RECONNECT_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def live_stream(module_programs):
    """A relay and a push source streaming the scene to its default stream; the relay's port."""
    relay = module_programs.relay()
    module_programs.push_source(relay.port, "--keyframe-interval", str(LONG_KEYFRAME_INTERVAL_S))
    return relay.port


@pytest_twisted.async_yield_fixture
async def viewers(live_stream):
    """A ClientTracker for WebSocket viewers of the live stream's relay; all closed afterwards."""
    tracker = ClientTracker(live_stream)
    yield tracker
    await tracker.close_all()


@pytest_twisted.ensureDeferred
async def test_three_viewers_receive_every_pushed_frame_in_order(viewers):
    """Three viewers of a pushed stream (on /ws and /view/default) decode every frame, in order, alike."""
    watching = [
        await viewers.connect(RecordingViewer, "/ws"),
        await viewers.viewer(stream="default"),
        await viewers.viewer(stream="default"),
    ]
    await defer.gatherResults([viewer.wait_for_frames(FRAMES_PER_VIEWER, FRAMES_WAIT_S) for viewer in watching])
    # The source sleeps until someone watches, so a viewer may start from the relay's cached
    # keyframe or from the one the source sends on waking: each starts at a keyframe either way.
    codes_by_sequence = {}
    for viewer in watching:
        assert not viewer.closed
        assert_decodes_in_order(viewer)
        for frame in viewer.frames:
            seen = codes_by_sequence.setdefault(frame.header.sequence, frame.codes)
            np.testing.assert_array_equal(frame.codes, seen)


@pytest.fixture
def joiner_stream(live_stream, programs):
    """A second source, on the live relay's stream "joiner", started for one test; the stream's name.

    The default stream's cache grows all module long (no keyframe falls due), and a joiner there
    would decode all of it; this one starts small.
    """
    source = programs.start("source", "depthcam.source", "push", f"ws://127.0.0.1:{live_stream}/source/joiner",
                            "--token-file", str(programs.token_file),
                            "--keyframe-interval", str(LONG_KEYFRAME_INTERVAL_S))
    source.wait_for(SOURCE_CONNECTED)
    return "joiner"


@pytest_twisted.ensureDeferred
async def test_viewer_joining_mid_stream_decodes_its_first_frame_at_once(viewers, joiner_stream):
    """A viewer joining long after the last keyframe is sent the cached keyframe and the deltas since, and decodes them."""
    early = await viewers.viewer(stream=joiner_stream)
    await early.wait_for_frames(CAUGHT_UP_FRAMES, FRAMES_WAIT_S)
    last_before_join = early.sequences[-1]
    joined_at = time.time()
    late = await viewers.viewer(stream=joiner_stream)
    # No wall-clock bound (a loaded machine delays the first frame by up to a second): order shows
    # it. No keyframe falls due in this module, so a joiner waiting for one would time out; one
    # caught up decodes, from the cached keyframe on, every frame captured before it joined.
    await late.wait_for(lambda viewer: last_before_join in viewer.sequences, FRAMES_WAIT_S,
                        what=f"frame {last_before_join}, the last one sent before the viewer joined")
    assert late.frames[0].header.is_keyframe
    assert_decodes_in_order(late)
    caught_up = late.frames[:late.sequences.index(last_before_join) + 1]
    assert len(caught_up) >= CAUGHT_UP_FRAMES
    assert all(frame.header.capture_time_us / 1e6 < joined_at for frame in caught_up)


def restart_relay_and_time_the_reconnect(programs, relay):
    """SIGKILL ``relay``, start a new one on its port; seconds from it listening to the source being back."""
    relay.kill()
    assert not source_connected(relay.port)
    restarted = programs.relay(relay.port)
    listening_at = time.monotonic()
    wait_until(lambda: source_connected(relay.port), 3 * RECONNECT_WITHIN_S, "the source to reconnect")
    reconnect_s = time.monotonic() - listening_at
    print(f"the source was back {reconnect_s:.2f} s after the restarted relay listened")
    return restarted, reconnect_s


def test_source_reconnects_within_5_s_of_a_killed_relay_restarting(programs):
    """The relay is SIGKILLed and restarted on its port: the source publishes again within 5 s."""
    relay = programs.relay()
    source = programs.push_source(relay.port)
    wait_until(lambda: source_connected(relay.port), 10, "the source on the relay's /stats")
    restarted, reconnect_s = restart_relay_and_time_the_reconnect(programs, relay)
    assert reconnect_s < RECONNECT_WITHIN_S, source.output()
    source.wait_for(SOURCE_CONNECTED, count=2)
    assert "disconnected from relay" in source.output()


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() or not (CLIENT_DIR / "node_modules").is_dir(),
    reason="needs Debian's chromium and client/node_modules (make test installs both)",
)
def test_browser_page_shows_frames_again_after_a_relay_restart_without_reloading(programs, browser):
    """A page open on the relay says 'reconnecting' while it is down and draws frames again after, unreloaded."""
    relay = programs.relay()
    programs.push_source(relay.port)
    page = browser.new_page(viewport={"width": 640, "height": 480})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"http://127.0.0.1:{relay.port}/")
        page.wait_for_function("window.depthcam && window.depthcam.framesDrawn >= 5", timeout=30000)
        # A reload would lose this.
        page.evaluate("window.e2eBeforeRestart = true")

        relay.kill()
        page.wait_for_function("window.depthcam.connectionState === 'reconnecting'", timeout=10000)
        drawn_while_down = page.evaluate("window.depthcam.framesDrawn")
        _, reconnect_s = restart_relay_and_time_the_reconnect(programs, relay)
        assert reconnect_s < RECONNECT_WITHIN_S

        page.wait_for_function(
            "window.depthcam.connectionState === 'open' && "
            f"window.depthcam.framesDrawn >= {drawn_while_down + 10}",
            timeout=20000,
        )
        assert page.evaluate("window.e2eBeforeRestart") is True
        assert page.evaluate("window.depthcam.lastError") is None
        assert not errors, errors
    finally:
        page.close()
