"""relay/publisher.py over real loopback WebSockets: the token, takeover, and bad source input."""

import pytest_twisted

from depthcam.protocol.closecodes import CloseCode as RelayCloseCode
from tests.relay.conftest import KEYFRAME_INTERVAL, TOKEN
from tests.relay.test_viewer import assert_decoded_correctly, publish

REFUSED_AUTHORIZATIONS = [
    # (Authorization header or None, HTTP status)
    (None, 401),
    ("", 401),
    (f"Basic {TOKEN}", 401),
    ("Bearer", 401),
    ("Bearer wrong-token-0123456789", 403),
    (f"Bearer {TOKEN}x", 403),
    (f"Bearer {TOKEN[:-1]}", 403),
]


@pytest_twisted.ensureDeferred
async def test_sources_without_the_token_are_refused_and_nothing_is_broadcast(start_relay):
    """A missing or malformed token gets 401, a wrong one 403, and the stream gets no source."""
    relay = start_relay()
    viewer = await relay.clients.viewer()
    for authorization, status in REFUSED_AUTHORIZATIONS:
        headers = [] if authorization is None else [("Authorization", authorization)]
        assert await relay.clients.handshake_status("/source/s", headers) == status, authorization
    stream = relay.stream()
    assert stream.publisher is None
    assert stream.frames_in.total == 0
    assert viewer.frames == [] and not viewer.closed
    assert relay.registry.sources_refused == len(REFUSED_AUTHORIZATIONS)


@pytest_twisted.ensureDeferred
async def test_the_right_token_publishes(start_relay):
    """The raw handshake with ``Authorization: Bearer <token>`` is accepted (101)."""
    relay = start_relay()
    assert await relay.clients.handshake_status("/source/s", [("Authorization", f"Bearer {TOKEN}")]) == 101
    assert await relay.clients.handshake_status("/source/t", [("authorization", f"bearer  {TOKEN} ")]) == 101


@pytest_twisted.ensureDeferred
async def test_newer_source_takes_the_stream_over(start_relay, scene_stream):
    """A second source with the token replaces the first, which is closed with 4001."""
    relay = start_relay()
    viewer = await relay.clients.viewer()
    old = await relay.clients.source(token=TOKEN)
    await publish(old, [viewer], scene_stream.first(5))

    new = await relay.clients.source(token=TOKEN)
    await old.wait_closed()
    assert old.close_code == RelayCloseCode.SOURCE_REPLACED
    assert relay.stream().publisher is not None and not new.closed
    # The new source starts its own run: a keyframe at sequence 0 again.
    await publish(new, [viewer], scene_stream.first(3), already=5)
    assert viewer.sequences == [0, 1, 2, 3, 4, 0, 1, 2]
    assert_decoded_correctly(viewer, scene_stream)
    stats = (await relay.get("/stats"))[1]
    assert b'"sources": 1' in stats


@pytest_twisted.ensureDeferred
async def test_oversized_message_closes_the_source_with_1009(start_relay, scene_stream):
    """A message over --max-message-bytes closes its source with 1009; viewers stay and get the next source."""
    relay = start_relay(max_message_bytes=64 * 1024)
    viewer = await relay.clients.viewer()
    source = await relay.clients.source(token=TOKEN)
    await publish(source, [viewer], scene_stream.first(2))
    source.send_frame(b"\0" * (64 * 1024 + 1))
    await source.wait_closed()
    assert source.close_code == 1009
    assert not viewer.closed

    again = await relay.clients.source(token=TOKEN)
    await publish(again, [viewer], scene_stream.first(2), already=2)
    assert viewer.sequences == [0, 1, 0, 1]


@pytest_twisted.ensureDeferred
async def test_garbage_frames_are_dropped_counted_and_logged_once(start_relay, scene_stream, relay_log):
    """Messages that fail the header check are dropped, counted and logged once; the stream goes on."""
    relay = start_relay()
    viewers = [await relay.clients.viewer() for _ in range(2)]
    source = await relay.clients.source(token=TOKEN)
    await publish(source, viewers, scene_stream.first(3))
    good = scene_stream[3]
    garbage = [b"", b"DCAM", b"not a depthcam frame at all" * 3, b"XXXX" + good[4:], good[:-1], good + b"\0"]
    for message in garbage:
        source.send_frame(message)
    await publish(source, viewers, scene_stream.first(KEYFRAME_INTERVAL + 1)[3:], already=3)

    for viewer in viewers:
        assert viewer.sequences == list(range(KEYFRAME_INTERVAL + 1))
        assert_decoded_correctly(viewer, scene_stream)
    assert not source.closed
    assert relay.stream().frames_rejected == len(garbage)
    warnings = [e for e in relay_log if "dropping a frame that is not valid" in e.get("log_format", "")]
    assert len(warnings) == 1


@pytest_twisted.ensureDeferred
async def test_text_from_a_source_closes_it_with_1003(start_relay, scene_stream):
    """A source that sends a text message is closed with 1003; its viewers are not."""
    relay = start_relay()
    viewer = await relay.clients.viewer()
    source = await relay.clients.source(token=TOKEN)
    await publish(source, [viewer], scene_stream.first(1))
    source.sendMessage(b'{"type": "resync"}', isBinary=False)
    await source.wait_closed()
    assert source.close_code == RelayCloseCode.UNSUPPORTED_DATA
    assert not viewer.closed


@pytest_twisted.ensureDeferred
async def test_a_delta_after_a_gap_is_not_forwarded(start_relay, scene_stream):
    """A source that skips a frame: viewers get no undecodable delta, and resume at the next keyframe."""
    relay = start_relay()
    viewer = await relay.clients.viewer()
    source = await relay.clients.source(token=TOKEN)
    messages = scene_stream.first(KEYFRAME_INTERVAL + 1)
    del messages[4]
    await publish(source, [viewer], messages[:4])
    for message in messages[4:]:
        source.send_frame(message)
    await viewer.wait_for_frames(5)
    assert viewer.sequences == [0, 1, 2, 3, KEYFRAME_INTERVAL]
    assert viewer.errors == []
    assert relay.stream().deltas_dropped_broken_chain == KEYFRAME_INTERVAL - 5


@pytest_twisted.ensureDeferred
async def test_stopping_the_relay_closes_everyone_with_1001(start_relay, scene_stream):
    """Relay.close_connections (run at shutdown) closes sources and viewers with 1001."""
    relay = start_relay()
    viewer = await relay.clients.viewer()
    source = await relay.clients.source(token=TOKEN)
    relay.relay.close_connections()
    await viewer.wait_closed()
    await source.wait_closed()
    assert viewer.close_code == source.close_code == RelayCloseCode.GOING_AWAY
