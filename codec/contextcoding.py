"""The classic-cm payload (FORMAT.md, profile 5): a CRC-32 of the codes, then context-mixing bits.

The modelling runs in the compiled ``_contextmodel`` (C: a pure-Python loop would take about a
second a frame). It is an optional build: ``available()`` says whether this install has it; without
it the source sends the classic profile's LZMA coding, which every decoder reads.
"""

import struct
import zlib

import numpy as np

from depthcam.codec import errors

try:
    from depthcam.codec._contextmodel import ContextCoder
except ImportError:  # built without a C compiler: see setup.py
    ContextCoder = None

_CRC = struct.Struct("<I")


def available():
    """Whether the compiled context-mixing coder is built into this install."""
    return ContextCoder is not None


def _require():
    # For a decoder, a profile it cannot read: what UnknownProfileError means.
    if ContextCoder is None:
        raise errors.UnknownProfileError(
            "classic-cm needs the compiled coder depthcam.codec._contextmodel, which this install "
            "lacks (reinstall with a C compiler and Python's headers)"
        )


class ContextStream:
    """One stream's model, on either end: the encoder's and each decoder's advance in step.

    ``encode_*`` take uint8 codes (height x width) and return a payload; ``decode_*`` take a payload
    and return codes, raising CorruptPayloadError when the payload is not the encoder's (after
    which only a keyframe can be decoded).
    """

    def __init__(self, width, height):
        _require()
        self.shape = (height, width)
        self._coder = ContextCoder(width, height)
        self.in_step = False

    def encode_keyframe(self, codes):
        return self._encode(self._coder.encode_keyframe, codes)

    def encode_delta(self, codes):
        return self._encode(self._coder.encode, codes)

    def decode_keyframe(self, payload):
        return self._decode(self._coder.decode_keyframe, payload)

    def decode_delta(self, payload):
        if not self.in_step:
            raise errors.CorruptPayloadError("classic-cm delta without the keyframe before it")
        return self._decode(self._coder.decode, payload)

    def _encode(self, code, codes):
        data = np.ascontiguousarray(codes, np.uint8).tobytes()
        body = code(data)
        self.in_step = True
        return _CRC.pack(zlib.crc32(data)) + body

    def _decode(self, decode, payload):
        self.in_step = False
        payload = bytes(payload)
        if len(payload) < _CRC.size:
            raise errors.CorruptPayloadError(f"classic-cm payload of {len(payload)} bytes has no CRC")
        (crc,) = _CRC.unpack_from(payload)
        try:
            data = decode(payload[_CRC.size:])
        except ValueError as exc:
            raise errors.CorruptPayloadError(f"classic-cm payload: {exc}") from exc
        if zlib.crc32(data) != crc:
            raise errors.CorruptPayloadError("classic-cm payload decodes to codes that fail its CRC-32")
        self.in_step = True
        return np.frombuffer(data, np.uint8).reshape(self.shape)
