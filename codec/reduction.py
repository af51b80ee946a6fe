"""Shrinking a 640 x 480 depth image to the classic profile's 160 x 120, one pixel per 4 x 4 block."""

import enum

import numpy as np

BLOCK = 4
# A block is "no reading" when fewer of its 16 pixels than this have one.
MIN_VALID_PER_BLOCK = 4
# Pixels within this fraction behind the block's nearest reading count as the same surface.
SURFACE_TOLERANCE = 0.05


class Reduction(enum.Enum):
    """How a 4 x 4 block becomes one pixel (see README's reduction table for the measurements)."""

    SUBSAMPLE = "subsample"  # the 2012 way: the block's top-left pixel
    NEAREST_SURFACE = "nearest-surface"  # mean of the readings on the block's nearest surface


def _blocks(depth_mm):
    rows, cols = depth_mm.shape
    return depth_mm.reshape(rows // BLOCK, BLOCK, cols // BLOCK, BLOCK).swapaxes(1, 2).reshape(
        rows // BLOCK, cols // BLOCK, BLOCK * BLOCK
    )


def subsample(depth_mm):
    """Every 4th pixel of every 4th row (float32 mm, 0 = no reading)."""
    return depth_mm[::BLOCK, ::BLOCK].astype(np.float32)


def nearest_surface(depth_mm):
    """Per block, the mean of the readings within 5 % of its nearest one (float32 mm, 0 = none).

    Averaging cuts the sensor's noise (smaller deltas to compress), ignoring "no reading" fills
    the sensor's speckle holes, and keeping to the nearest surface never invents a depth between
    a foreground edge and the wall behind it, as a plain block mean would ("flying pixels").
    """
    blocks = _blocks(depth_mm).astype(np.float32)
    valid = blocks > 0
    nearest = np.where(valid, blocks, np.inf).min(axis=2, keepdims=True)
    on_surface = valid & (blocks <= nearest * (1 + SURFACE_TOLERANCE))
    count = on_surface.sum(axis=2)
    total = np.where(on_surface, blocks, 0).sum(axis=2)
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return np.where(valid.sum(axis=2) >= MIN_VALID_PER_BLOCK, mean, 0)


REDUCERS = {Reduction.SUBSAMPLE: subsample, Reduction.NEAREST_SURFACE: nearest_surface}
