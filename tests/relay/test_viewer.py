"""The relay's viewer door over real loopback WebSockets: what only the relay does (stream names,
limits, origins, every profile carried unread); the shared fan-out suite is tests/broadcast/test_doors.py."""


import numpy as np
import pytest
import pytest_twisted
from twisted.internet import defer

from depthcam.codec import profiles
from depthcam.codec.header import profile_name
from depthcam.codec.vectors import synthetic_frames
from depthcam.broadcast.fanout import ViewerState
from tests.relay.clients import RecordingViewer
from tests.relay.conftest import KEYFRAME_INTERVAL, TOKEN, EncodedStream
from tests.wire_profiles import WIRE_PROFILES


def assert_decoded_correctly(viewer, stream):
    """Every frame ``viewer`` got decoded, to exactly the codes of that sequence at the source."""
    assert viewer.errors == []
    for frame in viewer.frames:
        np.testing.assert_array_equal(frame.codes, stream.codes[frame.header.sequence])


async def publish(source, viewers, messages, already=0):
    """Send ``messages`` and wait until every viewer has ``already + len(messages)`` frames."""
    for message in messages:
        source.send_frame(message)
    await defer.gatherResults(
        [viewer.wait_for_frames(already + len(messages)) for viewer in viewers]
    )


@pytest_twisted.ensureDeferred
async def test_default_stream_is_served_at_ws(start_relay, scene_stream):
    """``/ws`` watches the default stream, so the client's default address works."""
    relay = start_relay(default_stream="kitchen")
    viewer = await relay.clients.connect(RecordingViewer, "/ws")
    source = await relay.clients.source("kitchen", token=TOKEN)
    await publish(source, [viewer], scene_stream.first(3))
    assert viewer.sequences == [0, 1, 2]


@pytest_twisted.ensureDeferred
async def test_slow_viewer_costs_the_others_nothing_and_resumes_at_a_keyframe(
    start_relay, noise_stream
):
    """A viewer that stops reading is skipped, the others get every frame, and it resumes cleanly."""
    relay = start_relay(max_unsent_bytes=32 * 1024, viewer_socket_buffer_bytes=64 * 1024)
    fast = [await relay.clients.viewer() for _ in range(2)]
    slow = await relay.clients.viewer()
    slow.transport.pauseProducing()  # it stops reading its socket
    source = await relay.clients.source(token=TOKEN)
    fanout = relay.stream().fanout
    slow_on_relay = fanout.viewers()[2]

    sent = 0
    while fanout.frames_dropped == 0:
        assert sent < 1000, "the slow viewer was never skipped"
        await publish(source, fast, [noise_stream[sent]], already=sent)
        sent += 1
    first_dropped = sent - 1
    assert fanout.state_of(slow_on_relay) is ViewerState.BEHIND
    # Let keyframes go by while it is behind.
    for _ in range(2 * KEYFRAME_INTERVAL):
        await publish(source, fast, [noise_stream[sent]], already=sent)
        sent += 1

    resumed_at = sent
    slow.transport.resumeProducing()
    await slow.wait_for(lambda viewer: sent - 1 in viewer.sequences)
    assert fanout.state_of(slow_on_relay) is ViewerState.LIVE
    for _ in range(3):
        await publish(source, fast, [noise_stream[sent]], already=sent)
        await slow.wait_for(lambda viewer, sequence=sent: sequence in viewer.sequences)
        sent += 1

    for viewer in fast:
        assert viewer.sequences == list(range(sent))
    assert_decoded_correctly(slow, noise_stream)
    # Everything before the first dropped frame, then a keyframe, then every frame up to now.
    assert slow.sequences[:first_dropped] == list(range(first_dropped))
    resumed = slow.frames[first_dropped].header
    assert resumed.is_keyframe and resumed.sequence >= first_dropped
    assert slow.sequences[first_dropped:] == list(range(resumed.sequence, sent))
    # Only the slow viewer missed frames.
    assert fanout.frames_dropped == resumed_at - first_dropped




