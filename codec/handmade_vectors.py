"""Writes tests/vectors/handmade.json: frames laid out byte by byte from FORMAT.md, each with a result worked out by hand.

``python -m depthcam.codec.handmade_vectors [OUT_DIR]``. The other vector files take their expected
results from the Python decoder, so in Python they only catch a change; these do not. No depthcam
module is used: the header is packed from FORMAT.md's table, the payloads are the profiles' layouts
written out by hand (compressed with the standard lzma and zstandard libraries, whose output any
decoder must accept), and each expected result is a literal worked out from FORMAT.md's rules (the
comments show the working), or for classic a formula the frame was made from. Layout as in
``codec/vectors.py``; a stream may mix profiles, so each expectation has ``codes`` (classic) or
``units`` and ``values`` (the others).
"""

import base64
import hashlib
import json
import lzma
import struct
import sys
from pathlib import Path

import numpy as np
import zstandard

FORMAT_VERSION = 3  # FORMAT.md's, written out: no depthcam module is used
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "vectors"
FILE_NAME = "handmade.json"
# FORMAT.md's header: magic, version, profile, flags, reserved, sequence, capture_time_us, width,
# height, near_mm, far_mm, motion_u, motion_v, motion_depth_mm, motion_weight, payload_length.
HEADER_LAYOUT = "<4sBBBBIQHHHHHHHHI"
CAPTURE_TIME_US = 1_700_000_000_000_000
NEAR_MM, FAR_MM = 500, 8000
KEYFRAME = 1
CLASSIC, LOSSLESS_RAW, LOSSLESS_MM, FINE = 1, 2, 3, 4
CLASSIC_SHAPE = (120, 160)


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def message(profile, flags, sequence, width, height, payload):
    """A wire frame: FORMAT.md's 40-byte header (no motion cue), then ``payload``."""
    header = struct.pack(HEADER_LAYOUT, b"DCAM", FORMAT_VERSION, profile, flags, 0, sequence, CAPTURE_TIME_US + sequence,
                         width, height, NEAR_MM, FAR_MM, 0, 0, 0, 0, len(payload))
    return header + payload


def expected_header(profile, flags, sequence, width, height, payload):
    return {"profile": profile, "flags": flags, "sequence": sequence, "capture_time_us": CAPTURE_TIME_US + sequence,
            "width": width, "height": height, "near_mm": NEAR_MM, "far_mm": FAR_MM, "motion_u": 0,
            "motion_v": 0, "motion_depth_mm": 0, "motion_weight": 0, "payload_length": len(payload)}


def values_frame(profile, sequence, width, height, body, units, values):
    """A lossless or fine frame of ``body`` (zstd-compressed here) expected to decode to ``values``."""
    payload = zstandard.ZstdCompressor(level=1).compress(body)
    little_endian = struct.pack(f"<{len(values)}H", *values)
    assert len(values) == width * height
    return {"message": _b64(message(profile, KEYFRAME, sequence, width, height, payload)),
            "expect": {"header": expected_header(profile, KEYFRAME, sequence, width, height, payload),
                       "units": units, "values_sha256": hashlib.sha256(little_endian).hexdigest(),
                       "values": _b64(little_endian)}}


def error_frame(profile, width, height, body, error):
    payload = zstandard.ZstdCompressor(level=1).compress(body)
    return {"message": _b64(message(profile, KEYFRAME, 0, width, height, payload)), "expect": {"error": error}}


def palette(*steps):
    """A body's palette section: its size, then its steps."""
    return struct.pack(f"<I{len(steps)}H", len(steps), *steps)


def lossless_frames():
    # 3 x 2 raw. Palette 700, 701, 2047 (steps 700, 1, 1346). Indices 0 1 2 / 0 0 2. The top row is
    # predicted from the left (the first pixel from 0): residuals 0, +1, +1; the bottom row from
    # above: 0, -1, 0. Zigzag 0, 2, 2 / 0, 1, 0. Crumbs 00 10 10 00 = 0x28, 01 00 + padding = 0x40.
    small = palette(700, 1, 1346) + bytes([0x28, 0x40])
    # 4 x 1 millimetres with every escape. Palette 1000 ... 1199 (a step of 1000, then 199 of 1).
    # Indices 0, 2, 150, 0 from the left: residuals 0, +2, +148, -150; zigzag 0, 4, 296, 299.
    # Crumbs 0, 3, 3, 3 = 0x3F; escape bytes 4 - 3 = 1, then 255, 255 (zigzag over 257); escape
    # words 296 - 258 = 38 and 299 - 258 = 41.
    escapes = palette(1000, *[1] * 199) + bytes([0x3F, 1, 255, 255]) + struct.pack("<2H", 38, 41)
    # 2 x 1 raw whose palette wraps: steps 65535, 2 give values 65535, (65535 + 2) mod 2^16 = 1.
    # Indices 1, 0: residuals +1, -1; zigzag 2, 1; crumbs 10 01 + padding = 0x90.
    wrapping = palette(65535, 2) + bytes([0x90])
    # 2 x 2 fine, step 21 mm, levels 10, 20 / 0, 10. Palette 0, 10, 20 (steps 0, 10, 10); indices
    # 1, 2 / 0, 1: residuals +1, +1 / -1, -1 (from above); zigzag 2, 2, 1, 1; crumbs 10 10 01 01 =
    # 0xA5. Depth = level x 21 mm, level 0 = no reading.
    fine = struct.pack("<H", 21) + palette(0, 10, 10) + bytes([0xA5])
    return [
        values_frame(LOSSLESS_RAW, 0, 3, 2, small, "raw", [700, 701, 2047, 700, 700, 2047]),
        values_frame(LOSSLESS_MM, 1, 4, 1, escapes, "mm", [1000, 1002, 1150, 1000]),
        values_frame(LOSSLESS_RAW, 2, 2, 1, wrapping, "raw", [1, 65535]),
        values_frame(FINE, 3, 2, 2, fine, "mm", [210, 420, 0, 210]),
    ]


