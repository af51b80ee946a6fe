"""Tests for depthcam.codec.reduction: 640 x 480 to 160 x 120."""

import numpy as np

from depthcam.codec.reduction import nearest_surface, subsample


def test_subsample_takes_each_blocks_top_left_pixel():
    """subsample keeps pixel (4r, 4c)."""
    depth = np.arange(480 * 640, dtype=np.uint32).reshape(480, 640) % 60000
    out = subsample(depth)
    assert out.shape == (120, 160)
    assert out[3, 5] == depth[12, 20]


def test_nearest_surface_ignores_holes_and_the_wall_behind_an_edge():
    """A block half foreground (1 m), half wall (3 m), with holes, becomes 1 m, not a flying 2 m."""
    depth = np.zeros((480, 640), np.uint16)
    depth[0:4, 0:2] = 1000
    depth[0:4, 2:4] = 3000
    depth[0, 0] = 0
    depth[1, 0] = 1040
    out = nearest_surface(depth)
    assert out.shape == (120, 160)
    assert 1000 <= out[0, 0] <= 1010


def test_nearest_surface_needs_enough_readings():
    """A block with fewer than 4 readings is no reading."""
    depth = np.zeros((480, 640), np.uint16)
    depth[0, 0:3] = 1500
    depth[4:8, 4:8] = 1500
    out = nearest_surface(depth)
    assert out[0, 0] == 0 and out[1, 1] == 1500
