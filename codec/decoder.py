"""StreamDecoder: wire frames in, decoded frames out, enforcing FORMAT.md's stream rules."""

from dataclasses import dataclass

import numpy as np

from depthcam.codec import classic, errors
from depthcam.codec.header import Profile, parse_header
from depthcam.codec.quantization import InverseDepthQuantizer

PAYLOAD_DECODERS = {Profile.CLASSIC: classic.decode_payload}


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: its header and its codes (uint8, height x width, 255 = no reading)."""

    header: object
    codes: np.ndarray

    @property
    def depth_mm(self):
        """Depth in mm (uint16, 0 = no reading)."""
        quantizer = InverseDepthQuantizer(self.header.near_mm, self.header.far_mm)
        return quantizer.to_mm(self.codes)


class StreamDecoder:
    """Decodes the frames of one stream in order.

    A rejected frame raises a ``CodecError`` and leaves the decoder as it was, except a sequence
    gap, after which it waits for the next keyframe.
    """

    def __init__(self):
        self._codes = None
        self._sequence = None

    @property
    def has_keyframe(self):
        return self._codes is not None

    def decode(self, message):
        """Decode one wire frame (bytes-like) and return a DecodedFrame."""
        header, payload = parse_header(message)
        # FORMAT.md's order: the payload must decompress before stream rules are checked.
        decode_payload = PAYLOAD_DECODERS[header.profile](header, payload)
        if not header.is_keyframe:
            if self._codes is None:
                raise errors.MissingKeyframeError(
                    f"delta {header.sequence} arrived before any keyframe"
                )
            expected = (self._sequence + 1) & 0xFFFFFFFF
            if header.sequence != expected or self._codes.shape != (header.height, header.width):
                self._codes = self._sequence = None
                raise errors.SequenceGapError(
                    f"delta {header.sequence} ({header.width}x{header.height}) does not follow "
                    f"frame {expected - 1}; waiting for a keyframe"
                )
        codes = decode_payload(self._codes)
        self._codes, self._sequence = codes, header.sequence
        return DecodedFrame(header, codes)
