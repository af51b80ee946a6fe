"""Tests for depthcam.codec.legacy: the 2012 wire bytes, decoded as the 2012 client decoded them."""

import lzma

import numpy as np
import pytest

from depthcam.codec import errors
from depthcam.codec.legacy import (
    LEGACY_DATA_BYTES, LEGACY_HEIGHT, LEGACY_WIDTH, LegacyEncoder, decode_legacy, pylzma_compress,
    pylzma_decompress, quadrant_means,
)
from tests.codec.frames import flat_frame, synthetic_frames

# What jawj/websocket-kinect's client sizes its output arrays to: 5 + the 158 x 120 particles.
RAW_DATA_LEN_2012 = 5 + 158 * 120


class Client2012:
    """The 2012 client's ``dataCallback``, step by step, on the bytes of each WebSocket message.

    Two output arrays alternate; ``LZMA.decompress(inStream, inStream, outStream, rawDataLen)``
    reads the LZMA properties from the first 5 bytes of the message, then decodes exactly
    ``rawDataLen`` bytes of the raw stream after them. Byte 0 is the keyframe flag, bytes 1-4 the
    quadrant means; a delta adds each byte to the previous array's mod 256, in place. Frames are
    ignored until a keyframe is seen; code 255 hides a particle, others set ``z = (128 - code) * 10``.
    """

    def __init__(self):
        self.out_arrays = [bytearray(RAW_DATA_LEN_2012), bytearray(RAW_DATA_LEN_2012)]
        self.current, self.previous = 0, 1
        self.seen_keyframe = False
        self.frames_drawn = 0
        self.dyna_pan = 0.0
        self.visible = np.zeros(LEGACY_WIDTH * LEGACY_HEIGHT, bool)
        self.z = np.zeros(LEGACY_WIDTH * LEGACY_HEIGHT)

    def data_callback(self, message):
        self.current, self.previous = self.previous, self.current
        properties = message[0]
        lc, lp, pb = properties % 9, properties // 9 % 5, properties // 45
        dictionary = int.from_bytes(message[1:5], "little")
        decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA1, "dict_size": dictionary, "lc": lc, "lp": lp, "pb": pb}])
        decoded = decoder.decompress(message[5:], max_length=RAW_DATA_LEN_2012)
        assert len(decoded) == RAW_DATA_LEN_2012, "Error in data stream"
        out = self.out_arrays[self.current]
        out[:] = decoded
        previous = self.out_arrays[self.previous]
        keyframe = out[0]
        if not (keyframe or self.seen_keyframe):
            return
        self.seen_keyframe = True
        qtl, qtr, qbl, qbr = out[1:5]
        self.dyna_pan = self.dyna_pan * 0.9 + ((qtr + qbr) - (qtl + qbl)) * 0.1
        for index in range(5, RAW_DATA_LEN_2012):
            if not keyframe:
                out[index] = (previous[index] + out[index]) % 256
        codes = np.frombuffer(out, np.uint8, offset=5)
        self.visible = codes != 255
        self.z = (128 - codes.astype(np.int32)) * 10.0
        self.frames_drawn += 1

    def codes(self):
        return np.frombuffer(self.out_arrays[self.current], np.uint8, offset=5).reshape(
            LEGACY_HEIGHT, LEGACY_WIDTH)


def codes_2012(frames):
    """The 2012 server's codes for each frame, from its recipe, written out independently."""
    history = [np.zeros((LEGACY_HEIGHT, LEGACY_WIDTH))] * 2
    result = []
    for frame in frames:
        depth0 = frame.depth[np.indices((120, 158))[0] * 4, np.indices((120, 158))[1] * 4]
        depth = np.median(np.dstack([depth0, *history]), axis=2).astype(np.int16)
        history = [depth0, history[0]]
        np.clip(depth, 0, 2**10 - 1, depth)
        depth >>= 2
        result.append(depth.astype(np.uint8))
    return result


def test_message_is_pylzma_compress_of_flag_means_and_codes():
    """A message is 5 LZMA property bytes (lc=3 lp=0 pb=2, 2^18 dictionary) and a raw LZMA stream
    whose data starts with the keyframe flag and the four quadrant means."""
    encoder = LegacyEncoder()
    first = encoder.encode(flat_frame(900))
    third = [encoder.encode(flat_frame(900)) for _ in range(2)][-1]
    filters = [{"id": lzma.FILTER_LZMA1, "dict_size": 2**18, "lc": 3, "lp": 0, "pb": 2}]
    for message, flag, means in ((first, 1, [0] * 4), (third, 0, [225] * 4)):
        assert message[0] == (2 * 5 + 0) * 9 + 3
        assert int.from_bytes(message[1:5], "little") == 2**18
        data = lzma.decompress(message[5:], format=lzma.FORMAT_RAW, filters=filters)
        assert len(data) == LEGACY_DATA_BYTES == 5 + 158 * 120
        assert data[0] == flag
        assert list(data[1:5]) == means  # the zero history wins the first median; 900 >> 2 = 225


