"""The shared vectors against expectations that owe nothing to the decoder under test.

tests/vectors/handmade.json (codec/handmade_vectors.py) holds frames whose results were worked out by
hand; every vector file is also read again here by a second, simpler reading of FORMAT.md, written
for these tests: the header by byte offset, classic payloads with the standard lzma module and a
running sum, lossless and fine bodies pixel by pixel in plain Python, classic-cm codes against the
CRC-32 the encoder put in each payload, and the dequantize tables from FORMAT.md's formula in exact
fractions.
"""

import base64
import hashlib
import json
import lzma
import struct
import zlib
from fractions import Fraction

import numpy as np
import pytest
import zstandard

from depthcam.codec.handmade_vectors import DEFAULT_OUT_DIR, FILE_NAME, build_handmade_vectors
from tests.codec.vectorstreams import decoded_frames

VECTOR_FILES = ("classic.json", "lossless.json", FILE_NAME)
VECTORS = {name: json.loads((DEFAULT_OUT_DIR / name).read_text()) for name in VECTOR_FILES}
HANDMADE = VECTORS[FILE_NAME]

# FORMAT.md's header table: (field, offset, size); all little-endian, unsigned.
HEADER_FIELDS = (("profile", 5, 1), ("flags", 6, 1), ("sequence", 8, 4), ("capture_time_us", 12, 8),
                 ("width", 20, 2), ("height", 22, 2), ("near_mm", 24, 2), ("far_mm", 26, 2),
                 ("motion_u", 28, 2), ("motion_v", 30, 2), ("motion_depth_mm", 32, 2),
                 ("motion_weight", 34, 2), ("payload_length", 36, 4))
HEADER_BYTES = 40
FORMAT_VERSION = 3  # FORMAT.md's `version` field, written out
KEYFRAME_FLAG = 1
CLASSIC, CLASSIC_CM, FINE = 1, 5, 4
LOSSLESS_PROFILES = (2, 3, 4)


def frames_of(*file_names):
    """(where, message bytes, expect) of every frame in the named vector files."""
    for file_name in file_names:
        for stream in VECTORS[file_name]["streams"]:
            for index, frame in enumerate(stream["frames"]):
                yield f"{file_name} {stream['name']} {index}", base64.b64decode(frame["message"]), frame["expect"]


def read_header(message):
    """The header fields by FORMAT.md's offsets."""
    return {name: int.from_bytes(message[offset:offset + size], "little") for name, offset, size in HEADER_FIELDS}


