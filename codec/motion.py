"""The motion cue: where in the frame depth changed since the previous frame, and how far away."""

import numpy as np

from depthcam.codec.header import NO_MOTION, MotionCue
from depthcam.codec.quantization import NO_READING_CODE

# Code steps below this are the sensor's flicker, not movement.
MOTION_THRESHOLD_CODES = 3


def motion_cue(previous_codes, codes, quantizer):
    """The MotionCue between two code frames (NO_MOTION when nothing moved)."""
    if previous_codes is None:
        return NO_MOTION
    both_valid = (previous_codes != NO_READING_CODE) & (codes != NO_READING_CODE)
    step = np.abs(codes.astype(np.int16) - previous_codes.astype(np.int16))
    changed = both_valid & (step >= MOTION_THRESHOLD_CODES)
    count = int(np.count_nonzero(changed))
    if not count:
        return NO_MOTION
    rows, cols = np.nonzero(changed)
    height, width = codes.shape
    depth_mm = quantizer.to_mm(codes[changed]).mean()
    return MotionCue(
        u=(cols.mean() + 0.5) / width,
        v=(rows.mean() + 0.5) / height,
        depth_mm=int(round(depth_mm)),
        weight=count / max(1, int(np.count_nonzero(both_valid))),
    )
