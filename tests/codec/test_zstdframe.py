"""Tests for depthcam.codec.zstdframe: exactly one zstd frame with its size, or CorruptPayloadError."""

import pytest
import zstandard

from depthcam.codec import errors, zstdframe

DATA = bytes(range(256)) * 20
FRAME = zstdframe.compress(DATA, 1)

BAD_PAYLOADS = [
    ("empty", b""),
    ("not zstd", DATA),
    ("skippable frame", b"\x50\x2a\x4d\x18\x00\x00\x00\x00" + FRAME),
    ("cut short", FRAME[:-1]),
    ("a byte after it", FRAME + b"\0"),
    ("two frames", FRAME + FRAME),
    ("no content size", zstandard.ZstdCompressor(write_content_size=False).compress(DATA)),
    ("over the bound", zstdframe.compress(bytes(len(DATA) + 1), 1)),
    ("damaged block", FRAME[:-8] + bytes(8)),
]


def test_compress_round_trips():
    """A frame of ours decompresses to its data."""
    assert zstdframe.decompress(FRAME, len(DATA)) == DATA


@pytest.mark.parametrize("label, payload", BAD_PAYLOADS, ids=[b[0] for b in BAD_PAYLOADS])
def test_bad_payloads_are_corrupt(label, payload):
    """Anything but one whole zstd frame within the bound raises CorruptPayloadError."""
    with pytest.raises(errors.CorruptPayloadError):
        zstdframe.decompress(payload, len(DATA))
