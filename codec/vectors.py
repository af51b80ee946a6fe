"""Writes the shared test vectors: wire frames with the decoded result each one must give.

``python -m depthcam.codec.vectors [OUT_DIR]`` writes ``classic.json``, ``lossless.json`` and ``colour.json``
(default: ``tests/vectors/``). pytest and the JavaScript tests both read them, so the two decoders
are held to the same bytes. The output is deterministic: rerunning it gives the same files.

Layout: ``{"format_version", "dequantize": [{near_mm, far_mm, mm: [256 values]}],
"streams": [{name, description, frames: [{message, expect}]}]}`` (``lossless.json`` has no
``dequantize`` but ``raw_to_mm``: units.raw_to_mm of raw 0…2047; it holds the fine and
fine-inverse profiles' vectors too). Each stream is fed in order to a fresh decoder; ``message``
is base64; ``expect``
is either ``{"error": "<error class name>"}`` or, for a classic frame, ``{"header": {...}, "codes":
base64}``, and for a lossless or fine frame ``{"header", "units": "raw" | "mm", "values_sha256": hex
of the values' (fine: the depth's) little-endian uint16 bytes}``, plus ``"values"`` (base64 of those bytes) for small frames.
"""

import base64
import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
import zstandard

from depthcam.codec import compression, fine, lossless, residuals, zstdframe
from depthcam.codec.classic import ClassicEncoder, Coding
from depthcam.codec.decoder import StreamDecoder
from depthcam.codec.errors import CodecError
from depthcam.codec.frame import DepthFrame, DepthUnits
from depthcam.codec.header import (HEADER_SIZE, HEADER_STRUCT, NO_MOTION, VERSION, FrameFlags,
                                   FrameHeader, Profile, parse_header)
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.units import raw_to_mm

FORMAT_VERSION = VERSION
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


# Lossless frames up to this many pixels carry their values in the vectors, not only a hash.
MAX_LISTED_PIXELS = 4096


def _expect(decoder, message):
    try:
        decoded = decoder.decode(message)
    except CodecError as exc:
        return {"error": type(exc).__name__}
    header = header_fields(decoded.header)
    if decoded.units is None:
        return {"header": header, "codes": _b64(decoded.codes.tobytes())}
    values = decoded.codes.astype("<u2").tobytes()
    expect = {"header": header, "units": decoded.units.value,
              "values_sha256": hashlib.sha256(values).hexdigest()}
    if decoded.codes.size <= MAX_LISTED_PIXELS:
        expect["values"] = _b64(values)
    return expect


def _stream(name, description, messages):
    decoder = StreamDecoder()
    return {
        "name": name,
        "description": description,
        "frames": [{"message": _b64(m), "expect": _expect(decoder, m)} for m in messages],
    }


def _patched(message, offset, fmt, value):
    """``message`` (bytes) with ``value`` packed as ``fmt`` at ``offset``: a field set to a bad value."""
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
        _stream("bad-version", "a version from the future", [_patched(keyframe, 4, "<B", VERSION + 1)]),
        _stream("unknown-profile", "profile 99", [_patched(keyframe, 5, "<B", 99)]),
        _stream("bad-flags", "CATCHUP without KEYFRAME, then an unknown bit",
                [_patched(keyframe, 6, "<B", 2), _patched(keyframe, 6, "<B", 0x81)]),
        _stream("oversized", "payload_length over 4 MiB, then 6400 x 120 pixels",
                [_patched(keyframe, 36, "<I", 4 * 1024 * 1024 + 1), _patched(keyframe, 20, "<H", 6400)]),
        _stream("length-mismatch", "a byte too many", [keyframe + b"\0"]),
        _stream("corrupt-payload", "garbage payload, then a payload one byte short of the frame",
                [keyframe[:HEADER_SIZE] + bytes(len(keyframe) - HEADER_SIZE),
                 _with_payload(keyframe, wrong_codes)]),
        _stream("corrupt-before-order", "a corrupt delta before any keyframe is corrupt first",
                [delta[:HEADER_SIZE] + bytes(len(delta) - HEADER_SIZE), delta]),
        *_context_streams(),
    ]
    dequantize = []
    for near_mm, far_mm in ((500, 8000), (400, 4500)):
        quantizer = InverseDepthQuantizer(near_mm, far_mm)
        dequantize.append({"near_mm": near_mm, "far_mm": far_mm,
                           "mm": quantizer.to_mm(np.arange(256)).tolist()})
    return {"format_version": FORMAT_VERSION, "dequantize": dequantize, "streams": streams}


