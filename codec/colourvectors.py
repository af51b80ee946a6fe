"""Writes ``colour.json``, the shared vectors of FORMAT.md's *Attachments* (intrinsics and colour).

Called by ``python -m depthcam.codec.vectors`` beside the other vector files. Layout as there
(``{"format_version", "streams": [{name, description, frames: [{message, expect}]}]}``); a frame
that decodes expects ``{"header", "units", "values_sha256", "attachments"}`` (``units`` null and
``values_sha256`` of the one-byte codes for classic and classic-cm), with ``attachments``
``{"intrinsics": [fx, fy, cx, cy] | null, "colour": {"coding", "scale", "picture": base64} | null}``.
"""

import hashlib
import struct

import numpy as np

from depthcam.codec import profiles
from depthcam.codec.attaching import AttachingEncoder
from depthcam.codec.attachments import Attachments, attach
from depthcam.codec.classic import ClassicEncoder, Coding
from depthcam.codec.colour import ColourCoding, ColourPicture, PictureCoder
from depthcam.codec.decoder import StreamDecoder
from depthcam.codec.errors import CodecError
from depthcam.codec.frame import DepthFrame
from depthcam.codec.header import HEADER_SIZE, Profile, parse_header
from depthcam.codec.intrinsics import CameraIntrinsics
from depthcam.codec.vectors import (FORMAT_VERSION, _b64, _patched, header_fields, lossless_message,
                                    small_lossless_frames, synthetic_frames)

# A colour camera's intrinsics at 640 x 480 (7-Scenes' Kinect), as a source would attach them.
VECTOR_INTRINSICS = CameraIntrinsics(585.0, 585.0, 320.0, 240.0)


