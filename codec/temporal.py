"""Per-pixel median of the last three frames, which removes one-frame flicker and speckle."""

import numpy as np


def median_of_three(a, b, c):
    """Element-wise median of three equally shaped arrays."""
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


class MedianOfThree:
    """Keeps the last two frames and returns each new frame's median with them.

    ``history_fill`` is what the first frames are compared with: ``None`` repeats the first frame
    (no start-up artefact), a number fills with that value (the 2012 code used zeros).
    """

    def __init__(self, history_fill=None):
        self._history_fill = history_fill
        self._older = None
        self._newer = None

    def __call__(self, frame):
        if self._older is None:
            if self._history_fill is None:
                self._older, self._newer = frame, frame
            else:
                self._older = self._newer = np.full_like(frame, self._history_fill)
        result = median_of_three(self._older, self._newer, frame)
        self._older, self._newer = self._newer, frame
        return result
