"""Tests for depthcam.codec.temporal: the per-pixel median of three."""

import numpy as np

from depthcam.codec.temporal import MedianOfThree, median_of_three


def test_median_of_three_is_the_middle_value():
    """Each element is the middle of its three, in any order."""
    values = np.array([[1, 5, 3], [9, 2, 2], [7, 7, 0]], np.uint8)
    expected = np.median(values, axis=0).astype(np.uint8)
    for a, b, c in ((0, 1, 2), (2, 0, 1), (1, 2, 0)):
        np.testing.assert_array_equal(median_of_three(values[a], values[b], values[c]), expected)


def test_history_starts_as_the_first_frame():
    """By default the first frame passes unchanged (no start-up artefact)."""
    median = MedianOfThree()
    first = np.array([10, 20], np.uint8)
    np.testing.assert_array_equal(median(first), first)


def test_zero_history_reproduces_the_2012_start():
    """With history_fill=0 the first two outputs are pulled to zero, as in the 2012 code."""
    median = MedianOfThree(history_fill=0)
    assert median(np.array([10], np.uint16)).tolist() == [0]
    assert median(np.array([12], np.uint16)).tolist() == [10]
    assert median(np.array([11], np.uint16)).tolist() == [11]
