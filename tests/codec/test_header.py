"""Tests for depthcam.codec.header: the 40-byte header of FORMAT.md."""

import re
import struct
from pathlib import Path

import pytest

from depthcam.codec import errors
from depthcam.codec.header import (
    HEADER_SIZE, FrameFlags, FrameHeader, MotionCue, Profile, parse_header,
)

FORMAT_MD = Path(__file__).resolve().parents[2] / "codec" / "FORMAT.md"


def make_header(**overrides):
    fields = dict(profile=Profile.CLASSIC, flags=FrameFlags.KEYFRAME, sequence=7,
                  capture_time_us=1_700_000_000_123_456, width=160, height=120, near_mm=500,
                  far_mm=8000, motion=MotionCue(0.25, 0.75, 1234, 0.5), payload_length=3)
    fields.update(overrides)
    return FrameHeader(**fields)


def test_header_round_trips_every_field():
    """A packed header parses back to the same fields (motion to u16 precision)."""
    header = make_header()
    parsed, payload = parse_header(header.pack() + b"abc")
    assert bytes(payload) == b"abc"
    assert parsed.sequence == 7 and parsed.capture_time_us == header.capture_time_us
    assert (parsed.width, parsed.height, parsed.near_mm, parsed.far_mm) == (160, 120, 500, 8000)
    assert parsed.is_keyframe and not parsed.is_catchup
    assert parsed.motion.u == pytest.approx(0.25, abs=1e-4)
    assert parsed.motion.v == pytest.approx(0.75, abs=1e-4)
    assert parsed.motion.depth_mm == 1234
    assert parsed.motion.weight == pytest.approx(0.5, abs=1e-4)


def test_header_layout_matches_format_md_offsets():
    """Each field sits at the offset FORMAT.md's table gives, little-endian."""
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\w+) \| `(\w+)` \|", FORMAT_MD.read_text(), re.M)
    offsets = {name: (int(offset), int(size)) for offset, size, _, name in rows}
    assert sum(size for _, size in offsets.values()) == HEADER_SIZE
    packed = make_header(sequence=0x01020304, width=0x0A0B).pack()
    offset, size = offsets["sequence"]
    assert packed[offset:offset + size] == bytes([4, 3, 2, 1])
    offset, size = offsets["width"]
    assert packed[offset:offset + size] == bytes([0x0B, 0x0A])
    offset, size = offsets["magic"]
    assert packed[offset:offset + size] == b"DCAM"
    offset, _ = offsets["payload_length"]
    assert struct.unpack_from("<I", packed, offset)[0] == 3


def _patch(message, offset, fmt, value):
    message = bytearray(message)
    struct.pack_into(fmt, message, offset, value)
    return bytes(message)


GOOD = make_header().pack() + b"abc"
ILLEGAL_MESSAGES = [
    ("empty", b"", errors.TruncatedFrameError),
    ("one byte short of a header", GOOD[:HEADER_SIZE - 1], errors.TruncatedFrameError),
    ("wrong magic", b"DCAX" + GOOD[4:], errors.BadMagicError),
    ("version 0", _patch(GOOD, 4, "<B", 0), errors.UnsupportedVersionError),
    ("version 1 (before classic-cm's model changed)", _patch(GOOD, 4, "<B", 1), errors.UnsupportedVersionError),
    ("version 2 (classic-cm with its APM)", _patch(GOOD, 4, "<B", 2), errors.UnsupportedVersionError),
    ("version 4", _patch(GOOD, 4, "<B", 4), errors.UnsupportedVersionError),
    ("profile 0", _patch(GOOD, 5, "<B", 0), errors.UnknownProfileError),
    ("profile 200", _patch(GOOD, 5, "<B", 200), errors.UnknownProfileError),
    ("unknown flag bit", _patch(GOOD, 6, "<B", 0x81), errors.BadHeaderError),
    ("catch-up without keyframe", _patch(GOOD, 6, "<B", 2), errors.BadHeaderError),
    ("reserved byte set", _patch(GOOD, 7, "<B", 1), errors.BadHeaderError),
    ("lossless frame without keyframe", _patch(_patch(GOOD, 5, "<B", 2), 6, "<B", 0), errors.BadHeaderError),
    ("near not below far", _patch(GOOD, 24, "<H", 8000), errors.BadHeaderError),
    ("zero width", _patch(GOOD, 20, "<H", 0), errors.BadHeaderError),
    ("payload over 4 MiB", _patch(GOOD, 36, "<I", 4 * 2**20 + 1), errors.OversizedFrameError),
    ("too many pixels", _patch(GOOD, 22, "<H", 4000), errors.OversizedFrameError),
    ("payload short", GOOD[:-1], errors.LengthMismatchError),
    ("payload long", GOOD + b"!", errors.LengthMismatchError),
]


@pytest.mark.parametrize("label, message, error", ILLEGAL_MESSAGES, ids=[m[0] for m in ILLEGAL_MESSAGES])
def test_illegal_headers_raise_their_named_error(label, message, error):
    """Each broken rule of FORMAT.md raises its own exception, a FrameFormatError."""
    with pytest.raises(error) as raised:
        parse_header(message)
    assert isinstance(raised.value, errors.FrameFormatError)
    assert str(raised.value)


def test_every_prefix_of_a_frame_is_rejected_cleanly():
    """Cutting a valid frame anywhere gives a FrameFormatError, never another exception."""
    for length in range(len(GOOD)):
        with pytest.raises(errors.FrameFormatError):
            parse_header(GOOD[:length])
