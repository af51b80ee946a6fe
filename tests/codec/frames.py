"""Small synthetic depth frames for codec tests."""

import numpy as np

from depthcam.codec import DepthFrame, DepthUnits
from depthcam.codec.vectors import synthetic_frames

__all__ = ["synthetic_frames", "flat_frame"]


def flat_frame(raw_value, captured_at=1.0):
    """A frame of one raw disparity everywhere."""
    return DepthFrame(np.full((480, 640), raw_value, np.uint16), DepthUnits.RAW_DISPARITY, captured_at)
