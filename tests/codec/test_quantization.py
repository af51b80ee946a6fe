"""Tests for depthcam.codec.quantization: codes linear in inverse depth."""

import numpy as np
import pytest

from depthcam.codec.quantization import NO_READING_CODE, InverseDepthQuantizer


def test_ends_of_the_range_map_to_first_and_last_code():
    """near_mm is code 0, far_mm code 254, nearer clamps to 0, farther and 0 are no reading."""
    quantizer = InverseDepthQuantizer(500, 8000)
    codes = quantizer.to_codes(np.array([500, 8000, 300, 8001, 0]))
    assert codes.tolist() == [0, 254, 0, NO_READING_CODE, NO_READING_CODE]


def test_dequantized_depth_quantizes_back_to_the_same_code():
    """to_codes(to_mm(c)) == c for every code."""
    quantizer = InverseDepthQuantizer(400, 4500)
    codes = np.arange(256)
    np.testing.assert_array_equal(quantizer.to_codes(quantizer.to_mm(codes)), codes)


def test_steps_grow_with_depth_like_the_sensors():
    """A code step is a few mm near the camera and tens of cm far away."""
    mm = InverseDepthQuantizer(500, 8000).to_mm(np.arange(255)).astype(float)
    steps = np.diff(mm)
    assert (steps > 0).all()
    assert steps[0] < 3 and steps[-1] > 200


def test_invalid_range_is_refused():
    """near_mm must be positive and below far_mm."""
    for near, far in ((0, 100), (100, 100), (500, 70000)):
        with pytest.raises(ValueError):
            InverseDepthQuantizer(near, far)
