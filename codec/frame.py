"""DepthFrame: one captured depth image with its units and capture time."""

import enum
import time
from dataclasses import dataclass, field

import numpy as np

SENSOR_SHAPE = (480, 640)


class DepthUnits(enum.Enum):
    """What a depth value means. ``units.py`` converts between them."""

    RAW_DISPARITY = "raw"  # Kinect v1 11-bit disparity counts, 2047 = no reading
    MILLIMETRES = "mm"  # distance along the optical axis, 0 = no reading


@dataclass(frozen=True)
class DepthFrame:
    """A 480 x 640 uint16 depth image as a sensor (or a recording of one) delivered it.

    A camera with colour adds ``colour``: 480 x 640 x 3 uint8 RGB, registered to the depth (the
    same pixel sees the same point); a camera that knows its lens adds ``intrinsics`` (a
    ``CameraIntrinsics`` at 640 x 480, of the camera the depth is registered to).
    """

    depth: np.ndarray
    units: DepthUnits
    captured_at: float = field(default_factory=time.time)  # seconds since the Unix epoch
    colour: np.ndarray | None = None
    intrinsics: object = None

    def __post_init__(self):
        if self.depth.shape != SENSOR_SHAPE or self.depth.dtype != np.uint16:
            raise ValueError(
                f"DepthFrame wants a {SENSOR_SHAPE} uint16 array, got {self.depth.shape} {self.depth.dtype}"
            )
        if self.colour is not None and (self.colour.shape != (*SENSOR_SHAPE, 3)
                                        or self.colour.dtype != np.uint8):
            raise ValueError(
                f"DepthFrame wants a {SENSOR_SHAPE} x 3 uint8 colour array, got "
                f"{self.colour.shape} {self.colour.dtype}"
            )
