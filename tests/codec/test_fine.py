"""Tests for depthcam.codec.fine: 320 x 240 millimetres within the error bound."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from depthcam.codec import DepthFrame, DepthUnits, StreamDecoder, fine
from depthcam.codec.header import Profile
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
