"""Tests for source/direct.py: the broadcast core with the encoder as publisher, real viewers over loopback."""

import json
from types import SimpleNamespace

import numpy as np
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.web.client import Agent, readBody

from depthcam.codec import ClassicEncoder, StreamDecoder
from depthcam.protocol.closecodes import CloseCode
from depthcam.codec.header import parse_header
from depthcam.protocol.limits import MAX_VIEWER_MESSAGE_BYTES
from depthcam.source.direct import EncoderPublisher, IdlePause, build_site, build_viewers, make_channel
from depthcam.source.pump import FramePump
from depthcam.source.scene import SceneSource
from tests.source.viewers import within

FPS = 20
# Long enough that no keyframe falls inside a test: a late joiner must be caught up.
KEYFRAME_INTERVAL_FRAMES = 600
# Frames over which the viewer is checked to keep up with the pump (1 s at FPS).
RATE_WINDOW_FRAMES = 20
# Frames the pump may have sent that the viewer has not yet received, at either end of the window.
MAX_FRAMES_IN_FLIGHT = 2
CLOSE_MESSAGE_TOO_BIG = 1009

RESYNC = json.dumps({"type": "resync"}).encode()
# What a viewer may not send, and the close code it gets for it.
BAD_VIEWER_MESSAGES = [
    (b"\x00\x01\x02", True, CloseCode.UNSUPPORTED_DATA),
    (RESYNC, True, CloseCode.UNSUPPORTED_DATA),
    (b"hello", False, CloseCode.POLICY_VIOLATION),
    (json.dumps({"type": "pause"}).encode(), False, CloseCode.POLICY_VIOLATION),
    (json.dumps({"kind": "resync"}).encode(), False, CloseCode.POLICY_VIOLATION),
    (b"[]", False, CloseCode.POLICY_VIOLATION),
    (RESYNC[:-1] + b" " * 300 + b"}", False, CloseCode.POLICY_VIOLATION),
    (b"x" * (MAX_VIEWER_MESSAGE_BYTES + 1), False, CLOSE_MESSAGE_TOO_BIG),
]


# The real thing: a scene, an encoder, a pump and the Site on a loopback port.


@pytest_twisted.async_yield_fixture
async def direct_server(scene, tmp_path):
    """The direct-mode Site on a free loopback port, pumping the scene at FPS."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><title>depthcam</title><script type="module" src="./main.mjs"></script>')
    (tmp_path / "main.mjs").write_text("export const answer = 42;\n")
    encoder = ClassicEncoder(keyframe_interval=KEYFRAME_INTERVAL_FRAMES)
    channel = make_channel(encoder, reactor)
    site = build_site(tmp_path, build_viewers(channel, reactor), channel, reactor)
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    pump = FramePump(SceneSource(scene, clock=reactor), encoder, [EncoderPublisher(channel)],
                     fps=FPS, clock=reactor)
    pump.start()
    IdlePause(pump, channel).viewers_changed(0)
    yield SimpleNamespace(port=port.getHost().port, channel=channel, pump=pump)
    pump.stop()
    await port.stopListening()


def decode_stream(messages):
    decoder = StreamDecoder()
    return [decoder.decode(message) for message in messages]


@pytest_twisted.ensureDeferred
async def test_viewer_gets_a_keyframe_first_then_frames_at_about_the_rate(direct_server,
                                                                         connect_viewer):
    """A real viewer's first frame is a keyframe, the rest decode in order, as fast as the pump sends them."""
    viewer = await connect_viewer(direct_server.port)
    await viewer.received(1)
    sent_before = direct_server.pump.frames_sent
    await viewer.received(1 + RATE_WINDOW_FRAMES)
    sent_during = direct_server.pump.frames_sent - sent_before
    decoded = decode_stream(viewer.frames())
    assert decoded[0].header.is_keyframe
    sequences = [frame.header.sequence for frame in decoded]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    # Counts, not wall time (a loaded machine slows the pump as much as the viewer): while the
    # viewer got its frames, the pump sent those and at most a frame or two still on their way.
    assert RATE_WINDOW_FRAMES - MAX_FRAMES_IN_FLIGHT <= sent_during <= RATE_WINDOW_FRAMES + MAX_FRAMES_IN_FLIGHT


@pytest_twisted.ensureDeferred
async def test_late_joiner_gets_a_catchup_keyframe_first(direct_server, connect_viewer):
    """A viewer joining between keyframes starts with a CATCHUP keyframe of what others saw."""
    early = await connect_viewer(direct_server.port)
    await early.received(4)
    late = await connect_viewer(direct_server.port)
    await late.received(3)
    first = parse_header(late.frames()[0])[0]
    assert first.is_catchup and first.is_keyframe
    late_decoded = decode_stream(late.frames())
    await early.received(len(early.messages) + 1)
    early_decoded = {frame.header.sequence: frame for frame in decode_stream(early.frames())}
    same_frame = early_decoded[first.sequence]
    assert not same_frame.header.is_keyframe  # it really was mid-stream
    assert np.array_equal(late_decoded[0].codes, same_frame.codes)


