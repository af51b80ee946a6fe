"""A frame's colour picture: RGB pixels to a JPEG or WebP the browser decodes natively, and back.

Pillow codes the pictures (libjpeg-turbo and libwebp underneath); it is imported when a picture is
first coded, so a depth-only stream never needs it. The wire layout of the COLOUR block is in
FORMAT.md, *Attachments*.
"""

import enum
import io
import struct
from dataclasses import dataclass

import numpy as np

from depthcam.codec import errors

# FORMAT.md, *COLOUR block*: coding, scale, reserved, picture_length; the picture follows.
COLOUR_HEAD_STRUCT = struct.Struct("<BBHI")
COLOUR_HEAD_SIZE = COLOUR_HEAD_STRUCT.size
# A picture's pixel grid is the depth frame's times one of these.
SCALES = (1, 2, 4)
# Pictures come from a 640 x 480 sensor frame at most.
MAX_PICTURE_PIXELS = 640 * 480


class ColourCoding(enum.IntEnum):
    """The ``coding`` byte of the COLOUR block: how the picture is compressed."""

    JPEG = 1
    WEBP = 2


# What ``--colour`` accepts besides ``off``, and the MIME type a browser decodes each as.
CODING_NAMES = {"jpeg": ColourCoding.JPEG, "webp": ColourCoding.WEBP}
MIME_TYPES = {ColourCoding.JPEG: "image/jpeg", ColourCoding.WEBP: "image/webp"}
_PILLOW_FORMATS = {ColourCoding.JPEG: "JPEG", ColourCoding.WEBP: "WEBP"}


def _looks_like(coding, data):
    """Whether ``data`` opens as a picture of ``coding`` does (JPEG's SOI marker, WebP's RIFF)."""
    if coding is ColourCoding.JPEG:
        return data[:3] == b"\xff\xd8\xff"
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


@dataclass(frozen=True)
class ColourPicture:
    """One frame's coded colour picture: ``scale`` x the depth grid, ``data`` as the wire has it."""

    coding: ColourCoding
    scale: int
    data: bytes

    def pack(self):
        """The COLOUR block: its 8-byte head, then the picture."""
        return COLOUR_HEAD_STRUCT.pack(int(self.coding), self.scale, 0, len(self.data)) + self.data

    def rgb(self):
        """The picture's pixels, rows x columns x 3 uint8 (decoded with Pillow)."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(self.data)) as image:
                return np.asarray(image.convert("RGB"))
        except OSError as exc:
            raise errors.CorruptPayloadError(f"colour picture does not decode: {exc}") from exc


def unpack_colour(payload, offset, width, height):
    """The ColourPicture whose block starts at ``offset`` of ``payload``, and the offset after it.

    ``width`` x ``height`` is the depth frame's size. Raises CorruptPayloadError where the block
    breaks FORMAT.md's rules; the picture's pixels are not decoded here.
    """
    if len(payload) - offset < COLOUR_HEAD_SIZE:
        raise errors.CorruptPayloadError("payload ends inside the COLOUR block's head")
    coding_id, scale, reserved, length = COLOUR_HEAD_STRUCT.unpack_from(payload, offset)
    try:
        coding = ColourCoding(coding_id)
    except ValueError:
        raise errors.CorruptPayloadError(f"unknown colour coding {coding_id}") from None
    if scale not in SCALES or reserved:
        raise errors.CorruptPayloadError(
            f"colour scale {scale} (allowed: {', '.join(map(str, SCALES))}), reserved {reserved}")
    if width * height * scale * scale > MAX_PICTURE_PIXELS:
        raise errors.CorruptPayloadError(
            f"colour picture {width * scale}x{height * scale} is over {MAX_PICTURE_PIXELS} pixels")
    start = offset + COLOUR_HEAD_SIZE
    if length > len(payload) - start:
        raise errors.CorruptPayloadError(
            f"colour picture of {length} bytes runs past the payload's end")
    data = bytes(payload[start:start + length])
    if not _looks_like(coding, data):
        raise errors.CorruptPayloadError(f"colour picture is not a {coding.name} file")
    return ColourPicture(coding, scale, data), start + length


def downscale(rgb, width, height):
    """``rgb`` (rows x columns x 3 uint8) as ``width`` x ``height``: the mean of each block.

    The depth reductions pick one value a block; a picture is smoother as a mean, and the mean
    of a block is what a camera of that resolution would have seen.
    """
    rows, columns = rgb.shape[:2]
    if (columns, rows) == (width, height):
        return rgb
    if columns % width or rows % height:
        from PIL import Image

        return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BOX))
    blocks = rgb.reshape(height, rows // height, width, columns // width, 3)
    return (blocks.mean(axis=(1, 3), dtype=np.float32) + 0.5).astype(np.uint8)


class PictureCoder:
    """Codes RGB pictures as ``coding`` at ``quality`` (1-100, Pillow's scale for both codings)."""

    # bench/codec.py's colour table: q75 keeps the kitchen's hues right at 4-5 KB a 160 x 120
    # picture; it is libjpeg's and libwebp's usual default too.
    QUALITY = 75
    # libwebp's effort 0-6. Measured on 7scenes-redkitchen at 320 x 240: 0 gives 40 % more bytes
    # than 2, and 4 (Pillow's default) saves 4 % more for three times the time.
    WEBP_METHOD = 2

    def __init__(self, coding=ColourCoding.JPEG, quality=None):
        self.coding = ColourCoding(coding)
        self.quality = self.QUALITY if quality is None else quality
        if not 1 <= self.quality <= 100:
            raise ValueError(f"colour quality must be 1-100, got {self.quality}")

    def encode(self, rgb):
        """The coded bytes of ``rgb`` (rows x columns x 3 uint8)."""
        from PIL import Image

        out = io.BytesIO()
        options = {"quality": self.quality}
        if self.coding is ColourCoding.WEBP:
            options["method"] = self.WEBP_METHOD
        else:
            options["optimize"] = True  # Huffman tables for this picture: 7 % fewer bytes, no slower
        Image.fromarray(np.ascontiguousarray(rgb)).save(out, _PILLOW_FORMATS[self.coding], **options)
        return out.getvalue()
