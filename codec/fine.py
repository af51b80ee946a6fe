"""The fine profiles: 320 x 240 millimetres within a stated error, coded as the lossless profiles code values.

Each 2 x 2 block of the sensor frame gives the rounded mean of the readings on its nearest surface
(as the classic profile's reduction does for 4 x 4), and each depth ``z`` becomes a *level*. The
level frame then goes through the lossless body (palette, prediction from above, crumbs, zstd).

- fine (profile 4): ``q = round(z / step)`` with ``step = 2 · error_mm + 1``, so ``|q · step − z| ≤
  error_mm`` at every depth. Near the sensor that is several of its own depth steps (Kinect v1's
  step is z² · 3.07e-6 mm: 3 mm at 1 m, 10 mm at 1.8 m), and a smooth surface at 1 m became
  terraces 21 mm apart, which the viewer showed as zebra stripes.
- fine-inverse (profile 6, what ``--profile fine`` sends): ``q = round(scale / z)``, levels linear
  in inverse depth as the sensor's disparity is, with ``scale = 1800² / (2 · error_mm)``: the error
  is ``error_mm`` at 1.8 m and scales with z², so it is about one sensor step at every depth. On
  the real recordings (bench/codec.py) it takes 29 % fewer bytes (walk-in) or 2 % more (kitchen)
  than profile 4 at the same 10 mm, with a third to a half of its error below 1.5 m.

Measured on the real recordings, prediction from the previous frame, even with hysteresis that
keeps a pixel's level while it stays within the bound, gave 20–47 % more bytes than the spatial
coding: the sensor's noise moves the nearest surface between frames.
"""

import numpy as np

from depthcam.codec import errors, lossless, zstdframe
from depthcam.codec.header import Profile
from depthcam.codec.intra import IntraEncoder
from depthcam.codec.units import to_millimetres

BLOCK = 2
# A block is "no reading" when fewer of its 4 pixels than this have one.
MIN_VALID_PER_BLOCK = 2
# Readings within this fraction behind the block's nearest one count as the same surface.
SURFACE_TOLERANCE = 0.05
STEP_BYTES = 2
SCALE_BYTES = 4
MAX_DEPTH_MM = 65535
MAX_LEVEL = 65535
# The largest fine-inverse scale whose largest level still has a depth (65535 mm at level 65535).
MAX_SCALE = MAX_LEVEL * MAX_DEPTH_MM
# fine-inverse's error_mm holds at this depth, mm: where Kinect v1's own step is 10 mm, profile 4's
# default bound, so both profiles' defaults agree there.
REFERENCE_DEPTH_MM = 1800
# Every 2nd pixel of every 2nd row of the 320 x 240 frame feeds the motion cue: the classic profile's 160 x 120.
MOTION_STRIDE = 2


def reduce_to_fine(depth_mm):
    """The 240 x 320 frame (uint16 mm, 0 = no reading) of a 480 x 640 one: nearest-surface 2 x 2 means."""
    # The four pixels of each block as four quarter-size views: elementwise work, no reshaped copy.
    corners = [depth_mm[row::BLOCK, col::BLOCK].astype(np.float32)
               for row in range(BLOCK) for col in range(BLOCK)]
    nearest = np.full(corners[0].shape, np.inf, np.float32)
    valid_count = np.zeros(corners[0].shape, np.int32)
    for corner in corners:
        valid = corner > 0
        np.minimum(nearest, np.where(valid, corner, np.inf), out=nearest)
        valid_count += valid
    limit = nearest * np.float32(1 + SURFACE_TOLERANCE)
    total = np.zeros_like(nearest)
    count = np.zeros(corners[0].shape, np.float32)
    for corner in corners:
        on_surface = (corner > 0) & (corner <= limit)
        total += np.where(on_surface, corner, 0)
        count += on_surface
    mean = total / np.maximum(count, 1)
    return np.where(valid_count >= MIN_VALID_PER_BLOCK, np.rint(mean), 0).astype(np.uint16)


def step_for(error_mm):
    """The quantization step (mm) that keeps every depth within ``error_mm``."""
    return 2 * error_mm + 1


