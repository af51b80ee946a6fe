"""The lossless profiles: the source's own 640 x 480 values exactly, as palette indices predicted from above.

Kinect values (raw disparity, and millimetres converted from it) use a few hundred distinct
numbers, spread over 0…65535 with gaps that grow with depth. Coding each pixel as its index in the
frame's sorted palette turns one disparity step into ±1 at every depth, and the pixel above
predicts it best of the predictors whose decoding numpy vectorizes (see bench/codec.py):
about 2.0 → 1.3 bits a pixel on 7scenes-redkitchen against differences of the millimetres themselves.
"""

import numpy as np

from depthcam.codec import errors, residuals, zstdframe
from depthcam.codec.frame import DepthUnits
from depthcam.codec.header import Profile
from depthcam.codec.intra import IntraEncoder
from depthcam.codec.units import depth_in_millimetres

PROFILE_UNITS = {Profile.LOSSLESS_RAW: DepthUnits.RAW_DISPARITY, Profile.LOSSLESS_MM: DepthUnits.MILLIMETRES}
UNITS_PROFILE = {units: profile for profile, units in PROFILE_UNITS.items()}

PALETTE_COUNT_BYTES = 4
MAX_PALETTE = 1 << 16
# Every 4th pixel of every 4th row feeds the motion cue, as the classic profile's 160 x 120 do.
MOTION_STRIDE = 4


def max_body_size(pixels):
    """The most bytes a lossless body of ``pixels`` can hold (a full palette, every residual a word)."""
    return PALETTE_COUNT_BYTES + 2 * MAX_PALETTE + residuals.max_encoded_size(pixels)


def encode_body(values):
    """The uncompressed lossless body (bytes) of a uint16 frame (height x width)."""
    present = np.bincount(values.ravel(), minlength=MAX_PALETTE) > 0
    palette = np.flatnonzero(present)
    index_of = (np.cumsum(present) - 1).astype(np.int32)
    indices = index_of[values]
    predicted = np.empty_like(indices)
    predicted[0, 0] = 0
    predicted[0, 1:] = indices[0, :-1]  # the top row has no row above: its left neighbour
    predicted[1:] = indices[:-1]
    steps = np.diff(palette, prepend=0).astype("<u2")
    return (
        np.uint32(palette.size).astype("<u4").tobytes()
        + steps.tobytes()
        + residuals.pack(residuals.zigzag(indices - predicted))
    )


def decode_body(body, height, width, offset=0):
    """The uint16 frame (height x width) of an uncompressed lossless body, or CorruptPayloadError.

    The body starts ``offset`` bytes into ``body`` and must run to its end.
    """
    body = memoryview(body)[offset:]
    if len(body) < PALETTE_COUNT_BYTES:
        raise errors.CorruptPayloadError(f"lossless body of {len(body)} bytes has no palette")
    count = int(np.frombuffer(body[:PALETTE_COUNT_BYTES], "<u4")[0])
    if not 0 < count <= MAX_PALETTE:
        raise errors.CorruptPayloadError(f"palette of {count} values (allowed 1…{MAX_PALETTE})")
    start = PALETTE_COUNT_BYTES + 2 * count
    if len(body) < start:
        raise errors.CorruptPayloadError(f"palette of {count} values cut short")
    palette = np.cumsum(np.frombuffer(body[PALETTE_COUNT_BYTES:start], "<u2"), dtype=np.uint16)
    steps = residuals.unzigzag(residuals.unpack(body, start, height * width)).reshape(height, width)
    steps[0] = np.cumsum(steps[0], dtype=np.uint16)
    indices = np.cumsum(steps, axis=0, dtype=np.uint16)
    if int(indices.max()) >= count:
        raise errors.CorruptPayloadError(f"palette index {int(indices.max())} beyond its {count} values")
    return palette[indices]


class LosslessEncoder(IntraEncoder):
    """Encodes DepthFrames exactly, every frame absolute (a keyframe), zstd-compressed.

    The profile follows each frame's units: LOSSLESS_RAW for raw disparity, LOSSLESS_MM for mm.
    """

    # zstd level 1: the best bytes per encode millisecond measured; level 3 gains < 1 %.
    ZSTD_LEVEL = 1

    def __init__(self, near_mm=500, far_mm=8000, zstd_level=None):
        super().__init__(near_mm, far_mm)
        self.zstd_level = self.ZSTD_LEVEL if zstd_level is None else zstd_level
        self._values = None

    @property
    def latest_values(self):
        """The values of the latest encoded frame (uint16, 480 x 640), as a decoder must see them."""
        return self._values

    def encode(self, frame):
        """The wire frame (bytes) for ``frame``."""
        values = frame.depth
        payload = zstdframe.compress(encode_body(values), self.zstd_level)
        self._values = values
        # Subsampled before the conversion: the motion cue needs only these pixels.
        motion_depth_mm = depth_in_millimetres(values[::MOTION_STRIDE, ::MOTION_STRIDE], frame.units)
        return self._message(UNITS_PROFILE[frame.units], frame, values.shape, payload, motion_depth_mm)


def decode_payload(header, payload):
    """Decode a lossless frame now; return a function of the previous values that gives its values."""
    body = zstdframe.decompress(payload, max_body_size(header.width * header.height))
    values = decode_body(body, header.height, header.width)
    return lambda previous_values: values