def _with_payload(message, payload):
    """``message`` with its payload replaced (and payload_length to match)."""
    return _patched(message[:HEADER_SIZE], 36, "<I", len(payload)) + payload


def _context_streams():
    """classic-cm (profile 5): the same frames as the classic streams, plus noise that needs the
    magnitude escape, a late join from the encoder's cache, and every way its payload can be bad."""
    encoder = ClassicEncoder(keyframe_interval=4, coding=Coding.CONTEXT)
    messages = [encoder.encode(frame) for frame in synthetic_frames(6)]
    joining = encoder.catchup_messages()
    keyframe, delta, following = messages[0], messages[1], messages[2]
    payload = parse_header(delta)[1]
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0x40
    wrong_crc = bytearray(payload)
    wrong_crc[0] ^= 1
    rng = np.random.default_rng(SEED)
    noise_encoder = ClassicEncoder(coding=Coding.CONTEXT)
    # One random depth per 4 x 4 block (0.6-3.5 m), so the codes jump all over 0-254.
    blocks = [np.kron(rng.integers(500, 1000, (120, 160)), np.ones((4, 4), np.int64)) for _ in range(4)]
    noise = [noise_encoder.encode(DepthFrame(raw.astype(np.uint16), DepthUnits.RAW_DISPARITY, 1.5e9 + i))
             for i, raw in enumerate(blocks)]
    return [
        _stream("cm-keyframes-and-deltas", "classic-cm: two keyframes (every 4th frame) and their deltas",
                messages),
        _stream("cm-late-join", "classic-cm: a viewer joining after frame 5 gets the keyframe and the delta since",
                joining),
        _stream("cm-noise", "classic-cm: random depth, so residuals need the 8-bit magnitude escape", noise),
        _stream("cm-delta-first", "classic-cm: a delta before any keyframe", [delta, keyframe, delta]),
        _stream("cm-sequence-gap", "classic-cm: a frame goes missing; the decoder waits for the next keyframe",
                [messages[0], messages[2], messages[3], messages[4], messages[5]]),
        _stream("cm-corrupt-bits", "classic-cm: a flipped bit in a delta; the model is lost until a keyframe",
                [keyframe, _with_payload(delta, bytes(flipped)), following, keyframe, delta]),
        _stream("cm-wrong-crc", "classic-cm: a delta whose CRC-32 does not match", [keyframe, _with_payload(delta, bytes(wrong_crc))]),
        _stream("cm-no-crc", "classic-cm: a keyframe payload of 3 bytes", [_with_payload(keyframe, payload[:3])]),
        _stream("cm-catchup-flag", "classic-cm has no CATCHUP frames", [_patched(keyframe, 6, "<B", 3)]),
    ]


def lossless_message(values, profile, body=None, payload=None, sequence=0, flags=FrameFlags.KEYFRAME):
    """A lossless wire frame of ``values`` (or of the given body or payload, to build bad ones)."""
    if payload is None:
        payload = zstdframe.compress(lossless.encode_body(values) if body is None else body, 1)
    header = FrameHeader(profile=profile, flags=flags, sequence=sequence,
                         capture_time_us=1_500_000_000_000_000 + sequence, width=values.shape[1],
                         height=values.shape[0], near_mm=500, far_mm=8000, motion=NO_MOTION,
                         payload_length=len(payload))
    return header.pack() + payload


