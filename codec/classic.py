"""The classic profile: 160 x 120, one byte a pixel, median of 3, delta + keyframes.

Two codings of the same codes: LZMA (profile ``classic``, id 1) and context mixing (profile
``classic-cm``, id 5: about half the bytes; needs the compiled coder, see contextcoding.py).
"""

import dataclasses
import enum

import numpy as np

from depthcam.codec import compression, contextcoding
from depthcam.codec.catchup import CatchupFrame
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


class Coding(enum.Enum):
    """How a classic frame's codes are compressed."""

    LZMA = "lzma"  # profile classic (1)
    CONTEXT = "context"  # profile classic-cm (5)


def best_coding():
    """Context mixing where the compiled coder is built, else LZMA."""
    return Coding.CONTEXT if contextcoding.available() else Coding.LZMA


class ClassicEncoder(CatchupFrame):
    """Encodes a stream of DepthFrames as classic-profile wire frames.

    ``encode`` returns the frame every viewer gets; ``catchup_messages`` what a viewer that joins
    between keyframes needs first: an absolute copy of the latest frame (LZMA), or the keyframe and
    every delta since (context mixing, whose model a decoder must follow from the keyframe on).
    """
    # Frames between keyframes; the source sets it from its fps (2 s by default).
    KEYFRAME_INTERVAL_FRAMES = 60

    def __init__(self, keyframe_interval=None, near_mm=500, far_mm=8000,
                 reduction=Reduction.NEAREST_SURFACE, coding=Coding.LZMA):
        self.keyframe_interval = keyframe_interval or self.KEYFRAME_INTERVAL_FRAMES
        self.coding = Coding(coding)
        self.profile = Profile.CLASSIC_CM if self.coding is Coding.CONTEXT else Profile.CLASSIC
        self._context = None  # the ContextStream of the current frame size (context mixing)
        self._group = []  # context mixing: the messages since the latest keyframe
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
        payload = self._payload(codes, keyframe)
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
        if self.coding is Coding.CONTEXT:
            if keyframe:
                self._group = []
            self._group.append(message)
        self._frames_since_keyframe = 0 if keyframe else self._frames_since_keyframe + 1
        self._keyframe_requested = False
        self._codes = codes
        # A keyframe's payload serves late joiners as it is; a delta's is compressed on demand.
        self._catchup_payload = payload if keyframe else None
        self._catchup_message = None
        return message

    def _payload(self, codes, keyframe):
        if self.coding is Coding.LZMA:
            body = codes if keyframe else encode_delta(codes, self._codes)
            return compression.compress(body.tobytes())
        if self._context is None or self._context.shape != codes.shape:
            self._context = contextcoding.ContextStream(codes.shape[1], codes.shape[0])
        if keyframe:
            return self._context.encode_keyframe(codes)
        return self._context.encode_delta(codes)

    def catchup_messages(self):
        """What a viewer joining now needs before the next frame; empty before the first frame."""
        if self.coding is Coding.CONTEXT:
            return list(self._group)
        return super().catchup_messages()

    def catchup_frame(self):
        """The LZMA coding's catch-up frame; None for context mixing, whose joiners need the keyframe
        and the deltas since (the broadcast core's cache sends those)."""
        return None if self.coding is Coding.CONTEXT else self.catchup()

    def catchup(self):
        """An absolute copy of the latest frame (CATCHUP flag), or None before the first frame.

        Computed once per frame however many viewers join during it. LZMA coding only: a
        context-mixing delta needs every frame since its keyframe (``catchup_messages``).
        """
        if self.coding is Coding.CONTEXT:
            raise TypeError("classic-cm has no catch-up frame; send catchup_messages()")
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
