"""The classic profile: 160 x 120, one byte a pixel, median of 3, delta + keyframes, LZMA."""

import dataclasses

import numpy as np

from depthcam.codec import compression
from depthcam.codec.header import FrameFlags, FrameHeader, Profile
from depthcam.codec.motion import motion_cue
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.reduction import REDUCERS, Reduction
from depthcam.codec.temporal import MedianOfThree
from depthcam.codec.units import to_millimetres


def encode_delta(codes, previous_codes):
    """``(codes - previous) mod 256`` as uint8."""
    return codes - previous_codes  # uint8 arithmetic wraps mod 256


def apply_delta(delta, previous_codes):
    """Undo ``encode_delta``."""
    return delta + previous_codes


class ClassicEncoder:
    """Encodes a stream of DepthFrames as classic-profile wire frames.

    ``encode`` returns the frame every viewer gets; ``catchup`` returns an absolute copy of the
    latest frame for a viewer that joins between keyframes.
    """

    profile = Profile.CLASSIC
    # Frames between keyframes; the source sets it from its fps (2 s by default).
    KEYFRAME_INTERVAL_FRAMES = 60

    def __init__(self, keyframe_interval=None, near_mm=500, far_mm=8000,
                 reduction=Reduction.NEAREST_SURFACE):
        self.keyframe_interval = keyframe_interval or self.KEYFRAME_INTERVAL_FRAMES
        self.quantizer = InverseDepthQuantizer(near_mm, far_mm)
        self._reduce = REDUCERS[Reduction(reduction)]
        self._median = MedianOfThree()
        self._codes = None
        self._header = None
        self._sequence = -1
        self._frames_since_keyframe = 0
        self._keyframe_requested = True
        self._catchup_payload = None
        self._catchup_message = None

    @property
    def latest_codes(self):
        """The codes (after the median) of the latest encoded frame, as a decoder must see them."""
        return self._codes

    def quantize(self, frame):
        """The frame's 120 x 160 codes before the temporal median."""
        return self.quantizer.to_codes(self._reduce(to_millimetres(frame)))

    def request_keyframe(self):
        """Make the next encoded frame a keyframe (e.g. after a reconnect)."""
        self._keyframe_requested = True

    def encode(self, frame):
        """The wire frame (bytes) for ``frame``."""
        codes = self._median(self.quantize(frame))
        keyframe = (
            self._keyframe_requested
            or self._codes is None
            or self._frames_since_keyframe + 1 >= self.keyframe_interval
        )
        body = codes if keyframe else encode_delta(codes, self._codes)
        payload = compression.compress(body.tobytes())
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        self._header = FrameHeader(
            profile=self.profile,
            flags=FrameFlags.KEYFRAME if keyframe else FrameFlags.NONE,
            sequence=self._sequence,
            capture_time_us=int(round(frame.captured_at * 1e6)),
            width=codes.shape[1],
            height=codes.shape[0],
            near_mm=self.quantizer.near_mm,
            far_mm=self.quantizer.far_mm,
            motion=motion_cue(self._codes, codes, self.quantizer),
            payload_length=len(payload),
        )
        message = self._header.pack() + payload
        self._frames_since_keyframe = 0 if keyframe else self._frames_since_keyframe + 1
        self._keyframe_requested = False
        self._codes = codes
        # A keyframe's payload serves late joiners as it is; a delta's is compressed on demand.
        self._catchup_payload = payload if keyframe else None
        self._catchup_message = None
        return message

    def catchup(self):
        """An absolute copy of the latest frame (CATCHUP flag), or None before the first frame.

        Computed once per frame however many viewers join during it.
        """
        if self._codes is None:
            return None
        if self._catchup_message is None:
            payload = self._catchup_payload or compression.compress(self._codes.tobytes())
            header = dataclasses.replace(
                self._header,
                flags=FrameFlags.KEYFRAME | FrameFlags.CATCHUP,
                payload_length=len(payload),
            )
            self._catchup_message = header.pack() + payload
        return self._catchup_message


def decode_payload(header, payload):
    """Decompress a classic frame; return a function of the previous codes that gives its codes.

    Decompression (and its CorruptPayloadError) happens now, before the caller checks the
    stream's order, as FORMAT.md's rejection table requires.
    """
    data = compression.decompress(payload, header.width * header.height)
    body = np.frombuffer(data, np.uint8).reshape(header.height, header.width)
    if header.is_keyframe:
        return lambda previous_codes: body
    return lambda previous_codes: apply_delta(body, previous_codes)
