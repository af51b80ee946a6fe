"""The 2012 depthcam's wire bytes (``--wire legacy``), so the 2012 client can still watch.

See FORMAT.md, *Legacy wire*. A message is what the 2012 server's ``pylzma.compress(data,
dictionary=18)`` wrote: 5 LZMA property bytes, then a raw LZMA stream with an end marker. ``data``
is the keyframe flag, the four quadrant means, then the codes: the flag and the means are *inside*
the compressed data, where the 2012 client reads them after ``LZMA.decompress``. Faithful on
purpose: every-4th-pixel subsampling, width clipped to 632, median of three with a zero history,
``min(raw, 1023) >> 2``.
"""

import lzma
import struct
from dataclasses import dataclass

import numpy as np

from depthcam.codec import errors
from depthcam.codec.catchup import CatchupFrame
from depthcam.codec.classic import apply_delta, encode_delta
from depthcam.codec.temporal import MedianOfThree
from depthcam.codec.units import to_raw_disparity

LEGACY_WIDTH = 158
LEGACY_HEIGHT = 120
# The first bytes of the decompressed data: keyframe flag (1 or 0), then the floor of the mean code
# of the top-left, top-right, bottom-left and bottom-right quadrants.
LEGACY_PREFIX = struct.Struct("<B4B")
LEGACY_DATA_BYTES = LEGACY_PREFIX.size + LEGACY_WIDTH * LEGACY_HEIGHT
DICTIONARY_BYTES = 1 << 18
# pylzma.compress's defaults, which the 2012 source kept but for the dictionary: lc=3 lp=0 pb=2,
# 128 fast bytes, the bt4 match finder, normal mode, and an end marker.
LEGACY_FILTERS = [{
    "id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": DICTIONARY_BYTES, "lc": 3, "lp": 0, "pb": 2,
    "nice_len": 128, "mf": lzma.MF_BT4, "mode": lzma.MODE_NORMAL,
}]
# pylzma's container: the LZMA properties byte ((pb * 5 + lp) * 9 + lc) and the dictionary size
# (u32 little-endian), with no uncompressed size; unlike the 13-byte ``.lzma`` header.
LZMA_PROPERTIES = struct.Struct("<BI")


def quadrant_means(codes):
    """Floor of the mean code of the top-left, top-right, bottom-left and bottom-right quarters."""
    rows, cols = codes.shape[0] // 2, codes.shape[1] // 2
    quarters = (codes[:rows, :cols], codes[:rows, cols:], codes[rows:, :cols], codes[rows:, cols:])
    return [int(quarter.mean()) for quarter in quarters]


def pylzma_compress(data):
    """What ``pylzma.compress(data, dictionary=18)`` wrote: 5 property bytes, then the raw stream."""
    lzma1 = LEGACY_FILTERS[0]
    properties = LZMA_PROPERTIES.pack((lzma1["pb"] * 5 + lzma1["lp"]) * 9 + lzma1["lc"], lzma1["dict_size"])
    return properties + lzma.compress(data, format=lzma.FORMAT_RAW, filters=LEGACY_FILTERS)


def pylzma_decompress(data):
    """Inverse of ``pylzma_compress`` (what ``pylzma.decompress`` did)."""
    if len(data) < LZMA_PROPERTIES.size:
        raise errors.TruncatedFrameError("legacy message shorter than its 5 LZMA property bytes")
    properties, dictionary = LZMA_PROPERTIES.unpack_from(data)
    if properties >= 9 * 5 * 5:
        raise errors.CorruptPayloadError(f"legacy LZMA properties byte {properties} is over 224")
    lc, remainder = properties % 9, properties // 9
    filters = [{"id": lzma.FILTER_LZMA1, "dict_size": dictionary, "lc": lc,
                "lp": remainder % 5, "pb": remainder // 5}]
    try:
        return lzma.decompress(data[LZMA_PROPERTIES.size:], format=lzma.FORMAT_RAW, filters=filters)
    except lzma.LZMAError as exc:
        raise errors.CorruptPayloadError(f"legacy message does not decompress: {exc}") from exc


def legacy_message(keyframe, codes, body):
    """One 2012 message: the flag, the quadrant means of ``codes``, then ``body``, compressed."""
    prefix = LEGACY_PREFIX.pack(int(keyframe), *quadrant_means(codes))
    return pylzma_compress(prefix + body.tobytes())


@dataclass(frozen=True)
class LegacyHeader:
    """What a legacy frame's header says, named as FrameHeader's fields (the 2012 header holds the
    keyframe flag; its sequence is the encoder's frame count)."""

    sequence: int
    is_keyframe: bool
    width: int = LEGACY_WIDTH
    height: int = LEGACY_HEIGHT


class LegacyEncoder(CatchupFrame):
    """Encodes DepthFrames exactly as the 2012 source did."""

    KEYFRAME_INTERVAL_FRAMES = 60

    def __init__(self, keyframe_interval=None):
        self.keyframe_interval = keyframe_interval or self.KEYFRAME_INTERVAL_FRAMES
        self._median = MedianOfThree(history_fill=0)
        self._codes = None
        self._frame_count = 0
        self._keyframe_requested = True
        self._catchup_message = None  # the latest frame's catch-up, made once per frame
        self._last_was_keyframe = False

    def request_keyframe(self):
        self._keyframe_requested = True

    def encode(self, frame):
        raw = to_raw_disparity(frame)[::4, : LEGACY_WIDTH * 4 : 4]
        codes = (np.minimum(self._median(raw), 1023) >> 2).astype(np.uint8)
        keyframe = self._keyframe_requested or self._frame_count % self.keyframe_interval == 0
        body = codes if keyframe else encode_delta(codes, self._codes)
        self._frame_count += 1
        self._keyframe_requested = False
        self._codes = codes
        self._catchup_message = None
        self._last_was_keyframe = keyframe
        return legacy_message(keyframe, codes, body)

    def encode_with_header(self, frame):
        """``(LegacyHeader, message)``: ``encode(frame)`` and what its header says."""
        message = self.encode(frame)
        # The flag is inside the LZMA data (the 2012 wire): remember it rather than decompress.
        return LegacyHeader(self._frame_count - 1, self._last_was_keyframe), message

    def catchup(self):
        """A keyframe of the latest frame (the 2012 format has no catch-up flag).

        Compressed once per frame however many viewers join or resync during it, as every other
        profile's: LZMA at every request once let one viewer's resyncs slow the stream for all.
        """
        if self._codes is None:
            return None
        if self._catchup_message is None:
            self._catchup_message = legacy_message(True, self._codes, self._codes)
        return self._catchup_message


def decode_legacy(message, previous_codes):
    """The codes of one legacy message: ``(keyframe, quadrant_means, codes)``."""
    data = pylzma_decompress(message)
    if len(data) != LEGACY_DATA_BYTES:
        raise errors.CorruptPayloadError(
            f"legacy message decompresses to {len(data)} bytes, not {LEGACY_DATA_BYTES}"
        )
    flag, *means = LEGACY_PREFIX.unpack_from(data)
    if flag > 1:
        raise errors.CorruptPayloadError(f"legacy keyframe flag {flag} is neither 0 nor 1")
    body = np.frombuffer(data, np.uint8, offset=LEGACY_PREFIX.size).reshape(LEGACY_HEIGHT, LEGACY_WIDTH)
    if flag:
        return True, means, body.copy()
    if previous_codes is None:
        raise errors.MissingKeyframeError("legacy delta before any keyframe")
    return False, means, apply_delta(body, previous_codes)
