"""Tests for depthcam.codec.fine: 320 x 240 millimetres within the error bound."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from depthcam.codec import DepthFrame, DepthUnits, StreamDecoder, fine
from depthcam.codec.header import Profile
from depthcam.codec.profiles import make_encoder
from tests.codec.frames import flat_frame, synthetic_frames

# Depths the bound covers at every step used here (see fine.quantize), from step / 2 to this.
COVERED_MM = (0, 60000)


def check_stream(encoder, frames):
    """Decode each frame; check it equals the encoder's depth and lies within the bound of its reduction."""
    decoder = StreamDecoder()
    for frame in frames:
        decoded = decoder.decode(encoder.encode(frame))
        reduced = encoder.reduce(frame).astype(np.int64)
        np.testing.assert_array_equal(decoded.codes, encoder.latest_depth_mm)
        assert decoded.codes.shape == (240, 320) and decoded.units is DepthUnits.MILLIMETRES
        assert decoded.header.profile is Profile.FINE and decoded.header.is_keyframe
        np.testing.assert_array_equal(decoded.codes > 0, reduced > 0)
        covered = (reduced >= encoder.step_mm / 2) & (reduced <= COVERED_MM[1])
        error = np.abs(decoded.codes.astype(np.int64) - reduced)[covered]
        assert error.max(initial=0) <= encoder.error_mm
        yield decoded, error


@pytest.mark.parametrize("error_mm", [0, 3, 10, 50])
def test_synthetic_frames_stay_within_the_bound(error_mm):
    """Every decoded depth is within error_mm of the 2 x 2 reduction; no reading stays no reading."""
    list(check_stream(fine.FineEncoder(error_mm), synthetic_frames(3)))


def test_real_recordings_stay_within_the_bound_and_below_lossless(real_recording):
    """Real recordings decode within 10 mm, in under a third of the lossless bytes."""
    name, frames = real_recording
    encoder = fine.FineEncoder()
    sizes = []
    for decoded, error in check_stream(encoder, frames[::15]):
        sizes.append(decoded.header.payload_length + 40)
    assert np.mean(sizes) < 640 * 480 * 2 / 12 / 3, f"{name}: {np.mean(sizes):.0f} B/frame"


def test_a_block_needs_two_readings():
    """A 2 x 2 block with one reading is no reading; with two on one surface, their mean."""
    depth = np.zeros((480, 640), np.uint16)
    depth[0, 0] = 1000
    depth[2:4, 2] = (1000, 1020)
    reduced = fine.reduce_to_fine(depth)
    assert reduced[0, 0] == 0 and reduced[1, 1] == 1010


def test_the_nearest_surface_wins_a_block():
    """A block on an edge takes its near surface, never a depth between the two."""
    depth = np.zeros((480, 640), np.uint16)
    depth[0:2, 0:2] = [[1000, 3000], [1010, 3000]]
    assert fine.reduce_to_fine(depth)[0, 0] == 1005


def test_catchup_repeats_the_latest_frame():
    """A late joiner's copy is the latest frame with CATCHUP."""
    encoder = fine.FineEncoder()
    assert encoder.catchup() is None
    encoder.encode(flat_frame(800))
    decoded = StreamDecoder().decode(encoder.catchup())
    assert decoded.header.is_catchup
    np.testing.assert_array_equal(decoded.codes, encoder.latest_depth_mm)


def test_error_bound_is_checked():
    """A negative or absurd bound is refused."""
    with pytest.raises(ValueError):
        fine.FineEncoder(error_mm=-1)


@settings(max_examples=100, deadline=None)
@given(arrays(np.uint16, st.integers(1, 200), elements=st.integers(0, 65535)), st.integers(0, 100))
def test_quantize_keeps_the_bound(depth, error_mm):
    """level x step is within error_mm of any covered depth; 0 stays 0 and readings stay readings."""
    step = fine.step_for(error_mm)
    levels = fine.quantize(depth, step)
    assert ((levels > 0) == (depth > 0)).all()
    restored = levels.astype(np.int64) * step
    covered = (depth >= step / 2) & (depth <= COVERED_MM[1])
    assert (np.abs(restored - depth)[covered] <= error_mm).all()


@settings(max_examples=5, deadline=None)
@given(arrays(np.uint16, (480, 640), elements=st.integers(0, 60000)))
def test_any_millimetre_frame_round_trips(depth):
    """Arbitrary millimetre frames decode to the encoder's depth, within the bound of their reduction."""
    list(check_stream(fine.FineEncoder(), [DepthFrame(depth, DepthUnits.MILLIMETRES, 0)]))


# Kinect v1's depth step at z (one raw disparity count), mm: z² · 0.0030711016 / 1000 (OpenKinect's
# z = 1000 / (raw · −0.0030711016 + 3.3309495161) mm, differentiated).
KINECT_STEP_PER_MM2 = 0.0030711016 / 1000
# Near surfaces: where people stand in front of a Kinect, mm.
NEAR_MM = (500, 1400)


