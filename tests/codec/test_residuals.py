"""Tests for depthcam.codec.residuals: zigzag and the crumb/escape packing."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from depthcam.codec import errors, residuals


def test_zigzag_maps_small_residuals_to_small_numbers():
    """0, −1, 1, −2, 2 become 0, 1, 2, 3, 4, and the int16 ends stay apart."""
    signed = np.array([0, -1, 1, -2, 2, -32768, 32767], np.int32)
    assert residuals.zigzag(signed).tolist() == [0, 1, 2, 3, 4, 65535, 65534]


def test_unzigzag_undoes_zigzag_mod_2_16():
    """Every residual mod 2^16 comes back from its zigzag."""
    signed = np.arange(-65535, 65536, dtype=np.int32)
    restored = residuals.unzigzag(residuals.zigzag(signed))
    np.testing.assert_array_equal(restored, (signed & 0xFFFF).astype(np.uint16))


def test_small_residuals_take_two_bits():
    """Residuals 0…2 pack four to a byte with no escapes."""
    assert len(residuals.pack(np.array([0, 1, 2, 0, 1], np.uint16))) == 2


def test_escapes_take_a_byte_then_a_word():
    """3…257 add one escape byte, 258 and beyond a byte and a word."""
    assert len(residuals.pack(np.array([3, 257, 258, 65535], np.uint16))) == 1 + 4 + 2 * 2


@settings(max_examples=100, deadline=None)
@given(arrays(np.uint16, st.integers(0, 50), elements=st.integers(0, 65535)))
def test_pack_round_trips(unsigned):
    """Any zigzagged residuals unpack to themselves."""
    data = b"xy" + residuals.pack(unsigned)
    np.testing.assert_array_equal(residuals.unpack(data, 2, unsigned.size), unsigned)


BAD_SECTIONS = [
    ("crumbs short", bytes([0b11000000]), 5),
    ("escape byte missing", bytes([0b11000000]), 1),
    ("escape word missing", bytes([0b11000000, 255, 0]), 1),
    ("trailing byte", bytes([0, 0]), 4),
    ("padding set", bytes([0b00000001]), 3),
]


@pytest.mark.parametrize("label, data, count", BAD_SECTIONS, ids=[b[0] for b in BAD_SECTIONS])
def test_bad_sections_are_corrupt(label, data, count):
    """Each malformed residual section raises CorruptPayloadError."""
    with pytest.raises(errors.CorruptPayloadError):
        residuals.unpack(data, 0, count)