def reference_lossless_body(body, width, height):
    """FORMAT.md's lossless body, read pixel by pixel: the values, row-major."""
    count = width * height
    (palette_size,) = struct.unpack_from("<I", body, 0)
    values, value = [], 0
    for index in range(palette_size):
        value = (value + struct.unpack_from("<H", body, 4 + 2 * index)[0]) % 65536
        values.append(value)
    crumbs_at = 4 + 2 * palette_size
    escape_bytes_at = crumbs_at + (count + 3) // 4
    crumbs = [(body[crumbs_at + i // 4] >> (6 - 2 * (i % 4))) & 3 for i in range(count)]
    escape_count = crumbs.count(3)
    escape_bytes = body[escape_bytes_at:escape_bytes_at + escape_count]
    words_at = escape_bytes_at + escape_count
    words = struct.unpack_from(f"<{escape_bytes.count(255)}H", body, words_at)
    assert len(body) == words_at + 2 * len(words)
    escapes, wide = iter(escape_bytes), iter(words)
    indices = []
    for i, crumb in enumerate(crumbs):
        zigzag = crumb
        if crumb == 3:
            byte = next(escapes)
            zigzag = 3 + byte if byte < 255 else (258 + next(wide)) % 65536
        residual = (zigzag >> 1) ^ -(zigzag & 1)
        row, column = divmod(i, width)
        prediction = indices[i - width] if row else (indices[i - 1] if column else 0)
        indices.append((prediction + residual) % 65536)
    return [values[index] for index in indices]


def test_committed_handmade_vectors_match_the_generator():
    """tests/vectors/handmade.json is what codec/handmade_vectors.py writes."""
    assert build_handmade_vectors() == HANDMADE


@pytest.mark.parametrize("stream", HANDMADE["streams"], ids=[s["name"] for s in HANDMADE["streams"]])
def test_python_decoder_meets_the_handmade_vectors(stream):
    """Fed in order, each hand-made frame gives the header, codes or values worked out by hand, or the named error."""
    for decoded, expect in decoded_frames(stream):
        if "codes" in expect:
            assert decoded.codes.tobytes() == base64.b64decode(expect["codes"])
        else:
            assert decoded.units.value == expect["units"]
            assert decoded.codes.astype("<u2").tobytes() == base64.b64decode(expect["values"])


def test_handmade_vectors_cover_each_profile_and_escape():
    """The hand-made frames include classic keyframe and delta, both lossless units, fine, and every escape."""
    decoded = [expect for _, _, expect in frames_of(FILE_NAME) if "header" in expect]
    assert {expect["header"]["profile"] for expect in decoded} == {1, 2, 3, 4}
    assert {expect["header"]["flags"] for expect in decoded} == {0, 1}
    errors_named = [expect["error"] for _, _, expect in frames_of(FILE_NAME) if "error" in expect]
    assert len(errors_named) >= 4


def test_every_expected_header_is_the_bytes_read_by_formats_offsets():
    """In every vector file, each expected header is what FORMAT.md's table reads from the message."""
    checked = 0
    for where, message, expect in frames_of(*VECTOR_FILES):
        if "header" in expect:
            assert message[:4] == b"DCAM" and message[4] == FORMAT_VERSION, where
            assert read_header(message) == expect["header"], where
            assert len(message) == HEADER_BYTES + expect["header"]["payload_length"], where
            checked += 1
    assert checked >= 40


def test_classic_codes_match_a_reference_lzma_decoder():
    """Every classic frame that follows a keyframe unbroken decodes, by lzma and a running sum mod 256, to its expected codes."""
    checked = 0
    for file_name in VECTOR_FILES:
        for stream in VECTORS[file_name]["streams"]:
            codes, sequence = None, None
            for frame in stream["frames"]:
                message, expect = base64.b64decode(frame["message"]), frame["expect"]
                header = read_header(message)
                if "codes" not in expect or header["profile"] != CLASSIC:
                    continue
                payload = lzma.decompress(message[HEADER_BYTES:], format=lzma.FORMAT_ALONE)
                step = np.frombuffer(payload, np.uint8)
                if header["flags"] & KEYFRAME_FLAG:
                    codes = step.copy()
                elif codes is not None and header["sequence"] == sequence + 1:
                    codes = (codes + step).astype(np.uint8)  # uint8 wraps: mod 256
                else:
                    codes = None
                    continue
                sequence = header["sequence"]
                assert codes.tobytes() == base64.b64decode(expect["codes"]), stream["name"]
                checked += 1
    assert checked >= 8


def test_classic_cm_codes_carry_the_crc_the_encoder_wrote():
    """Each classic-cm frame's expected codes have the CRC-32 that its encoder put at the payload's start."""
    checked = 0
    for where, message, expect in frames_of("classic.json"):
        if "codes" in expect and expect["header"]["profile"] == CLASSIC_CM:
            (crc,) = struct.unpack_from("<I", message, HEADER_BYTES)
            assert zlib.crc32(base64.b64decode(expect["codes"])) == crc, where
            checked += 1
    assert checked >= 10


def test_lossless_values_match_a_reference_decoder():
    """Every lossless and fine frame that decodes gives, read pixel by pixel in plain Python, its expected values."""
    checked = 0
    for where, message, expect in frames_of(*VECTOR_FILES):
        if "values_sha256" not in expect or expect["header"]["profile"] not in LOSSLESS_PROFILES:
            continue
        header = expect["header"]
        body = zstandard.ZstdDecompressor().decompress(message[HEADER_BYTES:])
        if header["profile"] == FINE:
            (step_mm,) = struct.unpack_from("<H", body, 0)
            values = [level * step_mm for level in reference_lossless_body(body[2:], header["width"], header["height"])]
        else:
            values = reference_lossless_body(body, header["width"], header["height"])
        little_endian = struct.pack(f"<{len(values)}H", *values)
        assert hashlib.sha256(little_endian).hexdigest() == expect["values_sha256"], where
        checked += 1
    assert checked >= 12


@pytest.mark.parametrize("table", VECTORS["classic.json"]["dequantize"], ids=lambda t: f"{t['near_mm']}-{t['far_mm']}")
def test_dequantize_tables_follow_formats_formula(table):
    """Code c is 1/z = 1/near - (c/254)(1/near - 1/far), in exact fractions, rounded to mm; 255 is 0."""
    near, far = Fraction(table["near_mm"]), Fraction(table["far_mm"])
    expected = [round(1 / (1 / near - Fraction(code, 254) * (1 / near - 1 / far))) for code in range(255)] + [0]
    assert table["mm"] == expected
