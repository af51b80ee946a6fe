"""IntraEncoder: what the profiles whose every frame is a keyframe share (lossless, fine).

Sequence numbers, the header with its motion cue, and catch-up frames: such a profile's latest
frame is already absolute, so a late joiner gets the same payload with the CATCHUP flag.
"""

import dataclasses

from depthcam.codec.catchup import CatchupFrame
from depthcam.codec.header import FrameFlags, FrameHeader
from depthcam.codec.motion import motion_cue
from depthcam.codec.quantization import InverseDepthQuantizer


class IntraEncoder(CatchupFrame):
    """Base of encoders that send every frame absolute; subclasses implement ``encode``."""

    def __init__(self, near_mm=500, far_mm=8000):
        # near/far travel in the header as the viewer's colour range, and place the motion cue.
        self.quantizer = InverseDepthQuantizer(near_mm, far_mm)
        self._motion_codes = None
        self._header = None
        self._payload = None
        self._sequence = -1
        self._catchup_message = None

    def request_keyframe(self):
        """Every frame is a keyframe already."""

    def _message(self, profile, frame, shape, payload, motion_depth_mm):
        """The wire frame for ``payload``, remembering it for ``catchup``.

        ``motion_depth_mm`` is a 120 x 160 view of the frame's depth in mm, for the motion cue.
        """
        motion_codes = self.quantizer.to_codes(motion_depth_mm)
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        self._header = FrameHeader(
            profile=profile,
            flags=FrameFlags.KEYFRAME,
            sequence=self._sequence,
            capture_time_us=int(round(frame.captured_at * 1e6)),
            width=shape[1],
            height=shape[0],
            near_mm=self.quantizer.near_mm,
            far_mm=self.quantizer.far_mm,
            motion=motion_cue(self._motion_codes, motion_codes, self.quantizer),
            payload_length=len(payload),
        )
        self._motion_codes, self._payload, self._catchup_message = motion_codes, payload, None
        return self._header.pack() + payload

    def catchup(self):
        """The latest frame again with the CATCHUP flag, or None before the first frame."""
        if self._header is None:
            return None
        if self._catchup_message is None:
            header = dataclasses.replace(self._header, flags=FrameFlags.KEYFRAME | FrameFlags.CATCHUP)
            self._catchup_message = header.pack() + self._payload
        return self._catchup_message