@pytest_twisted.ensureDeferred
async def test_refused_input_closes_only_that_viewer(direct_server, connect_viewer):
    """Each refused message closes its sender with its code; another viewer keeps receiving."""
    watcher = await connect_viewer(direct_server.port)
    for payload, is_binary, expected_code in BAD_VIEWER_MESSAGES:
        sender = await connect_viewer(direct_server.port)
        await sender.received(1)
        sender.sendMessage(payload, isBinary=is_binary)
        code, reason = await within(sender.closed)
        assert code == expected_code, (payload[:40], reason)
        await watcher.received(len(watcher.messages) + 2)
    decode_stream(watcher.frames())
    assert len(direct_server.channel.fanout) == 1


@pytest_twisted.ensureDeferred
async def test_resync_gets_a_catchup(direct_server, connect_viewer):
    """After {"type": "resync"} a catch-up frame arrives (behind at most a frame in flight)."""
    viewer = await connect_viewer(direct_server.port)
    await viewer.received(3)
    asked_at = len(viewer.messages)
    viewer.sendMessage(RESYNC, isBinary=False)
    await viewer.received(asked_at + 3)
    after = [parse_header(message)[0] for message in viewer.frames()[asked_at:asked_at + 3]]
    assert any(header.is_catchup for header in after[:2])
    decode_stream(viewer.frames())


@pytest_twisted.ensureDeferred
async def test_site_serves_the_client_files(direct_server):
    """The root serves index.html, and a module script comes with a JavaScript MIME type."""
    agent = Agent(reactor)
    base = f"http://127.0.0.1:{direct_server.port}/".encode()
    index = await within(agent.request(b"GET", base))
    assert index.code == 200
    assert b"<title>depthcam</title>" in await within(readBody(index))
    module = await within(agent.request(b"GET", base + b"main.mjs"))
    await within(readBody(module))
    assert module.headers.getRawHeaders(b"content-type") == [b"text/javascript"]


@pytest_twisted.ensureDeferred
async def test_fetching_client_files_logs_no_line_per_request(direct_server, log_capture):
    """Client files, found or not, are served without an access-log line."""
    agent = Agent(reactor)
    base = f"http://127.0.0.1:{direct_server.port}/".encode()
    for path in (b"", b"main.mjs", b"missing.js"):
        await within(readBody(await within(agent.request(b"GET", base + path))))
    assert log_capture.lines('"GET /') == []


@pytest_twisted.ensureDeferred
async def test_idle_source_pauses_and_the_first_viewer_starts_it_with_a_keyframe(direct_server,
                                                                                connect_viewer):
    """With nobody watching the pump is paused; a viewer resumes it and its first frame is a keyframe;
    when the last viewer leaves it pauses again."""
    assert direct_server.pump.paused
    viewer = await connect_viewer(direct_server.port)
    await viewer.received(3)
    assert not direct_server.pump.paused
    headers = [parse_header(message)[0] for message in viewer.frames()]
    assert headers[0].is_keyframe and not headers[0].is_catchup
    viewer.sendClose()
    await within(viewer.closed)
    await within(deferLater(reactor, 0.1, lambda: None))
    assert direct_server.pump.paused and len(direct_server.channel.fanout) == 0


@pytest_twisted.ensureDeferred
async def test_a_websocket_upgrade_on_the_root_path_gets_the_viewer_socket(direct_server,
                                                                         connect_viewer):
    """The 2012 client opens ws://host:port/: that is a viewer too, while GET / is the page."""
    viewer = await connect_viewer(direct_server.port, path="/")
    await viewer.received(2)
    decode_stream(viewer.frames())
    index = await within(Agent(reactor).request(b"GET", f"http://127.0.0.1:{direct_server.port}/".encode()))
    assert b"<title>depthcam</title>" in await within(readBody(index))


@pytest_twisted.ensureDeferred
async def test_stats_reports_the_direct_stream(direct_server, connect_viewer):
    """GET /stats gives the one stream's viewer count, as the relay's /stats does."""
    viewer = await connect_viewer(direct_server.port)
    await viewer.received(2)
    response = await within(Agent(reactor).request(
        b"GET", f"http://127.0.0.1:{direct_server.port}/stats".encode()))
    document = json.loads(await within(readBody(response)))
    assert document["streams"]["default"]["viewers"] == 1
