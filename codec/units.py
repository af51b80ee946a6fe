"""The one place where Kinect raw disparity and millimetres are converted.

Raw disparity to metres uses OpenKinect's approximation (uncalibrated, good to a few percent
within 0.5–5 m): ``z = 1 / (raw * -0.0030711016 + 3.3309495161)``. Note that 1/z is *linear* in
raw disparity, which is why the classic profile quantizes linearly in inverse depth.
"""

import numpy as np

from depthcam.codec.frame import DepthUnits

RAW_NO_READING = 2047
MM_NO_READING = 0
# 1/z [1/m] = RAW_SLOPE * raw + RAW_OFFSET (OpenKinect wiki, "Imaging Information").
RAW_SLOPE_PER_M = -0.0030711016
RAW_OFFSET_PER_M = 3.3309495161
# Beyond this the formula's denominator nears zero: no Kinect v1 reading is meaningful there.
MAX_RAW_DEPTH_MM = 10000


def raw_to_mm(raw):
    """Millimetres (uint16, 0 = no reading) from raw 11-bit disparity (2047 = no reading)."""
    raw = np.asarray(raw)
    inverse_m = raw.astype(np.float32) * np.float32(RAW_SLOPE_PER_M) + np.float32(RAW_OFFSET_PER_M)
    valid = (raw < RAW_NO_READING) & (inverse_m > 1000.0 / MAX_RAW_DEPTH_MM)
    mm = np.zeros(raw.shape, np.float32)
    np.divide(np.float32(1000.0), inverse_m, out=mm, where=valid)
    return np.rint(mm).astype(np.uint16)


def mm_to_raw(mm):
    """Raw 11-bit disparity (uint16, 2047 = no reading) from millimetres (0 = no reading)."""
    mm = np.asarray(mm)
    valid = (mm > 0) & (mm <= MAX_RAW_DEPTH_MM)
    inverse_m = np.zeros(mm.shape, np.float64)
    np.divide(1000.0, mm, out=inverse_m, where=valid)
    raw = np.rint((inverse_m - RAW_OFFSET_PER_M) / RAW_SLOPE_PER_M)
    raw = np.where(valid, np.clip(raw, 0, RAW_NO_READING - 1), RAW_NO_READING)
    return raw.astype(np.uint16)


def depth_in_millimetres(depth, units):
    """``depth`` (an array of values in DepthUnits ``units``) in millimetres."""
    if units is DepthUnits.MILLIMETRES:
        return depth
    return raw_to_mm(depth)


def to_millimetres(frame):
    """The frame's depth in millimetres, whatever units it came in."""
    return depth_in_millimetres(frame.depth, frame.units)


def to_raw_disparity(frame):
    """The frame's depth as Kinect raw disparity, whatever units it came in."""
    if frame.units is DepthUnits.RAW_DISPARITY:
        return frame.depth
    return mm_to_raw(frame.depth)
