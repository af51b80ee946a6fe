"""Tests for source/direct.py: the fanout policy alone, then real viewers over loopback."""

import json
from types import SimpleNamespace

import numpy as np
import pytest_twisted
from twisted.internet import protocol, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.logger import Logger
from twisted.web.client import Agent, readBody

from depthcam.codec import ClassicEncoder, StreamDecoder
from depthcam.codec.control import CLOSE_POLICY_VIOLATION, CLOSE_UNSUPPORTED_DATA
from depthcam.codec.header import parse_header
from depthcam.source.direct import ViewerFactory, ViewerFanout, build_site, unsent_bytes
from depthcam.source.pump import FramePump
from depthcam.source.scene import SceneSource
from tests.source.viewers import within

FPS = 20
# Long enough that no keyframe falls inside a test: a late joiner must be caught up.
KEYFRAME_INTERVAL_FRAMES = 600
# Frames over which the rate is checked (1 s at FPS).
RATE_WINDOW_FRAMES = 20
CLOSE_MESSAGE_TOO_BIG = 1009

RESYNC = json.dumps({"type": "resync"}).encode()
# What a viewer may not send, and the close code it gets for it.
BAD_VIEWER_MESSAGES = [
    (b"\x00\x01\x02", True, CLOSE_UNSUPPORTED_DATA),
    (RESYNC, True, CLOSE_UNSUPPORTED_DATA),
    (b"hello", False, CLOSE_POLICY_VIOLATION),
    (json.dumps({"type": "pause"}).encode(), False, CLOSE_POLICY_VIOLATION),
    (json.dumps({"kind": "resync"}).encode(), False, CLOSE_POLICY_VIOLATION),
    (b"[]", False, CLOSE_POLICY_VIOLATION),
    (RESYNC[:-1] + b" " * 300 + b"}", False, CLOSE_POLICY_VIOLATION),
    (b"x" * (ViewerFactory.MAX_VIEWER_MESSAGE_BYTES + 1), False, CLOSE_MESSAGE_TOO_BIG),
]


# The fanout's policy, with plain stand-ins for viewers.


class PlainViewer:
    """What the fanout needs of a viewer, recording what it is sent."""

    def __init__(self, unsent=0):
        self.unsent = unsent
        self.received = []
        self.dropped = False

    def unsent_bytes(self):
        return self.unsent

    def send_prepared(self, prepared):
        self.received.append(prepared)

    def send_message(self, message):
        self.received.append(message)

    def drop(self):
        self.dropped = True


class BrokenViewer(PlainViewer):
    def send_prepared(self, prepared):
        raise ConnectionResetError("gone")


class StreamStandIn:
    """prepare and catchup for a fanout: frames are b"frame N", catch-ups b"catchup N"."""

    def __init__(self):
        self.latest = None
        self.prepared = 0

    def prepare(self, message):
        self.prepared += 1
        return ("prepared", message)

    def catchup(self):
        return [] if self.latest is None else [b"catchup " + self.latest]

    def fanout(self, events=None):
        fanout = ViewerFanout(self.prepare, self.catchup)
        if events is not None:
            fanout.log = Logger(observer=events.append)
        return fanout

    def send(self, fanout, number):
        self.latest = str(number).encode()
        fanout.send_frame(b"frame " + self.latest)


def test_each_frame_is_framed_once_for_every_viewer():
    """However many viewers watch, a frame is prepared once and that one object goes to each."""
    stream, viewers = StreamStandIn(), [PlainViewer() for _ in range(5)]
    fanout = stream.fanout()
    for viewer in viewers:
        fanout.add(viewer)
    stream.send(fanout, 0)
    assert stream.prepared == 1
    assert all(viewer.received == [("prepared", b"frame 0")] for viewer in viewers)


def test_new_viewer_gets_a_catchup_first():
    """A viewer added mid-stream gets the latest frame's catch-up before the next frame."""
    stream, viewer = StreamStandIn(), PlainViewer()
    fanout = stream.fanout()
    stream.send(fanout, 0)
    fanout.add(viewer)
    stream.send(fanout, 1)
    assert viewer.received == [b"catchup 0", ("prepared", b"frame 1")]


def test_viewer_added_before_the_first_frame_just_waits_for_it():
    """Before any frame there is nothing to catch up on: the first frame is the viewer's first."""
    stream, viewer = StreamStandIn(), PlainViewer()
    fanout = stream.fanout()
    fanout.add(viewer)
    stream.send(fanout, 0)
    assert viewer.received == [("prepared", b"frame 0")]


def test_resync_sends_a_catchup_now():
    """A viewer that asks to resync gets the latest frame's catch-up at once."""
    stream, viewer = StreamStandIn(), PlainViewer()
    fanout = stream.fanout()
    fanout.add(viewer)
    stream.send(fanout, 0)
    fanout.resync(viewer)
    assert viewer.received == [("prepared", b"frame 0"), b"catchup 0"]


