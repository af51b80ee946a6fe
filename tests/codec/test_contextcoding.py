"""Tests for classic-cm (profile 5): the same codes as classic's LZMA coding, in half the bytes."""

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from depthcam.codec import StreamDecoder, contextcoding, errors
from depthcam.codec.classic import ClassicEncoder, Coding
from depthcam.codec.contextcoding import ContextStream
from depthcam.codec.header import FrameFlags, Profile, parse_header
from depthcam.codec.profiles import make_encoder
from tests.codec.frames import synthetic_frames


def encode_both(frames, keyframe_interval=None):
    """The same frames through the LZMA and the context-mixing coding: (lzma, cm) message lists."""
    lzma = ClassicEncoder(keyframe_interval, coding=Coding.LZMA)
    context = ClassicEncoder(keyframe_interval, coding=Coding.CONTEXT)
    return [lzma.encode(f) for f in frames], [context.encode(f) for f in frames]


def decode_all(messages):
    decoder = StreamDecoder()
    return [decoder.decode(m) for m in messages]


def test_real_recordings_decode_to_the_lzma_codes_in_half_the_bytes(real_recording):
    """Issues #5 and #10: on each real recording, classic-cm decodes to exactly the codes of the
    LZMA coding, and its messages (header included) total at most 45 % of LZMA's (README: 39–43 %)."""
    name, frames = real_recording
    lzma, context = encode_both(frames)
    for lzma_frame, context_frame in zip(decode_all(lzma), decode_all(context), strict=True):
        assert context_frame.header.profile is Profile.CLASSIC_CM
        assert context_frame.header.is_keyframe == lzma_frame.header.is_keyframe
        np.testing.assert_array_equal(context_frame.codes, lzma_frame.codes)
    ratio = sum(map(len, context)) / sum(map(len, lzma))
    assert ratio <= 0.45, f"{name}: classic-cm is {ratio:.1%} of the LZMA coding's bytes"


def test_a_viewer_joining_mid_group_decodes_from_the_cached_keyframe():
    """catchup_messages() is the keyframe and every delta since; a fresh decoder then follows."""
    frames = synthetic_frames(12)
    encoder = ClassicEncoder(keyframe_interval=5, coding=Coding.CONTEXT)
    first = StreamDecoder()
    for frame in frames[:8]:
        first.decode(encoder.encode(frame))
    joining = encoder.catchup_messages()
    assert [parse_header(m)[0].sequence for m in joining] == [5, 6, 7]
    assert parse_header(joining[0])[0].is_keyframe
    late = StreamDecoder()
    for message in joining:
        late.decode(message)
    for frame in frames[8:]:
        message = encoder.encode(frame)
        np.testing.assert_array_equal(late.decode(message).codes, first.decode(message).codes)
    with pytest.raises(TypeError, match="catchup_messages"):
        encoder.catchup()


def test_a_flipped_bit_is_caught_and_the_decoder_waits_for_a_keyframe():
    """A corrupt delta raises CorruptPayloadError; the next delta is MissingKeyframeError; a
    keyframe brings the stream back."""
    messages = encode_both(synthetic_frames(8), keyframe_interval=4)[1]
    damaged = bytearray(messages[2])
    damaged[len(damaged) - 5] ^= 0x10
    decoder = StreamDecoder()
    decoder.decode(messages[0])
    decoder.decode(messages[1])
    with pytest.raises(errors.CorruptPayloadError):
        decoder.decode(bytes(damaged))
    with pytest.raises(errors.MissingKeyframeError):
        decoder.decode(messages[3])
    assert decoder.decode(messages[4]).header.is_keyframe
    decoder.decode(messages[5])


def test_stream_rules_come_before_the_payload():
    """A classic-cm delta out of order is a stream error, whatever its payload holds."""
    messages = encode_both(synthetic_frames(3))[1]
    decoder = StreamDecoder()
    with pytest.raises(errors.MissingKeyframeError):
        decoder.decode(messages[1])
    decoder.decode(messages[0])
    with pytest.raises(errors.SequenceGapError):
        decoder.decode(messages[2])


def test_a_catchup_flag_is_refused():
    """FORMAT.md: classic-cm has no CATCHUP frames (a decoder could not follow one)."""
    keyframe = bytearray(encode_both(synthetic_frames(1))[1][0])
    keyframe[6] = int(FrameFlags.KEYFRAME | FrameFlags.CATCHUP)
    with pytest.raises(errors.BadHeaderError, match="CATCHUP"):
        StreamDecoder().decode(bytes(keyframe))


@pytest.mark.parametrize("payload", [b"", b"\x00\x01\x02", b"\xff" * 4])
def test_short_or_empty_payloads_are_corrupt(payload):
    """No CRC, or a CRC with no bits after it, is CorruptPayloadError, never a crash."""
    keyframe = encode_both(synthetic_frames(1))[1][0]
    header = dataclasses.replace(parse_header(keyframe)[0], payload_length=len(payload))
    with pytest.raises(errors.CorruptPayloadError):
        StreamDecoder().decode(header.pack() + payload)


codes = arrays(np.uint8, (9, 13), elements=st.integers(0, 255))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(codes, min_size=1, max_size=6))
def test_any_codes_round_trip(frames):
    """Arbitrary code frames (holes, jumps over the magnitude escape, 255 next to 0) decode to
    themselves, frame after frame, in a small odd-sized stream."""
    encoder, decoder = ContextStream(13, 9), ContextStream(13, 9)
    np.testing.assert_array_equal(decoder.decode_keyframe(encoder.encode_keyframe(frames[0])), frames[0])
    for frame in frames[1:]:
        np.testing.assert_array_equal(decoder.decode_delta(encoder.encode_delta(frame)), frame)


def test_a_delta_needs_its_keyframe():
    """A ContextStream that never decoded a keyframe refuses a delta instead of guessing."""
    frame = np.zeros((4, 4), np.uint8)
    payload = ContextStream(4, 4).encode_keyframe(frame)
    with pytest.raises(errors.CorruptPayloadError, match="keyframe"):
        ContextStream(4, 4).decode_delta(payload)


def test_without_the_compiled_coder_classic_falls_back_to_lzma(monkeypatch):
    """An install built without a C compiler sends classic (LZMA) for --profile classic, and its
    decoder refuses classic-cm as a profile it cannot read."""
    classic_cm = encode_both(synthetic_frames(1))[1][0]
    monkeypatch.setattr(contextcoding, "ContextCoder", None)
    assert make_encoder("classic").profile is Profile.CLASSIC
    with pytest.raises(errors.UnknownProfileError, match="compiled coder"):
        StreamDecoder().decode(classic_cm)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_after_a_keyframe_is_refused_cleanly(garbage):
    """Any bytes as a delta's payload give CorruptPayloadError (a failed CRC or codes out of range),
    never a crash or a hang."""
    keyframe = np.arange(9 * 13, dtype=np.uint8).reshape(9, 13)
    encoder, decoder = ContextStream(13, 9), ContextStream(13, 9)
    decoder.decode_keyframe(encoder.encode_keyframe(keyframe))
    with pytest.raises(errors.CorruptPayloadError):
        decoder.decode_delta(garbage)
