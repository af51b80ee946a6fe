"""Tests for depthcam.codec.legacy: the 2012 wire bytes."""

import lzma

import numpy as np
import pytest

from depthcam.codec import errors
from depthcam.codec.legacy import (
    LEGACY_HEIGHT, LEGACY_WIDTH, LegacyEncoder, decode_legacy, pylzma_compress, pylzma_decompress,
    quadrant_means,
)
from tests.codec.frames import flat_frame, synthetic_frames


def test_legacy_frame_layout_is_the_2012_one():
    """5-byte header, then LZMA properties (lc=3 lp=0 pb=2, 2^18 dictionary), then the raw stream."""
    encoder = LegacyEncoder()
    message = encoder.encode(flat_frame(900))
    assert message[0] == 1
    assert list(message[1:5]) == [0] * 4  # the zero history wins the first median
    third = [encoder.encode(flat_frame(900)) for _ in range(2)][-1]
    assert third[0] == 0
    assert list(third[1:5]) == [225] * 4  # min(900, 1023) >> 2
    assert message[5] == (2 * 5 + 0) * 9 + 3
    assert int.from_bytes(message[6:10], "little") == 2**18
    filters = [{"id": lzma.FILTER_LZMA1, "dict_size": 2**18, "lc": 3, "lp": 0, "pb": 2}]
    data = lzma.decompress(message[10:], format=lzma.FORMAT_RAW, filters=filters)
    assert len(data) == LEGACY_WIDTH * LEGACY_HEIGHT


def test_legacy_codes_follow_the_2012_recipe():
    """Every 4th pixel, width 632, median of three with zero history, min(raw, 1023) >> 2, deltas mod 256."""
    frames = synthetic_frames(64)
    encoder = LegacyEncoder()
    history = [np.zeros((LEGACY_HEIGHT, LEGACY_WIDTH), np.uint16)] * 2
    previous = None
    for index, frame in enumerate(frames):
        keyframe, means, codes = decode_legacy(encoder.encode(frame), previous)
        raw = frame.depth[::4, :632:4]
        expected = (np.minimum(np.median([history[0], history[1], raw], axis=0), 1023).astype(np.uint16) >> 2)
        history = [history[1], raw]
        np.testing.assert_array_equal(codes, expected)
        assert keyframe == (index % 60 == 0)
        assert means == quadrant_means(codes)
        previous = codes


def test_pylzma_container_round_trips():
    """pylzma_decompress undoes pylzma_compress."""
    data = bytes(range(256)) * 40
    assert pylzma_decompress(pylzma_compress(data)) == data


@pytest.mark.parametrize("message, error", [
    (b"\x01\x00", errors.TruncatedFrameError),
    (b"\x01\x00\x00\x00\x00\x5d\x00\x00\x04\x00garbage", errors.CorruptPayloadError),
])
def test_bad_legacy_frames_are_refused(message, error):
    """Short or corrupt legacy frames raise codec errors."""
    with pytest.raises(error):
        decode_legacy(message, None)


def test_catchup_is_a_keyframe_of_the_latest_codes():
    """A late joiner of a legacy stream gets a keyframe of the current picture."""
    encoder = LegacyEncoder()
    assert encoder.catchup() is None
    frames = synthetic_frames(3)
    previous = None
    for frame in frames:
        _, _, previous = decode_legacy(encoder.encode(frame), previous)
    keyframe, _, codes = decode_legacy(encoder.catchup(), None)
    assert keyframe
    np.testing.assert_array_equal(codes, previous)
