"""Direct mode as ``depthcam-source serve`` wires it, with every profile and the legacy wire: a viewer
joining mid-stream gets a decodable picture at once, a resync is answered, and nothing is logged as
a failure."""

import json

import pytest_twisted
from twisted.internet import reactor

from depthcam.codec import StreamDecoder
from depthcam.codec.header import parse_header
from depthcam.codec.legacy import decode_legacy, pylzma_decompress
from depthcam.codec.profiles import PROFILE_NAMES
from depthcam.source.__main__ import serve
from depthcam.source.config import SourceConfig, Wire

RESYNC = json.dumps({"type": "resync"}).encode()
# Long enough that no keyframe falls inside the test: the joiner must be caught up.
KEYFRAME_INTERVAL_S = 60.0
WIRES = [(profile, Wire.CLASSIC) for profile in PROFILE_NAMES] + [("classic", Wire.LEGACY)]


class ClassicWire:
    """Decodes a FORMAT.md stream, frame by frame, from its first message on."""

    def __init__(self):
        self._decoder = StreamDecoder()

    def decode(self, message):
        return self._decoder.decode(message).codes

    @staticmethod
    def is_keyframe(message):
        return parse_header(message)[0].is_keyframe


class LegacyWire:
    """Decodes a 2012 stream, frame by frame, from its first message on (which must be a keyframe)."""

    def __init__(self):
        self._codes = None

    def decode(self, message):
        _, _, self._codes = decode_legacy(message, self._codes)
        return self._codes

    @staticmethod
    def is_keyframe(message):
        # The 2012 flag is the first byte inside the LZMA data.
        return pylzma_decompress(message)[0] == 1


@pytest_twisted.async_yield_fixture(params=WIRES, ids=[f"{p}-{w.value}" for p, w in WIRES])
async def running(request, tmp_path):
    """``serve()`` with the scene on a free loopback port."""
    profile, wire = request.param
    config = SourceConfig(port=0, profile=profile, wire=wire, keyframe_interval_s=KEYFRAME_INTERVAL_S,
                          client_dir=tmp_path)
    source = serve(config, reactor)
    yield source, (LegacyWire if wire is Wire.LEGACY else ClassicWire)
    await source.stop()


@pytest_twisted.ensureDeferred
async def test_mid_stream_joiner_decodes_at_once_and_resync_is_answered(running, connect_viewer,
                                                                       log_capture):
    """Joining after frames have gone by, a viewer's every message decodes from the first on;
    a resync brings a catch-up, never a dropped connection; no failure is logged."""
    source, wire = running
    port = source.port.getHost().port
    early = await connect_viewer(port)
    await early.received(8)
    late = await connect_viewer(port)
    await late.received(2)
    decoder = wire()
    for message in late.frames():
        decoder.decode(message)  # raises if the first is not a picture of its own
    late.sendMessage(RESYNC, isBinary=False)
    before = len(late.messages)
    await late.received(before + 12)
    # No keyframe interval falls inside the test: a second picture in the late viewer's stream
    # (after the one it joined with) is the answer to its resync.
    assert sum(map(decoder.is_keyframe, late.frames())) >= 2
    for message in late.frames()[2:]:
        decoder.decode(message)
    assert not late.closed.called and not early.closed.called
    assert log_capture.lines("Traceback") == [] and log_capture.lines("Unhandled") == []
    assert log_capture.lines("failed") == []
