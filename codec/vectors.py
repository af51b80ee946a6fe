"""Writes the shared test vectors: wire frames with the decoded result each one must give.

``python -m depthcam.codec.vectors [OUT_DIR]`` writes ``classic.json`` (default:
``tests/vectors/``). pytest and the JavaScript tests both read it, so the two decoders are held
to the same bytes. The output is deterministic: rerunning it gives the same file.

Layout: ``{"format_version", "dequantize": [{near_mm, far_mm, mm: [256 values]}],
"streams": [{name, description, frames: [{message, expect}]}]}``. Each stream is fed in order to
a fresh decoder; ``message`` is base64; ``expect`` is either ``{"header": {...}, "codes": base64}``
or ``{"error": "<error class name>"}``.
"""

import base64
import json
import struct
import sys
from pathlib import Path

import numpy as np

from depthcam.codec import compression
from depthcam.codec.classic import ClassicEncoder
from depthcam.codec.decoder import StreamDecoder
from depthcam.codec.errors import CodecError
from depthcam.codec.frame import DepthFrame, DepthUnits
from depthcam.codec.header import HEADER_SIZE, HEADER_STRUCT, parse_header
from depthcam.codec.quantization import InverseDepthQuantizer

FORMAT_VERSION = 1
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "vectors"
SEED = 2012


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


def synthetic_frames(count, seed=SEED):
    """Small deterministic raw-disparity frames: a tilted wall, a moving box, holes and noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:480, 0:640]
    wall = 800 + (rows // 4) + (cols // 8)
    frames = []
    for index in range(count):
        raw = wall + rng.integers(0, 3, wall.shape)
        left = 100 + 12 * index
        raw[150:330, left:left + 120] = 600 + index
        raw[rng.random(wall.shape) < 0.02] = 2047
        raw[:, left + 120:left + 136] = 2047  # the projector's shadow beside an edge
        frames.append(DepthFrame(raw.astype(np.uint16), DepthUnits.RAW_DISPARITY, 1.5e9 + index / 30))
    return frames


def header_fields(header):
    """The header as the integers on the wire (what the JS decoder exposes)."""
    fields = HEADER_STRUCT.unpack(header.pack())
    names = ("magic", "version", "profile", "flags", "reserved", "sequence", "capture_time_us",
             "width", "height", "near_mm", "far_mm", "motion_u", "motion_v", "motion_depth_mm",
             "motion_weight", "payload_length")
    result = dict(zip(names, fields))
    for dropped in ("magic", "version", "reserved"):
        del result[dropped]
    return result


def _expect(decoder, message):
    try:
        decoded = decoder.decode(message)
    except CodecError as exc:
        return {"error": type(exc).__name__}
    return {"header": header_fields(decoded.header), "codes": _b64(decoded.codes.tobytes())}


def _stream(name, description, messages):
    decoder = StreamDecoder()
    return {
        "name": name,
        "description": description,
        "frames": [{"message": _b64(m), "expect": _expect(decoder, m)} for m in messages],
    }


def _patched(message, offset, fmt, value):
    message = bytearray(message)
    struct.pack_into(fmt, message, offset, value)
    return bytes(message)


def build_vectors():
    """The vectors as a JSON-ready dict."""
    encoder = ClassicEncoder(keyframe_interval=4)
    messages = [encoder.encode(frame) for frame in synthetic_frames(6)]
    catchup = encoder.catchup()
    keyframe, delta = messages[0], messages[1]
    header, payload = parse_header(delta)
    wrong_codes = compression.compress(bytes(header.width * header.height - 1))

    streams = [
        _stream("keyframes-and-deltas", "two keyframes (every 4th frame) and their deltas", messages),
        _stream("late-join", "a catch-up frame, then the stream goes on", [catchup]),
        _stream("delta-first", "a delta before any keyframe", [delta, keyframe, delta]),
        _stream("sequence-gap", "a frame goes missing; the decoder waits for the next keyframe",
                [messages[0], messages[2], messages[3], messages[4], messages[5]]),
        _stream("truncated", "header cut short, then payload cut short",
                [keyframe[:HEADER_SIZE - 1], keyframe[:-1], keyframe]),
        _stream("bad-magic", "not a depthcam frame", [b"XCAM" + keyframe[4:]]),
        _stream("bad-version", "a version from the future", [_patched(keyframe, 4, "<B", 2)]),
        _stream("unknown-profile", "profile 99", [_patched(keyframe, 5, "<B", 99)]),
        _stream("bad-flags", "CATCHUP without KEYFRAME, then an unknown bit",
                [_patched(keyframe, 6, "<B", 2), _patched(keyframe, 6, "<B", 5)]),
        _stream("oversized", "payload_length over 4 MiB, then 6400 x 120 pixels",
                [_patched(keyframe, 36, "<I", 4 * 1024 * 1024 + 1), _patched(keyframe, 20, "<H", 6400)]),
        _stream("length-mismatch", "a byte too many", [keyframe + b"\0"]),
        _stream("corrupt-payload", "garbage payload, then a payload one byte short of the frame",
                [keyframe[:HEADER_SIZE] + bytes(len(keyframe) - HEADER_SIZE),
                 _patched(keyframe[:HEADER_SIZE], 36, "<I", len(wrong_codes)) + wrong_codes]),
        _stream("corrupt-before-order", "a corrupt delta before any keyframe is corrupt first",
                [delta[:HEADER_SIZE] + bytes(len(delta) - HEADER_SIZE), delta]),
    ]
    dequantize = []
    for near_mm, far_mm in ((500, 8000), (400, 4500)):
        quantizer = InverseDepthQuantizer(near_mm, far_mm)
        dequantize.append({"near_mm": near_mm, "far_mm": far_mm,
                           "mm": quantizer.to_mm(np.arange(256)).tolist()})
    return {"format_version": FORMAT_VERSION, "dequantize": dequantize, "streams": streams}


def write_vectors(out_dir=DEFAULT_OUT_DIR):
    """Write ``classic.json`` into ``out_dir`` and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "classic.json"
    path.write_text(json.dumps(build_vectors(), indent=1) + "\n")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_vectors(*sys.argv[1:2])}\n")