def quantize(depth_mm, step_mm):
    """``round(z / step)`` per pixel (uint16), 0 for no reading, at least 1 for a reading.

    ``level · step`` is within ``(step − 1) / 2`` of every depth from ``step / 2`` up to
    ``⌊65535 / step⌋ · step`` (65520 mm at the default step), which covers any Kinect reading.
    """
    levels = np.rint(depth_mm / np.float64(step_mm))
    levels = np.clip(levels, 1, MAX_DEPTH_MM // step_mm)
    return np.where(depth_mm > 0, levels, 0).astype(np.uint16)


def scale_for(error_mm, reference_mm=REFERENCE_DEPTH_MM):
    """fine-inverse's scale (mm · level) whose error is ``error_mm`` at ``reference_mm``: reference² / (2 · error)."""
    return max(1, round(reference_mm ** 2 / (2 * error_mm)))


def min_level(scale):
    """The smallest fine-inverse level whose depth is at most 65535 mm (and at least 1)."""
    return max(1, int(scale / (MAX_DEPTH_MM + 0.5)) + 1)


def quantize_inverse(depth_mm, scale):
    """``round(scale / z)`` per pixel (uint16, from ``min_level(scale)`` to 65535 for a reading), 0 for no reading.

    Unclipped (for ``scale / 65535 ≤ z ≤ scale / min_level(scale)``, which covers any Kinect
    reading at the default scale), the level's depth is within ``z² / (2 · scale − z) + ½`` mm of z.
    """
    reading = depth_mm > 0
    levels = np.rint(scale / np.where(reading, depth_mm, 1).astype(np.float64))
    return np.where(reading, np.clip(levels, min_level(scale), MAX_LEVEL), 0).astype(np.uint16)


def dequantize_inverse(levels, scale):
    """Depth (uint16 mm) of fine-inverse levels: ``⌊(2 · scale + level) / (2 · level)⌋``, 0 for level 0.

    That is ``scale / level`` rounded half up, in integers, so every decoder gets the same mm; it is
    within ``z² / (2 · scale − z) + ½`` mm of any depth ``z`` that ``quantize_inverse`` gave the level.
    """
    wide = levels.astype(np.int64)
    depth = (2 * scale + wide) // np.maximum(2 * wide, 1)
    return np.where(wide > 0, depth, 0)


class FineEncoder(IntraEncoder):
    """Encodes DepthFrames as fine-profile wire frames, every frame absolute (a keyframe)."""

    # 10 mm: Kinect v1's own depth step (one disparity count) up to about 1.8 m; beyond, the
    # sensor is coarser than the bound.
    ERROR_MM = 10
    ZSTD_LEVEL = 1

    def __init__(self, error_mm=None, near_mm=500, far_mm=8000, zstd_level=None):
        super().__init__(near_mm, far_mm)
        self.error_mm = self.ERROR_MM if error_mm is None else error_mm
        if not 0 <= self.error_mm <= 1000:
            raise ValueError(f"need 0 <= error_mm <= 1000, got {self.error_mm}")
        self.step_mm = step_for(self.error_mm)
        self.zstd_level = self.ZSTD_LEVEL if zstd_level is None else zstd_level
        self._depth = None

    @property
    def latest_depth_mm(self):
        """The 240 x 320 depth (uint16 mm) a decoder gets for the latest frame."""
        return self._depth

    def reduce(self, frame):
        """The frame's 240 x 320 depth in mm before quantization (what the error bound is against)."""
        return reduce_to_fine(to_millimetres(frame))

    def encode(self, frame):
        """The wire frame (bytes) for ``frame``."""
        depth = self.reduce(frame)
        levels = quantize(depth, self.step_mm)
        body = np.uint16(self.step_mm).astype("<u2").tobytes() + lossless.encode_body(levels)
        payload = zstdframe.compress(body, self.zstd_level)
        self._depth = levels * np.uint16(self.step_mm)
        return self._message(Profile.FINE, frame, depth.shape, payload, depth[::MOTION_STRIDE, ::MOTION_STRIDE])


class FineInverseEncoder(FineEncoder):
    """Encodes DepthFrames as fine-inverse wire frames (levels linear in inverse depth), every frame a keyframe."""

    def __init__(self, error_mm=None, near_mm=500, far_mm=8000, zstd_level=None):
        super().__init__(error_mm, near_mm, far_mm, zstd_level)
        if not 0 < self.error_mm:
            raise ValueError(f"need 0 < error_mm (the error at {REFERENCE_DEPTH_MM} mm), got {self.error_mm}")
        self.scale = scale_for(self.error_mm)
        if self.scale > MAX_SCALE:
            raise ValueError(f"error_mm {self.error_mm} is too small: scale {self.scale} is beyond {MAX_SCALE}")

    def encode(self, frame):
        """The wire frame (bytes) for ``frame``."""
        depth = self.reduce(frame)
        levels = quantize_inverse(depth, self.scale)
        body = np.uint32(self.scale).astype("<u4").tobytes() + lossless.encode_body(levels)
        payload = zstdframe.compress(body, self.zstd_level)
        self._depth = dequantize_inverse(levels, self.scale).astype(np.uint16)
        return self._message(Profile.FINE_INVERSE, frame, depth.shape, payload, depth[::MOTION_STRIDE, ::MOTION_STRIDE])


def decode_inverse_payload(header, payload):
    """Decode a fine-inverse frame now; return a function of the previous depth that gives its depth (mm)."""
    pixels = header.width * header.height
    body = zstdframe.decompress(payload, SCALE_BYTES + lossless.max_body_size(pixels))
    if len(body) < SCALE_BYTES:
        raise errors.CorruptPayloadError(f"fine-inverse body of {len(body)} bytes has no scale")
    scale = int(np.frombuffer(body[:SCALE_BYTES], "<u4")[0])
    if not scale:
        raise errors.CorruptPayloadError("fine-inverse scale of 0")
    levels = lossless.decode_body(body, header.height, header.width, offset=SCALE_BYTES)
    reading = levels[levels > 0]
    if reading.size and (2 * scale + int(reading.min())) // (2 * int(reading.min())) > MAX_DEPTH_MM:
        raise errors.CorruptPayloadError(f"scale {scale} / level {int(reading.min())} is beyond 65535 mm")
    depth = dequantize_inverse(levels, scale).astype(np.uint16)
    return lambda previous_depth: depth


def decode_payload(header, payload):
    """Decode a fine frame now; return a function of the previous depth that gives its depth (mm)."""
    pixels = header.width * header.height
    body = zstdframe.decompress(payload, STEP_BYTES + lossless.max_body_size(pixels))
    if len(body) < STEP_BYTES:
        raise errors.CorruptPayloadError(f"fine body of {len(body)} bytes has no step")
    step_mm = int(np.frombuffer(body[:STEP_BYTES], "<u2")[0])
    if not step_mm:
        raise errors.CorruptPayloadError("fine step of 0 mm")
    levels = lossless.decode_body(body, header.height, header.width, offset=STEP_BYTES)
    if int(levels.max()) * step_mm > MAX_DEPTH_MM:
        raise errors.CorruptPayloadError(f"level {int(levels.max())} × {step_mm} mm is beyond 65535 mm")
    depth = levels * np.uint16(step_mm)
    return lambda previous_depth: depth