def lossless_errors():
    # Palette of one value; the first pixel's zigzag 2 is residual +1, index 1: beyond the palette.
    beyond = palette(5) + bytes([0x80])
    # 1 x 1: crumb 00, then the six unused bits of the byte not zero.
    padding = palette(5) + bytes([0x01])
    # 2 x 1: crumbs 11 00 need one escape byte, and there is none.
    no_escape = palette(5, 1) + bytes([0xC0])
    # Fine: level 2 x step 40000 mm is over 65535.
    too_deep = struct.pack("<H", 40000) + palette(2) + bytes([0x00])
    return [
        error_frame(LOSSLESS_RAW, 2, 1, beyond, "CorruptPayloadError"),
        error_frame(LOSSLESS_RAW, 1, 1, padding, "CorruptPayloadError"),
        error_frame(LOSSLESS_MM, 2, 1, no_escape, "CorruptPayloadError"),
        error_frame(FINE, 1, 1, too_deep, "CorruptPayloadError"),
    ]


def classic_codes():
    """The keyframe's codes: a ramp, with no reading (255) on every 17th diagonal."""
    rows, cols = np.mgrid[0:CLASSIC_SHAPE[0], 0:CLASSIC_SHAPE[1]]
    codes = (cols + 2 * rows) % 255
    codes[(rows + cols) % 17 == 0] = 255
    return codes.astype(np.uint8)


def classic_frames():
    """A keyframe, then a delta of +1 everywhere: (code + 1) mod 256, so 254 -> 255 and 255 -> 0."""
    keyframe = classic_codes()
    height, width = CLASSIC_SHAPE
    key_payload = lzma.compress(keyframe.tobytes(), format=lzma.FORMAT_ALONE)
    delta_payload = lzma.compress(bytes([1]) * (width * height), format=lzma.FORMAT_ALONE)
    after = ((keyframe.astype(np.int64) + 1) % 256).astype(np.uint8)
    return [
        {"message": _b64(message(CLASSIC, KEYFRAME, 7, width, height, key_payload)),
         "expect": {"header": expected_header(CLASSIC, KEYFRAME, 7, width, height, key_payload),
                    "codes": _b64(keyframe.tobytes())}},
        {"message": _b64(message(CLASSIC, 0, 8, width, height, delta_payload)),
         "expect": {"header": expected_header(CLASSIC, 0, 8, width, height, delta_payload),
                    "codes": _b64(after.tobytes())}},
    ]


def build_handmade_vectors():
    """The hand-made vectors as a JSON-ready dict."""
    return {"format_version": FORMAT_VERSION, "streams": [
        {"name": "handmade-lossless", "description": "small lossless, lossless-mm and fine frames laid "
         "out by hand: predictions from the left and above, every escape, a palette that wraps",
         "frames": lossless_frames()},
        {"name": "handmade-lossless-corrupt", "description": "an index beyond the palette; padding bits "
         "set; a missing escape byte; a fine depth over 65535 mm", "frames": lossless_errors()},
        {"name": "handmade-classic", "description": "a classic keyframe of a ramp with no-reading "
         "pixels, then a delta of +1 that wraps 255 to 0", "frames": classic_frames()},
    ]}


def write_handmade_vectors(out_dir=DEFAULT_OUT_DIR):
    """Write ``handmade.json`` into ``out_dir``; return its path."""
    path = Path(out_dir) / FILE_NAME
    path.write_text(json.dumps(build_handmade_vectors(), indent=1) + "\n")
    return path


if __name__ == "__main__":
    print(write_handmade_vectors(*sys.argv[1:2]))