def small_lossless_frames(seed=SEED):
    """Small odd-sized raw frames (37 x 23) whose residuals need every escape: holes, steps and noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:23, 0:37]
    smooth = (700 + 3 * rows + cols + rng.integers(0, 2, rows.shape)).astype(np.uint16)
    smooth[rng.random(rows.shape) < 0.1] = 2047
    scattered = rng.choice(2048, size=rows.shape).astype(np.uint16)  # ~600 values: index jumps > 258
    return [smooth, scattered]


def full_lossless_frames(count=2, seed=SEED):
    """640 x 480 raw frames smoother than ``synthetic_frames`` (so the vectors stay small): a wall, a box, holes."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:480, 0:640]
    frames = []
    for index in range(count):
        raw = 800 + (rows // 4) + (cols // 8) + (rng.random(rows.shape) < 0.002)
        raw[150:330, 100 + 12 * index:220 + 12 * index] = 600 + index
        raw[rng.random(rows.shape) < 0.005] = 2047
        frames.append(raw.astype(np.uint16))
    return frames


def build_lossless_vectors():
    """The lossless profiles' vectors as a JSON-ready dict."""
    smooth, scattered = small_lossless_frames()
    raw = full_lossless_frames()
    millimetres = raw_to_mm(raw[0])
    encoder = lossless.LosslessEncoder()
    full_raw = [encoder.encode(DepthFrame(values, DepthUnits.RAW_DISPARITY, 1.5e9 + i)) for i, values in enumerate(raw)]
    full_catchup = encoder.catchup()
    full_mm = lossless.LosslessEncoder().encode(DepthFrame(millimetres, DepthUnits.MILLIMETRES, 1.5e9))

    good = lossless_message(smooth, Profile.LOSSLESS_RAW)
    body = lossless.encode_body(smooth)
    palette_size = int(np.frombuffer(body[:4], "<u4")[0])
    residual_start = 4 + 2 * palette_size + residuals.packed_size(smooth.size)
    too_large = bytes(lossless.max_body_size(smooth.size) + 1)
    small = Profile.LOSSLESS_RAW
    corrupt = [
        ("not zstd", lossless_message(smooth, small, payload=body)),
        ("zstd frame cut short", lossless_message(smooth, small, payload=zstdframe.compress(body, 1)[:-3])),
        ("a byte after the zstd frame", lossless_message(smooth, small, payload=zstdframe.compress(body, 1) + b"\0")),
        ("two zstd frames", lossless_message(smooth, small, payload=zstdframe.compress(body, 1) * 2)),
        ("no content size", lossless_message(smooth, small, payload=zstandard_without_size(body))),
        ("content over the bound", lossless_message(smooth, small, body=too_large)),
        ("empty body", lossless_message(smooth, small, body=b"")),
        ("empty palette", lossless_message(smooth, small, body=_patched(body, 0, "<I", 0))),
        ("palette of 65537", lossless_message(smooth, small, body=_patched(body, 0, "<I", 65537))),
        ("palette cut short", lossless_message(smooth, small, body=body[:10])),
        ("residuals cut short", lossless_message(smooth, small, body=body[:residual_start - 1])),
        ("escape bytes cut short", lossless_message(smooth, small, body=body[:residual_start + 1])),
        ("escape words cut short", lossless_message(scattered, small, body=lossless.encode_body(scattered)[:-1])),
        ("a byte too many", lossless_message(smooth, small, body=body + b"\0")),
        ("padding not zero", lossless_message(smooth, small, body=body[:residual_start - 1]
                                              + bytes([body[residual_start - 1] | 1]) + body[residual_start:])),
        ("index beyond the palette", lossless_message(smooth, small, body=_patched(body, 0, "<I", palette_size - 1)[:4]
                                                      + body[4:4 + 2 * (palette_size - 1)] + body[4 + 2 * palette_size:])),
    ]
    streams = [
        _stream("lossless-small", "odd-sized raw frames: holes and steps, then scattered values "
                "(escape bytes and words), and the same as millimetres",
                [good, lossless_message(scattered, small, sequence=1),
                 lossless_message(scattered, Profile.LOSSLESS_MM, sequence=2)]),
        _stream("lossless-raw-full", "two 640 x 480 raw-disparity frames and a catch-up copy",
                [*full_raw, full_catchup]),
        _stream("lossless-mm-full", "a 640 x 480 millimetre frame", [full_mm]),
        _stream("lossless-without-keyframe", "a lossless frame must be a keyframe",
                [lossless_message(smooth, small, flags=FrameFlags.NONE), good]),
        _stream("unknown-profile-7", "a profile id beyond the known ones",
                [_patched(good, 5, "<B", 7)]),
        _stream("lossless-corrupt", "; ".join(name for name, _ in corrupt) + "; then a good frame",
                [message for _, message in corrupt] + [good]),
        *_fine_streams(),
        *_fine_inverse_streams(),
        _stream("lossless-then-classic-delta", "a classic delta does not follow a lossless frame",
                [good, _patched(_classic_delta(), 8, "<I", 1)]),
    ]
    raw_to_mm_table = raw_to_mm(np.arange(2048, dtype=np.uint16)).tolist()
    return {"format_version": FORMAT_VERSION, "raw_to_mm": raw_to_mm_table, "streams": streams}


def fine_message(levels, step_mm=fine.step_for(fine.FineEncoder.ERROR_MM), body=None):
    """A fine wire frame of ``levels`` (or of the given body, to build bad ones)."""
    if body is None:
        body = struct.pack("<H", step_mm) + lossless.encode_body(levels)
    return lossless_message(levels, Profile.FINE, payload=zstdframe.compress(body, 1))


def _fine_streams():
    encoder = fine.FineEncoder()
    full = encoder.encode(DepthFrame(full_lossless_frames(1)[0], DepthUnits.RAW_DISPARITY, 1.5e9))
    smooth, scattered = small_lossless_frames()
    levels = (smooth % 2047) // 8
    body = lossless.encode_body(levels)
    return [
        _stream("fine-full", "a 640 x 480 raw frame as fine: 320 x 240 mm within 10 mm, and its catch-up copy",
                [full, encoder.catchup()]),
        _stream("fine-small", "odd-sized fine frames: step 21 mm, then step 1 mm with scattered levels",
                [fine_message(levels), fine_message(scattered, step_mm=1)]),
        _stream("fine-corrupt", "no step; step 0; level x step beyond 65535 mm; then a good frame",
                [fine_message(levels, body=b"\x15"),
                 fine_message(levels, body=struct.pack("<H", 0) + body),
                 fine_message(scattered, body=struct.pack("<H", 33) + lossless.encode_body(scattered)),
                 fine_message(levels)]),
        _stream("fine-without-keyframe", "a fine frame must be a keyframe",
                [_patched(full, 6, "<B", 0)]),
    ]


def fine_inverse_message(levels, scale=fine.scale_for(fine.FineEncoder.ERROR_MM), body=None):
    """A fine-inverse wire frame of ``levels`` (or of the given body, to build bad ones)."""
    if body is None:
        body = struct.pack("<I", scale) + lossless.encode_body(levels)
    return lossless_message(levels, Profile.FINE_INVERSE, payload=zstdframe.compress(body, 1))


def _fine_inverse_streams():
    encoder = fine.FineInverseEncoder()
    full = encoder.encode(DepthFrame(full_lossless_frames(1)[0], DepthUnits.RAW_DISPARITY, 1.5e9))
    smooth, scattered = small_lossless_frames()
    levels = np.where(smooth == 2047, 0, smooth).astype(np.uint16)  # 2047: a hole, level 0
    body = lossless.encode_body(levels)
    return [
        _stream("fine-inverse-full", "a 640 x 480 raw frame as fine-inverse: 320 x 240 mm, 10 mm at 1.8 m, "
                "and its catch-up copy", [full, encoder.catchup()]),
        _stream("fine-inverse-small", "odd-sized fine-inverse frames: scale 162000 with holes, then scale "
                "1000000 with scattered levels 16 and up (every rounding case)",
                [fine_inverse_message(levels), fine_inverse_message(scattered + 16, scale=1_000_000)]),
        _stream("fine-inverse-corrupt", "no scale; scale 0; scale / level beyond 65535 mm; then a good frame",
                [fine_inverse_message(levels, body=b"\xd0\x78\x02"),
                 fine_inverse_message(levels, body=struct.pack("<I", 0) + body),
                 fine_inverse_message(levels, body=struct.pack("<I", fine.MAX_SCALE) + body),
                 fine_inverse_message(levels)]),
        _stream("fine-inverse-without-keyframe", "a fine-inverse frame must be a keyframe",
                [_patched(full, 6, "<B", 0)]),
    ]


def zstandard_without_size(data):
    """A zstd frame of ``data`` that does not state its content size (which FORMAT.md forbids)."""
    return zstandard.ZstdCompressor(level=1, write_content_size=False).compress(data)


def _classic_delta():
    encoder = ClassicEncoder()
    frames = synthetic_frames(2)
    encoder.encode(frames[0])
    return encoder.encode(frames[1])


def write_vectors(out_dir=DEFAULT_OUT_DIR):
    """Write ``classic.json``, ``lossless.json`` and ``colour.json`` into ``out_dir``; return their paths."""
    from depthcam.codec.colourvectors import build_colour_vectors  # it builds on this module

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, vectors in (("classic.json", build_vectors()), ("lossless.json", build_lossless_vectors()),
                          ("colour.json", build_colour_vectors())):
        path = out_dir / name
        path.write_text(json.dumps(vectors, indent=1) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    sys.stdout.write("".join(f"wrote {path}\n" for path in write_vectors(*sys.argv[1:2])))
