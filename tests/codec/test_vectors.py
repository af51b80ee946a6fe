"""Tests for depthcam.codec.vectors: the committed vectors are current and the Python decoder meets them."""

import base64
import hashlib
import json

import numpy as np
import pytest

from depthcam.codec import errors
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.vectors import DEFAULT_OUT_DIR, build_lossless_vectors, build_vectors
from tests.codec.vectorstreams import decoded_frames

VECTORS = json.loads((DEFAULT_OUT_DIR / "classic.json").read_text())
LOSSLESS_VECTORS = json.loads((DEFAULT_OUT_DIR / "lossless.json").read_text())


def test_committed_vectors_match_the_generator():
    """tests/vectors/classic.json is what the codec writes today (rerun the script after a change)."""
    assert build_vectors() == VECTORS


def test_committed_lossless_vectors_match_the_generator():
    """tests/vectors/lossless.json is what the codec writes today."""
    assert build_lossless_vectors() == LOSSLESS_VECTORS


def test_vectors_cover_every_rejection_rule():
    """Every error of FORMAT.md's rejection table appears in some vector."""
    named = {frame["expect"].get("error") for stream in VECTORS["streams"] for frame in stream["frames"]}
    leaves = {cls.__name__ for cls in vars(errors).values()
              if isinstance(cls, type) and issubclass(cls, errors.CodecError) and not cls.__subclasses__()}
    assert leaves <= named


@pytest.mark.parametrize("stream", VECTORS["streams"], ids=[s["name"] for s in VECTORS["streams"]])
def test_python_decoder_meets_the_vectors(stream):
    """Fed in order, each message gives the expected header and codes, or the named error."""
    for decoded, expect in decoded_frames(stream):
        assert decoded.codes.tobytes() == base64.b64decode(expect["codes"])


@pytest.mark.parametrize("table", VECTORS["dequantize"], ids=lambda t: f"{t['near_mm']}-{t['far_mm']}")
def test_dequantize_tables(table):
    """The code → mm tables are the quantizer's."""
    quantizer = InverseDepthQuantizer(table["near_mm"], table["far_mm"])
    assert quantizer.to_mm(np.arange(256)).tolist() == table["mm"]


@pytest.mark.parametrize("stream", LOSSLESS_VECTORS["streams"], ids=[s["name"] for s in LOSSLESS_VECTORS["streams"]])
def test_python_decoder_meets_the_lossless_vectors(stream):
    """Fed in order, each lossless message gives the expected header, units and values, or the named error."""
    for decoded, expect in decoded_frames(stream):
        values = decoded.codes.astype("<u2").tobytes()
        assert decoded.units.value == expect["units"]
        assert hashlib.sha256(values).hexdigest() == expect["values_sha256"]
        if "values" in expect:
            assert values == base64.b64decode(expect["values"])
