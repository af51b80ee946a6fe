"""Writes tests/vectors/format-edges.json: one vector for each point of FORMAT.md a reader could guess.

``python -m depthcam.codec.edgevectors [OUT_DIR]`` (``make vectors`` runs it too). The layout is
``classic.json``'s (see ``codec/vectors.py``: ``dequantize`` tables and ``streams`` of ``{message,
expect}``), plus ``legacy``: the 2012 wire's messages, each with the data the 2012 client reads
from it (``keyframe``, ``means``, ``codes``, or ``error``), fed in order to one decoder. Each
stream's ``rule`` names the FORMAT.md point it settles.
"""

import json
import re
import struct
import sys
import zlib

import numpy as np

from depthcam.codec import legacy, lossless
from depthcam.codec.contextcoding import ContextStream
from depthcam.codec.errors import CodecError, CorruptPayloadError
from depthcam.codec.header import NO_MOTION, FrameFlags, FrameHeader, Profile
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.vectors import (DEFAULT_OUT_DIR, FORMAT_VERSION, SEED, _b64, _stream, _with_payload,
                                    lossless_message, small_lossless_frames, synthetic_frames)

FILE_NAME = "format-edges.json"
# Small frames keep the file readable; the rules do not depend on the size.
WIDTH, HEIGHT = 16, 8


def cm_message(payload, sequence, flags, width=WIDTH, height=HEIGHT):
    """A classic-cm wire frame around ``payload``."""
    header = FrameHeader(profile=Profile.CLASSIC_CM, flags=flags, sequence=sequence,
                         capture_time_us=1_500_000_000_000_000 + sequence, width=width, height=height,
                         near_mm=500, far_mm=8000, motion=NO_MOTION, payload_length=len(payload))
    return header.pack() + payload


def cm_stream(frames, keyframes=(0,)):
    """classic-cm messages of ``frames`` (uint8 code arrays), keyframes at the given indices."""
    height, width = frames[0].shape
    context = ContextStream(width, height)
    messages = []
    for index, codes in enumerate(frames):
        keyframe = index in keyframes
        payload = (context.encode_keyframe if keyframe else context.encode_delta)(codes)
        messages.append(cm_message(payload, index, FrameFlags.KEYFRAME if keyframe else FrameFlags.NONE,
                                   width, height))
    return messages


def _codes(fill):
    return np.full((HEIGHT, WIDTH), fill, np.uint8)


def _edge_stream(name, rule, description, messages):
    return {"rule": rule, **_stream(name, description, messages)}


