"""Tests for depthcam.codec.decoder: stream rules (keyframes, sequence gaps, corrupt payloads)."""

import struct

import numpy as np
import pytest

from depthcam.codec import ClassicEncoder, StreamDecoder, compression, errors
from depthcam.codec.header import HEADER_SIZE
from tests.codec.frames import synthetic_frames


@pytest.fixture(scope="module")
def messages():
    encoder = ClassicEncoder(keyframe_interval=4)
    return [encoder.encode(frame) for frame in synthetic_frames(6)]


def test_delta_before_keyframe_is_refused(messages):
    """A delta with no keyframe before it raises MissingKeyframeError and the keyframe still works."""
    decoder = StreamDecoder()
    with pytest.raises(errors.MissingKeyframeError):
        decoder.decode(messages[1])
    decoder.decode(messages[0])
    decoder.decode(messages[1])


def test_sequence_gap_waits_for_the_next_keyframe(messages):
    """After a gap, deltas are refused until a keyframe arrives, then decoding resumes."""
    decoder = StreamDecoder()
    decoder.decode(messages[0])
    with pytest.raises(errors.SequenceGapError):
        decoder.decode(messages[2])
    with pytest.raises(errors.MissingKeyframeError):
        decoder.decode(messages[3])
    assert decoder.decode(messages[4]).header.sequence == 4
    assert decoder.decode(messages[5]).header.sequence == 5


def test_repeated_delta_is_a_gap(messages):
    """The same delta twice is a sequence gap, not a silently wrong picture."""
    decoder = StreamDecoder()
    decoder.decode(messages[0])
    decoder.decode(messages[1])
    with pytest.raises(errors.SequenceGapError):
        decoder.decode(messages[1])


def _with_payload(message, payload):
    header = bytearray(message[:HEADER_SIZE])
    struct.pack_into("<I", header, 36, len(payload))
    return bytes(header) + payload


@pytest.mark.parametrize("label, make_payload", [
    ("zeros", lambda size: bytes(64)),
    ("random bytes", lambda size: np.random.default_rng(1).bytes(300)),
    ("one byte short", lambda size: compression.compress(bytes(size - 1))),
    ("one byte long", lambda size: compression.compress(bytes(size + 1))),
    ("empty", lambda size: b""),
    ("cut stream", lambda size: compression.compress(bytes(size))[:-3]),
])
def test_corrupt_payloads_are_refused_and_state_kept(messages, label, make_payload):
    """A payload that does not decompress to the frame raises CorruptPayloadError; the stream goes on."""
    decoder = StreamDecoder()
    decoder.decode(messages[0])
    with pytest.raises(errors.CorruptPayloadError):
        decoder.decode(_with_payload(messages[1], make_payload(160 * 120)))
    assert decoder.decode(messages[1]).header.sequence == 1


def test_format_errors_leave_the_stream_intact(messages):
    """A truncated message in mid-stream is refused without losing the decoder's place."""
    decoder = StreamDecoder()
    decoder.decode(messages[0])
    for cut in (0, 10, HEADER_SIZE, len(messages[1]) - 1):
        with pytest.raises(errors.FrameFormatError):
            decoder.decode(messages[1][:cut])
    assert decoder.decode(messages[1]).header.sequence == 1
