"""CameraIntrinsics: a pinhole camera's focal lengths and principal point, and their wire block."""

import math
import struct
from dataclasses import dataclass

from depthcam.codec import errors

# FORMAT.md, *Intrinsics block*: fx, fy, cx, cy as little-endian float32.
INTRINSICS_STRUCT = struct.Struct("<4f")
INTRINSICS_BLOCK_SIZE = INTRINSICS_STRUCT.size


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels of a ``width`` x ``height`` image, pixel centres at integers.

    A pixel (u, v) with depth z lies at x = (u - cx)·z/fx, y = (v - cy)·z/fy (OpenCV's model).
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int = 640
    height: int = 480

    def scaled_to(self, width, height):
        """The same camera seen through ``width`` x ``height`` pixels that each cover a block.

        A block's centre, not its corner, scales: cx' = (cx + ½)·s − ½ (so 319.5 at 640 columns
        is 79.5 at 160).
        """
        scale_x, scale_y = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * scale_x, self.fy * scale_y,
                                (self.cx + 0.5) * scale_x - 0.5, (self.cy + 0.5) * scale_y - 0.5,
                                width, height)

    def pack(self):
        """The 16 bytes of the INTRINSICS block (the values as they are: scale them first)."""
        return INTRINSICS_STRUCT.pack(self.fx, self.fy, self.cx, self.cy)


def unpack_intrinsics(block, width, height):
    """The CameraIntrinsics of a 16-byte INTRINSICS block for a ``width`` x ``height`` frame.

    Raises CorruptPayloadError for a value that is not finite, or a focal length not above 0.
    """
    fx, fy, cx, cy = INTRINSICS_STRUCT.unpack(bytes(block))
    if not all(math.isfinite(value) for value in (fx, fy, cx, cy)) or not (fx > 0 and fy > 0):
        raise errors.CorruptPayloadError(
            f"intrinsics fx={fx} fy={fy} cx={cx} cy={cy}: need finite values and fx, fy > 0"
        )
    return CameraIntrinsics(fx, fy, cx, cy, width, height)