@pytest_twisted.ensureDeferred
async def test_connection_flood_over_the_limits_is_refused_with_503(start_relay, scene_stream):
    """Handshakes past the per-stream or total viewer limit get 503; open viewers keep receiving."""
    # Per-address caps are tested in tests/security; here the registry's own limits answer.
    relay = start_relay(max_viewers_per_stream=2, max_viewers=3, max_handshakes_per_address=100)
    viewers = [await relay.clients.viewer() for _ in range(2)]
    source = await relay.clients.source(token=TOKEN)
    await publish(source, viewers, scene_stream.first(2))

    flood = [relay.clients.handshake_status("/view/s") for _ in range(20)]
    assert set(await defer.gatherResults(flood)) == {503}
    other = await relay.clients.viewer("other")
    assert await relay.clients.handshake_status("/view/third") == 503  # total limit
    await publish(source, viewers, scene_stream.first(4)[2:], already=2)
    for viewer in viewers:
        assert viewer.sequences == [0, 1, 2, 3]
    assert not other.closed
    assert relay.registry.viewers_refused == 21


@pytest_twisted.ensureDeferred
async def test_viewers_of_unknown_streams_wait_without_using_the_stream_limit(start_relay):
    """Viewers on names with no source do not count against max_streams: they wait (101)."""
    relay = start_relay(max_streams=2)
    await relay.clients.viewer("a")
    await relay.clients.viewer("b")
    assert await relay.clients.handshake_status("/view/c") == 101
    assert relay.registry.sourced_streams() == 0


@pytest_twisted.ensureDeferred
async def test_invalid_stream_names_are_not_found(start_relay):
    """Viewer and source paths whose name is not [A-Za-z0-9_-]{1,64} answer 404."""
    relay = start_relay()
    for path in ("/view/bad.name", "/view/" + "x" * 65, "/view/a/b", "/view/", "/view",
                 "/source/%2e%2e", "/source/a%20b"):
        assert await relay.clients.handshake_status(path) == 404, path
    assert relay.registry.streams == {}


@pytest_twisted.ensureDeferred
async def test_origins_outside_the_allowed_list_are_refused(start_relay):
    """With --allowed-origin, other pages' handshakes get 403; listed origins and non-browsers pass."""
    relay = start_relay(allowed_origins=("https://depth.example.org",))
    status = relay.clients.handshake_status
    assert await status("/view/s", [("Origin", "https://evil.example.com")]) == 403
    assert await status("/view/s", [("Origin", "https://depth.example.org:443")]) == 101
    assert await status("/view/s", [("Origin", "HTTPS://Depth.Example.org")]) == 101
    assert await status("/view/s") == 101


@pytest.mark.parametrize("profile", profiles.PROFILE_NAMES)
@pytest_twisted.ensureDeferred
async def test_relay_carries_every_profile(start_relay, profile):
    """Frames of every codec profile pass through unread: viewers decode them exactly, late joiners at once."""
    frames = synthetic_frames(6)
    encoder = profiles.make_encoder(profile, keyframe_interval=KEYFRAME_INTERVAL)
    stream = EncodedStream(lambda index: frames[index % len(frames)], encoder)
    relay = start_relay()
    viewer = await relay.clients.viewer()
    source = await relay.clients.source(token=TOKEN)
    await publish(source, [viewer], stream.first(4))
    assert viewer.sequences == [0, 1, 2, 3]
    late = await relay.clients.viewer()
    await late.wait_for(lambda v: v.sequences[-1:] == [3])
    assert late.frames[0].header.is_keyframe
    for watcher in (viewer, late):
        assert_decoded_correctly(watcher, stream)
        assert {profile_name(frame.header.profile) for frame in watcher.frames} == {WIRE_PROFILES[profile]}
