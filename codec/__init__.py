"""The depth codec: raw depth frames in, compressed wire frames out, and back (no I/O).

The wire format is defined once, in ``FORMAT.md`` beside this file.
"""

from depthcam.codec.classic import ClassicEncoder
from depthcam.codec.decoder import DecodedFrame, StreamDecoder
from depthcam.codec.errors import CodecError
from depthcam.codec.frame import DepthFrame, DepthUnits
from depthcam.codec.header import FrameFlags, FrameHeader, Profile
from depthcam.codec.legacy import LegacyEncoder
from depthcam.codec.lossless import LosslessEncoder

__all__ = [
    "ClassicEncoder",
    "CodecError",
    "DecodedFrame",
    "DepthFrame",
    "DepthUnits",
    "FrameFlags",
    "FrameHeader",
    "LegacyEncoder",
    "LosslessEncoder",
    "Profile",
    "StreamDecoder",
]