def synthetic_colour(index):
    """A deterministic 480 x 640 RGB picture: a red-to-blue ramp with a green box that moves."""
    rows, cols = np.mgrid[0:480, 0:640]
    picture = np.stack([255 - cols * 255 // 639, rows * 200 // 479, cols * 255 // 639], axis=-1)
    left = 100 + 12 * index
    picture[150:330, left:left + 120] = (40, 210, 60)
    return picture.astype(np.uint8)


def coloured_frames(count):
    """``synthetic_frames`` with their colour pictures and intrinsics."""
    return [DepthFrame(frame.depth, frame.units, frame.captured_at, synthetic_colour(index),
                       VECTOR_INTRINSICS)
            for index, frame in enumerate(synthetic_frames(count))]


def _expect(decoder, message):
    try:
        decoded = decoder.decode(message)
    except CodecError as exc:
        return {"error": type(exc).__name__}
    values = decoded.codes.tobytes() if decoded.units is None else decoded.codes.astype("<u2").tobytes()
    intrinsics = decoded.intrinsics
    colour = decoded.colour
    return {
        "header": header_fields(decoded.header),
        "units": None if decoded.units is None else decoded.units.value,
        "values_sha256": hashlib.sha256(values).hexdigest(),
        "attachments": {
            "intrinsics": None if intrinsics is None else [
                intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy],
            "colour": None if colour is None else {
                "coding": int(colour.coding), "scale": colour.scale, "picture": _b64(colour.data)},
        },
    }


def _stream(name, description, messages):
    decoder = StreamDecoder()
    return {"name": name, "description": description,
            "frames": [{"message": _b64(m), "expect": _expect(decoder, m)} for m in messages]}


def _with_blocks(message, blocks, flags):
    """``message`` (no attachments) with raw ``blocks`` put before its payload and ``flags`` added."""
    header = bytearray(message[:HEADER_SIZE])
    header[6] |= flags
    struct.pack_into("<I", header, 36, len(message) - HEADER_SIZE + len(blocks))
    return bytes(header) + blocks + message[HEADER_SIZE:]


def build_colour_vectors():
    """The attachment vectors as a JSON-ready dict."""
    frames = coloured_frames(5)
    jpeg = AttachingEncoder(ClassicEncoder(keyframe_interval=4), PictureCoder(ColourCoding.JPEG))
    classic = [jpeg.encode(frame) for frame in frames]
    webp = AttachingEncoder(ClassicEncoder(keyframe_interval=4, coding=Coding.CONTEXT),
                            PictureCoder(ColourCoding.WEBP), scale=2)
    context = [webp.encode(frame) for frame in frames]
    fine = AttachingEncoder(profiles.make_encoder("fine"), PictureCoder(ColourCoding.JPEG))
    fine_frame = fine.encode(frames[0])

    plain = ClassicEncoder(keyframe_interval=4)
    keyframe = plain.encode(synthetic_frames(1)[0])
    picture = PictureCoder(ColourCoding.JPEG).encode(synthetic_colour(0)[::4, ::4])
    good = ColourPicture(ColourCoding.JPEG, 1, picture).pack()
    intrinsics = VECTOR_INTRINSICS.scaled_to(160, 120).pack()
    colour_bit, intrinsics_bit = 4, 8
    corrupt = [
        ("COLOUR head cut short", _with_blocks(keyframe, good[:5], colour_bit)),
        ("coding 3", _with_blocks(keyframe, _patched(good, 0, "<B", 3), colour_bit)),
        ("scale 3", _with_blocks(keyframe, _patched(good, 1, "<B", 3), colour_bit)),
        ("reserved 1", _with_blocks(keyframe, _patched(good, 2, "<H", 1), colour_bit)),
        ("picture past the payload's end", _with_blocks(keyframe, _patched(good, 4, "<I", 1 << 20), colour_bit)),
        ("WebP coding of a JPEG", _with_blocks(keyframe, _patched(good, 0, "<B", 2), colour_bit)),
        ("INTRINSICS cut short", _with_blocks(keyframe, intrinsics[:8], intrinsics_bit)),
        ("fx 0", _with_blocks(keyframe, struct.pack("<4f", 0, 146.25, 79.625, 59.625), intrinsics_bit)),
        ("cy NaN", _with_blocks(keyframe, struct.pack("<4f", 146.25, 146.25, 79.625, float("nan")),
                                intrinsics_bit)),
    ]
    over = parse_header(fine_frame)[0]
    fine_scale_4 = bytearray(fine_frame)
    fine_scale_4[HEADER_SIZE + 16 + 1] = 4  # 1280 x 960: over the picture limit
    smooth = small_lossless_frames()[0]
    small = lossless_message(smooth, Profile.LOSSLESS_MM)
    small_intrinsics = attach(small, Attachments(VECTOR_INTRINSICS.scaled_to(37, 23)))
    streams = [
        _stream("colour-classic-jpeg", "classic with a JPEG at the depth grid and intrinsics: "
                "keyframe, deltas, keyframe, and a late joiner's catch-up copy",
                [*classic, *jpeg.catchup_messages()]),
        _stream("colour-cm-webp", "classic-cm with a WebP at twice the depth grid: a late joiner's "
                "keyframe and deltas from the encoder's cache", webp.catchup_messages()),
        _stream("colour-cm-stream", "classic-cm with WebP colour, frame after frame", context),
        _stream("colour-fine", f"fine ({over.width} x {over.height}) with JPEG colour and "
                "intrinsics, then the same with scale 4 (a picture over 640 x 480)",
                [fine_frame, bytes(fine_scale_4)]),
        _stream("intrinsics-only", "an odd-sized lossless-mm frame with intrinsics, no colour",
                [small_intrinsics]),
        _stream("attachments-corrupt", "; ".join(name for name, _ in corrupt) + "; then a good frame",
                [message for _, message in corrupt] + [classic[0]]),
        _stream("attachments-before-order", "a delta whose COLOUR block is broken, before any "
                "keyframe, is CorruptPayloadError first",
                [_patched(classic[1], HEADER_SIZE + 16, "<B", 9), classic[0], classic[1]]),
    ]
    return {"format_version": FORMAT_VERSION, "streams": streams}
