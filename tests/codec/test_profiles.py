"""Tests for depthcam.codec.profiles: the encoder factory behind the source's --profile."""

import pytest

from depthcam.codec import ClassicEncoder, Profile, contextcoding
from depthcam.codec.fine import FineEncoder, FineInverseEncoder
from depthcam.codec.lossless import LosslessEncoder
from depthcam.codec.profiles import PROFILE_NAMES, make_encoder


def test_each_profile_name_gives_its_encoder():
    """classic, lossless and fine give their encoders with the source's options."""
    classic = make_encoder("classic", keyframe_interval=7, near_mm=400, far_mm=4500)
    assert isinstance(classic, ClassicEncoder) and classic.keyframe_interval == 7
    assert classic.quantizer.far_mm == 4500
    lossless = make_encoder("lossless", keyframe_interval=7, near_mm=400, far_mm=4500)
    assert isinstance(lossless, LosslessEncoder) and lossless.quantizer.near_mm == 400
    fine = make_encoder("fine", keyframe_interval=7, near_mm=400, far_mm=4500, error_mm=5)
    assert isinstance(fine, FineInverseEncoder) and fine.error_mm == 5 and fine.scale == 324000
    assert make_encoder("fine").error_mm == FineEncoder.ERROR_MM
    assert set(PROFILE_NAMES) == {"classic", "classic-lzma", "lossless", "fine"}


def test_classic_sends_context_mixing_and_classic_lzma_does_not():
    """--profile classic is classic-cm (the compiled coder is built here); classic-lzma is profile 1."""
    assert contextcoding.available(), "the compiled coder must be built for the tests (pip install -e .)"
    assert make_encoder("classic").profile is Profile.CLASSIC_CM
    lzma = make_encoder("classic-lzma", keyframe_interval=7)
    assert lzma.profile is Profile.CLASSIC and lzma.keyframe_interval == 7


def test_an_unknown_profile_is_refused():
    """A name outside PROFILE_NAMES raises ValueError naming the choices."""
    with pytest.raises(ValueError, match="classic"):
        make_encoder("jpeg")
