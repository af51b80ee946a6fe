"""Tests for depthcam.codec.units: the one raw-disparity ↔ millimetre conversion."""

import numpy as np
import pytest

from depthcam.codec import DepthFrame, DepthUnits
from depthcam.codec.units import mm_to_raw, raw_to_mm, to_millimetres, to_raw_disparity


def test_raw_to_mm_follows_the_openkinect_formula():
    """Known raw values give OpenKinect's z = 1/(raw*-0.0030711016 + 3.3309495161)."""
    raw = np.array([500, 800, 1000], np.uint16)
    expected = 1000 / (raw * -0.0030711016 + 3.3309495161)
    np.testing.assert_allclose(raw_to_mm(raw), expected, atol=0.6)


def test_no_reading_maps_to_no_reading_both_ways():
    """2047 raw is 0 mm, 0 mm is 2047 raw, and raw past the formula's range is no reading."""
    assert raw_to_mm(np.array([2047, 1090, 1500], np.uint16)).tolist() == [0, 0, 0]
    assert mm_to_raw(np.array([0], np.uint16)).tolist() == [2047]


def test_mm_to_raw_inverts_raw_to_mm():
    """Round trip raw → mm → raw is exact from 0.7 m to 7 m (nearer, a raw step is under 1 mm)."""
    raw = np.arange(600, 1045, dtype=np.uint16)
    np.testing.assert_array_equal(mm_to_raw(raw_to_mm(raw)), raw)


@pytest.mark.parametrize("units", list(DepthUnits))
def test_frames_convert_from_either_unit(units):
    """to_millimetres and to_raw_disparity accept frames in either unit."""
    depth = np.full((480, 640), 2000 if units is DepthUnits.MILLIMETRES else 900, np.uint16)
    frame = DepthFrame(depth, units, 0)
    assert to_millimetres(frame).dtype == np.uint16
    assert to_raw_disparity(frame).dtype == np.uint16
    assert 0 < to_millimetres(frame)[0, 0] < 10000
    assert to_raw_disparity(frame)[0, 0] < 2047


def test_depth_frame_refuses_the_wrong_shape():
    """A DepthFrame is 480 x 640 uint16 or nothing."""
    with pytest.raises(ValueError):
        DepthFrame(np.zeros((120, 160), np.uint16), DepthUnits.MILLIMETRES, 0)
