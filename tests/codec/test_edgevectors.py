"""Tests for depthcam.codec.edgevectors: format-edges.json is current, and the Python decoders meet it."""

import base64
import hashlib
import json

import numpy as np
import pytest

from depthcam.codec import errors, legacy
from depthcam.codec.decoder import StreamDecoder
from depthcam.codec.edgevectors import CODE_OUT_OF_RANGE, FILE_NAME, build_edge_vectors
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.vectors import DEFAULT_OUT_DIR
from tests.codec.vectorstreams import decoded_frames

EDGES = json.loads((DEFAULT_OUT_DIR / FILE_NAME).read_text())
# The points of FORMAT.md each vector settles: one vector each.
RULES = {
    "volatility after a keyframe", "a genuine value equal to S", "CATCHUP on classic-cm",
    "classic-cm keyframe with a bad CRC", "negative codes", "zstd Dictionary_ID present but 0",
    "fine without KEYFRAME",
}


def test_committed_edge_vectors_match_the_generator():
    """tests/vectors/format-edges.json is what the codec writes today (rerun make vectors after a change)."""
    assert build_edge_vectors() == EDGES


def test_every_rule_has_a_vector():
    """Each point FORMAT.md settles has a stream, and every stream names its point."""
    assert {stream["rule"] for stream in EDGES["streams"]} == RULES


@pytest.mark.parametrize("stream", EDGES["streams"], ids=[s["name"] for s in EDGES["streams"]])
def test_python_decoder_meets_the_edge_vectors(stream):
    """Fed in order, each message gives the expected header and samples, or the named error."""
    for decoded, expect in decoded_frames(stream):
        if "codes" in expect:
            assert decoded.codes.tobytes() == base64.b64decode(expect["codes"])
        else:
            values = decoded.codes.astype("<u2").tobytes()
            assert hashlib.sha256(values).hexdigest() == expect["values_sha256"]


def test_code_127_of_these_ranges_rounds_half_to_even():
    """The tables hold the ties they are there for: 1.5 -> 2, 4.5 -> 4, 3.5 -> 4; 255 -> 0."""
    ties = {(t["near_mm"], t["far_mm"]): t["mm"] for t in EDGES["dequantize"]}
    assert (ties[(1, 3)][127], ties[(3, 9)][127], ties[(2, 14)][127]) == (2, 4, 4)
    assert all(table[255] == 0 for table in ties.values())


@pytest.mark.parametrize("table", EDGES["dequantize"], ids=lambda t: f"{t['near_mm']}-{t['far_mm']}")
def test_dequantize_tables(table):
    """The code -> mm tables are the quantizer's."""
    quantizer = InverseDepthQuantizer(table["near_mm"], table["far_mm"])
    assert quantizer.to_mm(np.arange(256)).tolist() == table["mm"]


def test_legacy_vectors():
    """The 2012 wire's messages decode to the flag, means and codes listed, or the named error."""
    previous = None
    for frame in EDGES["legacy"]["frames"]:
        message, expect = base64.b64decode(frame["message"]), frame["expect"]
        if "error" in expect:
            with pytest.raises(errors.CodecError) as raised:
                legacy.decode_legacy(message, previous)
            assert type(raised.value).__name__ == expect["error"]
            previous = None
            continue
        keyframe, means, previous = legacy.decode_legacy(message, previous)
        assert (keyframe, means) == (expect["keyframe"], expect["means"])
        assert previous.tobytes() == base64.b64decode(expect["codes"])


def test_out_of_range_vector_fails_on_the_code_not_the_crc():
    """cm-codes-out-of-range's two corrupt keyframes stop at a code below 0, then one over 254, as
    its description says: not at the CRC, which any corruption could fail."""
    stream = next(s for s in EDGES["streams"] if s["name"] == "cm-codes-out-of-range")
    found = []
    for frame in stream["frames"][:2]:
        with pytest.raises(errors.CorruptPayloadError) as caught:
            StreamDecoder().decode(base64.b64decode(frame["message"]))
        match = CODE_OUT_OF_RANGE.search(str(caught.value))
        assert match, str(caught.value)
        found.append(int(match.group(1)))
    assert found[0] < 0 and found[1] > 254
    assert f"code {found[0]} " in stream["description"] and f"code {found[1]} " in stream["description"]