def _volatility_stream():
    """A keyframe with readings on its left half, then deltas in which a patch moves each frame."""
    frames = []
    for index in range(4):
        codes = _codes(255)
        codes[:, :WIDTH // 2] = 40
        codes[2:6, 2 + index:5 + index] = 30 + 2 * index
        frames.append(codes)
    return _edge_stream(
        "cm-volatility-after-keyframe", "volatility after a keyframe",
        "classic-cm: the keyframe updates volatility too (against its all-255 history: 8 where it has "
        "a reading), so the deltas' mixer 2 weight sets (through vmq) start from there", cm_stream(frames))


def _sentinel_stream():
    """A patch whose code rises by exactly 99 (= S) against the previous frame, then stays."""
    frames = [_codes(10), _codes(10), _codes(10), _codes(10), _codes(10)]
    for codes in frames[1:]:
        codes[2:6, 4:10] = 109
    frames[2][3, 5] = 208  # a residual of 99 against 109 as well
    return _edge_stream(
        "cm-residual-equal-to-sentinel", "a genuine value equal to S",
        "classic-cm: residuals (then rp, then rpp) of exactly 99 count as S in every context", cm_stream(frames))


def _catchup_flag_stream():
    messages = cm_stream([_codes(40), _codes(41), _codes(42)])
    catchup = bytearray(messages[1])
    catchup[6] = int(FrameFlags.KEYFRAME | FrameFlags.CATCHUP)
    return _edge_stream(
        "cm-catchup-flag-keeps-state", "CATCHUP on classic-cm",
        "classic-cm: a CATCHUP frame is BadHeaderError and changes no state: the next delta decodes",
        [messages[0], messages[1], bytes(catchup), messages[2]])


def _keyframe_crc_stream():
    frames = [_codes(40), _codes(41), _codes(60), _codes(61), _codes(70)]
    messages = cm_stream(frames, keyframes=(0, 2, 4))
    bad = bytearray(messages[2])
    bad[40] ^= 1  # the CRC's first byte
    return _edge_stream(
        "cm-keyframe-bad-crc-drops-state", "classic-cm keyframe with a bad CRC",
        "classic-cm: a keyframe whose CRC-32 fails is CorruptPayloadError and drops the state, so the "
        "delta after it is MissingKeyframeError until the next keyframe",
        [messages[0], messages[1], bytes(bad), messages[3], messages[4]])


# How the classic-cm decoder names a code out of 0..254 and where it stopped (codec/_contextmodel.c).
CODE_OUT_OF_RANGE = re.compile(r"decodes to code (-?\d+) at pixel (\d+)")


def _first_corruption(crc, body, out_of_range):
    """(body, code, pixel): the first one-byte change of ``body`` (by offset, then XOR mask) whose
    keyframe decodes a code that ``out_of_range`` accepts, with that code and its pixel.

    Searched, not written down: which bytes do it depends on the model, and a fixed flip found for
    an earlier model may only fail the CRC now, a different failure than the vector names."""
    for offset in range(len(body)):
        for mask in range(1, 256):
            changed = bytearray(body)
            changed[offset] ^= mask
            try:
                ContextStream(8, 8).decode_keyframe(crc + bytes(changed))
            except CorruptPayloadError as exc:
                found = CODE_OUT_OF_RANGE.search(str(exc))
                if found and out_of_range(int(found.group(1))):
                    return bytes(changed), int(found.group(1)), int(found.group(2))
    raise AssertionError("no one-byte change decodes such a code")


def _code_range_stream():
    """Keyframe payloads that decode a code below 0, then one over 254."""
    codes = np.zeros((8, 8), np.uint8)
    codes[4:, :] = 3
    payload = ContextStream(8, 8).encode_keyframe(codes)
    crc, body = payload[:4], payload[4:]
    below, low_code, low_pixel = _first_corruption(crc, body, lambda code: code < 0)
    over, high_code, high_pixel = _first_corruption(crc, body, lambda code: code > 254)
    after = ContextStream(8, 8)
    after.encode_keyframe(codes)
    delta = after.encode_delta(codes)
    return _edge_stream(
        "cm-codes-out-of-range", "negative codes",
        f"classic-cm: a payload that decodes a code below 0 (code {low_code} at pixel {low_pixel}), then "
        f"one over 254 (code {high_code} at pixel {high_pixel}), is CorruptPayloadError, before any CRC "
        "check (and drops the state: the delta after them is MissingKeyframeError)",
        [cm_message(crc + below, 0, FrameFlags.KEYFRAME, 8, 8),
         cm_message(crc + over, 0, FrameFlags.KEYFRAME, 8, 8),
         cm_message(delta, 1, FrameFlags.NONE, 8, 8),
         cm_message(payload, 2, FrameFlags.KEYFRAME, 8, 8)])


def _with_dictionary_id(payload, dictionary_id):
    """``payload`` (one zstd frame) with a 1-byte Dictionary_ID field holding ``dictionary_id``."""
    descriptor = payload[4]
    assert descriptor & 3 == 0, "the encoder writes no Dictionary_ID"
    at = 5 + (0 if descriptor & 0x20 else 1)  # after the Window_Descriptor, if there is one
    return payload[:4] + bytes([descriptor | 1]) + payload[5:at] + bytes([dictionary_id]) + payload[at:]


def _dictionary_id_stream():
    values = small_lossless_frames()[0]
    message = lossless_message(values, Profile.LOSSLESS_RAW)
    payload = message[40:]
    return _edge_stream(
        "zstd-dictionary-id-zero", "zstd Dictionary_ID present but 0",
        "lossless-raw: a Dictionary_ID field that is present but 0 names no dictionary and decodes; "
        "one that names dictionary 7 is CorruptPayloadError",
        [_with_payload(message, _with_dictionary_id(payload, 0)),
         _with_payload(message, _with_dictionary_id(payload, 7))])


def _fine_delta_stream():
    from depthcam.codec.vectors import fine_message

    levels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    good = fine_message(levels)
    delta = bytearray(good)
    delta[6] = int(FrameFlags.NONE)
    return _edge_stream(
        "fine-without-keyframe-keeps-state", "fine without KEYFRAME",
        "fine: a frame without KEYFRAME is BadHeaderError, changes no state",
        [good, bytes(delta), good])


def _legacy_vectors():
    """The 2012 wire: a keyframe, deltas, a keyframe again; then every way a message is refused."""
    encoder = legacy.LegacyEncoder(keyframe_interval=3)
    messages = [encoder.encode(frame) for frame in synthetic_frames(4)]
    blank = bytes(legacy.LEGACY_DATA_BYTES)
    bad = [
        messages[0][:3],
        messages[0][:5] + b"garbage",
        bytes([225]) + messages[0][1:],
        legacy.pylzma_compress(blank[1:]),
        legacy.pylzma_compress(b"\x02" + blank[1:]),
    ]
    decoded = []
    previous = None
    for message in [*messages, *bad, legacy.pylzma_compress(blank)]:
        try:
            keyframe, means, codes = legacy.decode_legacy(message, previous)
        except CodecError as exc:
            decoded.append({"message": _b64(message), "expect": {"error": type(exc).__name__}})
            previous = None
            continue
        previous = codes
        decoded.append({"message": _b64(message), "expect": {
            "keyframe": keyframe, "means": means, "codes": _b64(codes.tobytes())}})
    return {"width": legacy.LEGACY_WIDTH, "height": legacy.LEGACY_HEIGHT,
            "description": "keyframe, two deltas, keyframe (every 3rd frame); cut properties; garbage stream; "
                           "properties byte 225; 1 byte short; flag 2; then a delta with no keyframe",
            "frames": decoded}


def build_edge_vectors():
    """The format-edges vectors as a JSON-ready dict."""
    dequantize = []
    # (1, 3), (3, 9) and (2, 14) put code 127 exactly half-way between two millimetres (1.5, 4.5,
    # 3.5): rounding is half to even. 255 is 0. (1, 65535) and (65534, 65535) are the extremes.
    for near_mm, far_mm in ((1, 3), (3, 9), (2, 14), (1, 65535), (65534, 65535)):
        quantizer = InverseDepthQuantizer(near_mm, far_mm)
        dequantize.append({"near_mm": near_mm, "far_mm": far_mm, "mm": quantizer.to_mm(np.arange(256)).tolist()})
    streams = [_volatility_stream(), _sentinel_stream(), _catchup_flag_stream(), _keyframe_crc_stream(),
               _code_range_stream(), _dictionary_id_stream(), _fine_delta_stream()]
    return {"format_version": FORMAT_VERSION, "dequantize": dequantize, "streams": streams,
            "legacy": _legacy_vectors()}


def write_edge_vectors(out_dir=DEFAULT_OUT_DIR):
    """Write ``format-edges.json`` into ``out_dir``; return its path."""
    path = DEFAULT_OUT_DIR.__class__(out_dir) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(build_edge_vectors(), indent=1) + "\n")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"wrote {write_edge_vectors(*sys.argv[1:2])}\n")