def test_2012_client_draws_our_stream_step_by_step():
    """The 2012 client's decode, run on our messages, gives the 2012 server's codes for every frame."""
    frames = synthetic_frames(64)
    encoder = LegacyEncoder()
    client = Client2012()
    for index, (frame, expected) in enumerate(zip(frames, codes_2012(frames))):
        client.data_callback(encoder.encode(frame))
        np.testing.assert_array_equal(client.codes(), expected, err_msg=f"frame {index}")
        assert client.out_arrays[client.current][0] == (index % 60 == 0)
        assert list(client.out_arrays[client.current][1:5]) == quadrant_means(expected)
    assert client.frames_drawn == 64
    assert client.visible.any() and not client.visible.all()  # the holes are hidden particles
    assert abs(client.dyna_pan) > 0  # the box sits left of centre, so the camera pans


def test_2012_client_joining_late_draws_from_the_catchup_keyframe():
    """A 2012 client joining mid-stream gets the catch-up keyframe first, then applies the deltas."""
    frames = synthetic_frames(8)
    expected = codes_2012(frames)
    encoder = LegacyEncoder()
    for frame in frames[:4]:
        encoder.encode(frame)
    client = Client2012()
    for message in encoder.catchup_messages():
        client.data_callback(message)
    np.testing.assert_array_equal(client.codes(), expected[3])
    for frame, codes in zip(frames[4:], expected[4:]):
        client.data_callback(encoder.encode(frame))
        np.testing.assert_array_equal(client.codes(), codes)
    assert client.frames_drawn == 5


def test_2012_client_ignores_deltas_until_a_keyframe():
    """Without a catch-up frame the 2012 client draws nothing until the next keyframe (as in 2012)."""
    frames = synthetic_frames(6)
    encoder = LegacyEncoder(keyframe_interval=4)
    messages = [encoder.encode(frame) for frame in frames]
    client = Client2012()
    for message in messages[1:4]:
        client.data_callback(message)
    assert client.frames_drawn == 0
    client.data_callback(messages[4])
    np.testing.assert_array_equal(client.codes(), codes_2012(frames)[4])


def test_decode_legacy_gives_the_codes_and_means():
    """decode_legacy undoes LegacyEncoder: flag, quadrant means and codes of each frame."""
    frames = synthetic_frames(62)
    encoder = LegacyEncoder()
    previous = None
    for index, (frame, expected) in enumerate(zip(frames, codes_2012(frames))):
        keyframe, means, previous = decode_legacy(encoder.encode(frame), previous)
        np.testing.assert_array_equal(previous, expected)
        assert keyframe == (index % 60 == 0)
        assert means == quadrant_means(expected)


def test_pylzma_container_round_trips():
    """pylzma_decompress undoes pylzma_compress."""
    data = bytes(range(256)) * 40
    assert pylzma_decompress(pylzma_compress(data)) == data


BAD_LEGACY_MESSAGES = [
    (b"\x5d\x00\x00", errors.TruncatedFrameError),
    (b"\x5d\x00\x00\x04\x00garbage", errors.CorruptPayloadError),
    (b"\xe1\x00\x00\x04\x00" + pylzma_compress(bytes(LEGACY_DATA_BYTES))[5:], errors.CorruptPayloadError),
    (pylzma_compress(bytes(LEGACY_DATA_BYTES - 1)), errors.CorruptPayloadError),
    (pylzma_compress(b"\x02" + bytes(LEGACY_DATA_BYTES - 1)), errors.CorruptPayloadError),
    (pylzma_compress(bytes(LEGACY_DATA_BYTES)), errors.MissingKeyframeError),
]


@pytest.mark.parametrize("message, error", BAD_LEGACY_MESSAGES)
def test_bad_legacy_messages_are_refused(message, error):
    """Short, corrupt, mis-sized or out-of-order legacy messages raise their codec errors."""
    with pytest.raises(error):
        decode_legacy(message, None)


def test_catchup_is_a_keyframe_of_the_latest_codes():
    """A late joiner of a legacy stream gets a keyframe of the current picture."""
    encoder = LegacyEncoder()
    assert encoder.catchup() is None
    previous = None
    for frame in synthetic_frames(3):
        _, _, previous = decode_legacy(encoder.encode(frame), previous)
    keyframe, _, codes = decode_legacy(encoder.catchup(), None)
    assert keyframe
    np.testing.assert_array_equal(codes, previous)