def test_slow_viewer_skips_frames_then_resumes_with_a_catchup():
    """Over budget a viewer misses frames; drained, it gets a catch-up, then the stream."""
    stream, slow, quick = StreamStandIn(), PlainViewer(), PlainViewer()
    fanout = stream.fanout()
    fanout.add(slow)
    fanout.add(quick)
    stream.send(fanout, 0)
    slow.unsent = fanout.MAX_UNSENT_BYTES + 1
    stream.send(fanout, 1)
    stream.send(fanout, 2)
    slow.unsent = 0
    stream.send(fanout, 3)
    stream.send(fanout, 4)
    assert slow.received == [("prepared", b"frame 0"), b"catchup 3", ("prepared", b"frame 4")]
    assert len(quick.received) == 5


def test_a_catchup_bigger_than_the_budget_is_not_counted_against_the_viewer():
    """A late joiner whose catch-up (a keyframe and many deltas) exceeds MAX_UNSENT_BYTES keeps
    getting the stream while that drains; only what it queues beyond the catch-up counts."""
    stream, viewer = StreamStandIn(), PlainViewer()
    big = b"k" * (2 * ViewerFanout.MAX_UNSENT_BYTES)
    stream.catchup = lambda: [big]
    fanout = stream.fanout()
    stream.send(fanout, 0)
    fanout.add(viewer)
    viewer.unsent = len(big)  # nothing drained yet
    stream.send(fanout, 1)
    viewer.unsent = fanout.MAX_UNSENT_BYTES // 2  # drained: the allowance ends
    stream.send(fanout, 2)
    viewer.unsent = fanout.MAX_UNSENT_BYTES + 1  # now over the budget on its own
    stream.send(fanout, 3)
    assert viewer.received == [big, ("prepared", b"frame 1"), ("prepared", b"frame 2")]


def test_viewer_slow_for_too_long_is_dropped():
    """A viewer over budget for MAX_SKIPPED_FRAMES frames in a row is dropped and forgotten."""
    stream, slow = StreamStandIn(), PlainViewer(unsent=10**9)
    fanout = stream.fanout()
    fanout.MAX_SKIPPED_FRAMES = 3
    fanout.add(slow)
    for number in range(3):
        assert not slow.dropped
        stream.send(fanout, number)
    assert slow.dropped and slow not in fanout


def test_viewer_whose_send_fails_is_dropped_and_the_rest_get_the_frame():
    """One viewer raising while sent a frame is dropped, logged once; the others still get it."""
    stream, broken, fine = StreamStandIn(), BrokenViewer(), PlainViewer()
    events = []
    fanout = stream.fanout(events)
    fanout.add(broken)
    fanout.add(fine)
    stream.send(fanout, 0)
    stream.send(fanout, 1)
    assert broken.dropped and broken not in fanout
    assert len(fine.received) == 2
    assert len([event for event in events if "log_failure" in event]) == 1


# The real thing: a scene, an encoder, a pump and the Site on a loopback port.


@pytest_twisted.async_yield_fixture
async def direct_server(scene, tmp_path):
    """The direct-mode Site on a free loopback port, pumping the scene at FPS."""
    (tmp_path / "index.html").write_text("<!doctype html><title>depthcam</title>")
    (tmp_path / "main.mjs").write_text("export const answer = 42;\n")
    encoder = ClassicEncoder(keyframe_interval=KEYFRAME_INTERVAL_FRAMES)
    viewers = ViewerFactory(encoder.catchup_messages, reactor=reactor)
    port = reactor.listenTCP(0, build_site(tmp_path, viewers), interface="127.0.0.1")
    pump = FramePump(SceneSource(scene, clock=reactor), encoder, [viewers.fanout], fps=FPS,
                     clock=reactor)
    pump.start()
    yield SimpleNamespace(port=port.getHost().port, viewers=viewers, pump=pump)
    pump.stop()
    await port.stopListening()


def decode_stream(messages):
    decoder = StreamDecoder()
    return [decoder.decode(message) for message in messages]


@pytest_twisted.ensureDeferred
async def test_viewer_gets_a_keyframe_first_then_frames_at_about_the_rate(direct_server,
                                                                         connect_viewer):
    """A real viewer's first frame is a keyframe, the rest decode in order at ≥ 50 % of the rate."""
    viewer = await connect_viewer(direct_server.port)
    await viewer.received(1)
    started_s = reactor.seconds()
    await viewer.received(1 + RATE_WINDOW_FRAMES)
    elapsed_s = reactor.seconds() - started_s
    decoded = decode_stream(viewer.frames())
    assert decoded[0].header.is_keyframe
    sequences = [frame.header.sequence for frame in decoded]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    assert elapsed_s <= 2 * RATE_WINDOW_FRAMES / FPS


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
    assert len(direct_server.viewers.fanout) == 1


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
async def test_unsent_bytes_reads_a_real_tcp_transport(direct_server):
    """unsent_bytes counts what was written to a real TCP transport and not yet flushed."""
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", direct_server.port)
    factory = protocol.Factory.forProtocol(protocol.Protocol)
    connection = await within(endpoint.connect(factory))
    assert unsent_bytes(connection.transport) == 0
    connection.transport.write(b"x" * 1000)
    # Nothing is flushed before the reactor runs again.
    assert unsent_bytes(connection.transport) == 1000
    connection.transport.abortConnection()