def test_near_surfaces_are_not_quantized_coarser_than_the_sensor(real_recording):
    """On near surfaces (people at about 1 m) the profile ``--profile fine`` sends stays within 1.5
    of the Kinect's own depth steps (+ 1 mm of rounding) of the 2 x 2 block depth, as lossless
    does: coarser levels there are terraces that show as stripes when the cloud is seen from the side."""
    name, frames = real_recording
    encoder = make_encoder("fine")
    decoder = StreamDecoder()
    checked = 0
    for frame in frames[::10]:
        decoded = decoder.decode(encoder.encode(frame)).codes.astype(np.float64)
        reduced = encoder.reduce(frame).astype(np.float64)
        near = (reduced >= NEAR_MM[0]) & (reduced <= NEAR_MM[1])
        allowed = 1.5 * KINECT_STEP_PER_MM2 * reduced[near] ** 2 + 1
        excess = np.abs(decoded[near] - reduced[near]) - allowed
        assert excess.max(initial=-1) <= 0, f"{name}: {excess.max():.1f} mm beyond the sensor's step"
        checked += near.sum()
    assert checked > 10_000, f"{name}: only {checked} near pixels"


def check_inverse_stream(encoder, frames):
    """Decode each fine-inverse frame; check it equals the encoder's depth and lies within
    z² / (2 · scale − z) + ½ of its reduction at every depth z."""
    decoder = StreamDecoder()
    for frame in frames:
        decoded = decoder.decode(encoder.encode(frame))
        reduced = encoder.reduce(frame).astype(np.float64)
        np.testing.assert_array_equal(decoded.codes, encoder.latest_depth_mm)
        assert decoded.header.profile is Profile.FINE_INVERSE and decoded.header.is_keyframe
        assert decoded.units is DepthUnits.MILLIMETRES
        np.testing.assert_array_equal(decoded.codes > 0, reduced > 0)
        # Levels run from min_level to 65535: the depths between are covered.
        covered = (reduced >= encoder.scale / 65535) & (reduced <= encoder.scale / fine.min_level(encoder.scale))
        with np.errstate(divide="ignore"):  # at z = 2 · scale, which is not covered
            bound = reduced ** 2 / (2 * encoder.scale - reduced) + 0.5
        error = np.abs(decoded.codes - reduced)
        assert (error <= bound)[covered].all()


@pytest.mark.parametrize("error_mm", [1, 10, 50])
def test_fine_inverse_stays_within_its_depth_squared_bound(error_mm):
    """fine-inverse's error at depth z is at most z² / (2 · scale − z) + ½ mm: error_mm at 1.8 m."""
    encoder = fine.FineInverseEncoder(error_mm)
    assert encoder.scale == round(1800 ** 2 / (2 * error_mm))
    check_inverse_stream(encoder, synthetic_frames(3))
    check_inverse_stream(encoder, [DepthFrame(np.arange(480 * 640, dtype=np.uint16).reshape(480, 640),
                                              DepthUnits.MILLIMETRES, 0)])


@settings(max_examples=50, deadline=None)
@given(depth=arrays(np.uint16, 64), scale=st.integers(1, fine.MAX_SCALE))
def test_inverse_levels_come_back_within_the_bound(depth, scale):
    """Any depth and scale: dequantize(quantize(z)) is within z² / (2 · scale − z) + ½ of z where
    the level is not clipped, and no reading stays no reading."""
    levels = fine.quantize_inverse(depth, scale)
    back = fine.dequantize_inverse(levels, scale)
    z = depth.astype(np.float64)
    np.testing.assert_array_equal(levels > 0, depth > 0)
    unclipped = (depth > 0) & (z >= scale / 65535) & (z <= scale / fine.min_level(scale))
    assert back.max(initial=0) <= 65535
    assert (np.abs(back - z) <= z ** 2 / (2 * scale - z) + 0.5)[unclipped].all()


@pytest.mark.parametrize("body, message", [
    (b"\x01\x00", "no scale"),
    (b"\x00\x00\x00\x00", "scale of 0"),
    (struct.pack("<I", 70000 * 2), "beyond 65535 mm"),
])
def test_bad_fine_inverse_bodies_are_refused(body, message):
    """A body without a scale, with scale 0, or whose depth would pass 65535 mm is CorruptPayloadError."""
    from depthcam.codec import errors, lossless, zstdframe
    from depthcam.codec.header import NO_MOTION, FrameFlags, FrameHeader

    levels = np.ones((2, 3), np.uint16)
    if len(body) == 4:
        body += lossless.encode_body(levels)
    payload = zstdframe.compress(body, 1)
    header = FrameHeader(profile=Profile.FINE_INVERSE, flags=FrameFlags.KEYFRAME, sequence=0, capture_time_us=0,
                         width=3, height=2, near_mm=500, far_mm=8000, motion=NO_MOTION,
                         payload_length=len(payload))
    with pytest.raises(errors.CorruptPayloadError, match=message):
        StreamDecoder().decode(header.pack() + payload)
