"""Tests for depthcam.codec.classic: the classic profile's encoder and payload decoder."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from depthcam.codec import ClassicEncoder, DepthFrame, DepthUnits, StreamDecoder
from depthcam.codec.header import parse_header
from depthcam.codec.quantization import NO_READING_CODE
from tests.codec.frames import flat_frame, synthetic_frames


def decode_all(messages):
    decoder = StreamDecoder()
    return [decoder.decode(message) for message in messages]


def test_round_trip_gives_the_encoders_codes_exactly():
    """Every decoded frame equals what the encoder holds after its median, keyframes and deltas."""
    encoder = ClassicEncoder(keyframe_interval=3)
    decoder = StreamDecoder()
    for frame in synthetic_frames(8):
        decoded = decoder.decode(encoder.encode(frame))
        np.testing.assert_array_equal(decoded.codes, encoder.latest_codes)
        assert decoded.codes.shape == (120, 160)


def test_keyframes_come_every_interval_and_first():
    """The first frame and every Nth after it are keyframes, the rest deltas."""
    encoder = ClassicEncoder(keyframe_interval=4)
    flags = [parse_header(encoder.encode(f))[0].is_keyframe for f in synthetic_frames(9)]
    assert flags == [True, False, False, False, True, False, False, False, True]


def test_requested_keyframe_comes_next():
    """request_keyframe makes the very next frame absolute."""
    encoder = ClassicEncoder(keyframe_interval=100)
    frames = synthetic_frames(3)
    encoder.encode(frames[0])
    encoder.request_keyframe()
    assert parse_header(encoder.encode(frames[1]))[0].is_keyframe
    assert not parse_header(encoder.encode(frames[2]))[0].is_keyframe


def test_catchup_lets_a_late_joiner_decode_the_next_delta():
    """A viewer starting from catchup() decodes the following deltas identically to one from the start."""
    encoder = ClassicEncoder(keyframe_interval=50)
    frames = synthetic_frames(6)
    early = StreamDecoder()
    for frame in frames[:3]:
        early.decode(encoder.encode(frame))
    late = StreamDecoder()
    first = late.decode(encoder.catchup())
    assert first.header.is_catchup and first.header.is_keyframe
    assert first.header.sequence == 2
    np.testing.assert_array_equal(first.codes, encoder.latest_codes)
    for frame in frames[3:]:
        message = encoder.encode(frame)
        np.testing.assert_array_equal(late.decode(message).codes, early.decode(message).codes)


def test_catchup_is_computed_once_per_frame():
    """Many joiners within one frame share one compressed catch-up message."""
    encoder = ClassicEncoder()
    assert encoder.catchup() is None
    frames = synthetic_frames(2)
    encoder.encode(frames[0])
    encoder.encode(frames[1])
    assert encoder.catchup() is encoder.catchup()


def test_no_reading_stays_no_reading():
    """A frame with no readings decodes to code 255 everywhere."""
    decoded = decode_all([ClassicEncoder().encode(flat_frame(2047))])[0]
    assert (decoded.codes == NO_READING_CODE).all()
    assert (decoded.depth_mm == 0).all()


def test_decoded_depth_is_within_one_code_of_the_source():
    """A flat wall at 2 m decodes to 2 m within one quantization step."""
    frame = DepthFrame(np.full((480, 640), 2000, np.uint16), DepthUnits.MILLIMETRES, 0.0)
    decoded = decode_all([ClassicEncoder().encode(frame)])[0]
    step_mm = 2000**2 * (1 / 500 - 1 / 8000) / 254  # d(1/z) per code times z²
    assert np.abs(decoded.depth_mm.astype(float) - 2000).max() <= step_mm


def test_median_hides_a_one_frame_flicker():
    """A value that appears in one frame only never reaches the viewer."""
    encoder = ClassicEncoder()
    decoder = StreamDecoder()
    steady, flicker = flat_frame(800), flat_frame(700)
    outputs = [decoder.decode(encoder.encode(f)).codes for f in (steady, steady, flicker, steady)]
    for codes in outputs:
        np.testing.assert_array_equal(codes, outputs[0])


def test_motion_cue_points_at_what_moved():
    """A box moving in the left half puts the motion centroid in the left half, at its depth."""
    encoder = ClassicEncoder()
    decoder = StreamDecoder()
    cues = []
    for step in range(5):
        raw = np.full((480, 640), 1000, np.uint16)
        raw[200:280, 40 + 20 * step:120 + 20 * step] = 600
        cues.append(decoder.decode(encoder.encode(DepthFrame(raw, DepthUnits.RAW_DISPARITY))).header.motion)
    moving = cues[-1]
    assert cues[0].weight == 0
    assert 0 < moving.weight < 0.2
    assert moving.u < 0.5 and 0.35 < moving.v < 0.65
    assert 500 < moving.depth_mm < 6000


def test_round_trip_on_real_recordings(real_recording):
    """Real Kinect recordings decode to exactly the encoder's codes, frame after frame."""
    name, frames = real_recording
    encoder = ClassicEncoder()
    decoder = StreamDecoder()
    for frame in frames[:90]:
        decoded = decoder.decode(encoder.encode(frame))
        np.testing.assert_array_equal(decoded.codes, encoder.latest_codes)
    holes = (decoded.codes == NO_READING_CODE).mean()
    assert 0 < holes < 0.5, f"{name}: {holes:.0%} of pixels without reading"


raw_frames = arrays(np.uint16, (480, 640), elements=st.integers(0, 2047))


# Full-size frames are large inputs by design; Hypothesis' size health check flaked on them.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.data_too_large])
@given(st.lists(raw_frames, min_size=1, max_size=4), st.integers(1, 3))
def test_any_raw_frames_round_trip(raws, keyframe_interval):
    """Arbitrary raw-disparity frames decode to the encoder's codes whatever the keyframe interval."""
    encoder = ClassicEncoder(keyframe_interval=keyframe_interval)
    decoder = StreamDecoder()
    for index, raw in enumerate(raws):
        decoded = decoder.decode(encoder.encode(DepthFrame(raw, DepthUnits.RAW_DISPARITY, index)))
        np.testing.assert_array_equal(decoded.codes, encoder.latest_codes)


@settings(max_examples=15, deadline=None)
@given(arrays(np.uint16, (480, 640), elements=st.integers(0, 65535)))
def test_any_millimetre_frame_round_trips(mm):
    """Arbitrary millimetre frames decode to the encoder's codes."""
    encoder = ClassicEncoder()
    decoded = StreamDecoder().decode(encoder.encode(DepthFrame(mm, DepthUnits.MILLIMETRES, 0)))
    np.testing.assert_array_equal(decoded.codes, encoder.latest_codes)


def test_encoder_refuses_a_wrong_quantization_range():
    """near_mm must be below far_mm."""
    with pytest.raises(ValueError):
        ClassicEncoder(near_mm=3000, far_mm=1000)
