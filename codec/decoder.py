"""StreamDecoder: wire frames in, decoded frames out, enforcing FORMAT.md's stream rules."""

import functools
from dataclasses import dataclass

import numpy as np

from depthcam.codec import classic, errors, fine, lossless
from depthcam.codec.attachments import NO_ATTACHMENTS, detach
from depthcam.codec.contextcoding import ContextStream
from depthcam.codec.frame import DepthUnits
from depthcam.codec.header import Profile, parse_header, profile_name
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.units import raw_to_mm

PAYLOAD_DECODERS = {
    Profile.CLASSIC: classic.decode_payload,
    Profile.LOSSLESS_RAW: lossless.decode_payload,
    Profile.LOSSLESS_MM: lossless.decode_payload,
    Profile.FINE: fine.decode_payload,
    Profile.FINE_INVERSE: fine.decode_inverse_payload,
}
# What the samples of each profile are; classic's are codes, none of these.
PROFILE_UNITS = {**lossless.PROFILE_UNITS, Profile.FINE: DepthUnits.MILLIMETRES,
                 Profile.FINE_INVERSE: DepthUnits.MILLIMETRES}


@functools.lru_cache(maxsize=16)
def _quantizer(near_mm, far_mm):
    """The quantizer of one near/far range, built once: a stream keeps its range frame after frame."""
    return InverseDepthQuantizer(near_mm, far_mm)


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: its header and its samples (height x width).

    ``codes`` holds what the profile carries: one-byte codes for classic (uint8, 255 = no
    reading), the source's own values for the lossless profiles and depth for fine (uint16, in
    ``units``). ``attachments`` holds the frame's intrinsics and colour picture (FORMAT.md,
    *Attachments*), each None when the frame has none.
    """

    header: object
    codes: np.ndarray
    attachments: object = NO_ATTACHMENTS

    @property
    def colour(self):
        """The frame's ColourPicture, or None."""
        return self.attachments.colour

    @property
    def intrinsics(self):
        """The frame's CameraIntrinsics (at its width x height), or None."""
        return self.attachments.intrinsics

    @property
    def units(self):
        """The DepthUnits of ``codes`` (lossless and fine profiles), None for classic codes."""
        return PROFILE_UNITS.get(self.header.profile)

    @property
    def depth_mm(self):
        """Depth in mm (uint16, 0 = no reading)."""
        if self.units is DepthUnits.MILLIMETRES:
            return self.codes
        if self.units is DepthUnits.RAW_DISPARITY:
            return raw_to_mm(self.codes)
        return _quantizer(self.header.near_mm, self.header.far_mm).to_mm(self.codes)


class StreamDecoder:
    """Decodes the frames of one stream in order.

    A rejected frame raises a ``CodecError`` and leaves the decoder as it was, except two, after
    which it holds no frame and waits for the next keyframe (FORMAT.md, *Rejection rules*): a
    ``SequenceGapError``, and a classic-cm ``CorruptPayloadError``, keyframe or delta (the model is
    no longer the encoder's).
    """

    def __init__(self):
        self._codes = None
        self._sequence = None
        self._profile = None
        self._context = None  # classic-cm: the stream's model, in step with the encoder's

    @property
    def has_keyframe(self):
        return self._codes is not None

    def decode(self, message):
        """Decode one wire frame (bytes-like) and return a DecodedFrame."""
        header, payload = parse_header(message)
        attachments, payload = detach(header, payload)
        if header.profile is Profile.CLASSIC_CM:
            return self._decode_context(header, payload, attachments)
        # FORMAT.md's order: the payload must decompress before stream rules are checked.
        decode_payload = PAYLOAD_DECODERS[header.profile](header, payload)
        self._check_follows(header)
        codes = decode_payload(self._codes)
        self._codes, self._sequence, self._profile = codes, header.sequence, header.profile
        return DecodedFrame(header, codes, attachments)

    def _decode_context(self, header, payload, attachments):
        """A classic-cm frame: its payload decodes only in step with the model (FORMAT.md)."""
        self._check_follows(header)
        if self._context is None or self._context.shape != (header.height, header.width):
            self._context = ContextStream(header.width, header.height)
        try:
            if header.is_keyframe:
                codes = self._context.decode_keyframe(payload)
            else:
                codes = self._context.decode_delta(payload)
        except errors.CorruptPayloadError:
            self._codes = self._sequence = self._profile = None
            raise
        self._codes, self._sequence, self._profile = codes, header.sequence, header.profile
        return DecodedFrame(header, codes, attachments)

    def _check_follows(self, header):
        """A delta must follow the frame decoded last; a keyframe may come at any time."""
        if not header.is_keyframe:
            if self._codes is None:
                raise errors.MissingKeyframeError(
                    f"delta {header.sequence} arrived before any keyframe"
                )
            previous = self._sequence
            if (header.sequence != (previous + 1) & 0xFFFFFFFF or header.profile != self._profile
                    or self._codes.shape != (header.height, header.width)):
                self._codes = self._sequence = self._profile = None
                raise errors.SequenceGapError(
                    f"delta {header.sequence} ({profile_name(header.profile)}, {header.width}x"
                    f"{header.height}) does not follow frame {previous}; waiting for a keyframe"
                )
