"""Tests for source/container.py: the recording file format of RECORDING.md."""

import io
import struct
import zlib

import numpy as np
import pytest

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits
from depthcam.source.container import (
    DEPTH_ONLY_VERSION,
    FILE_HEADER,
    FILE_HEADER_SIZE,
    FRAME_HEADER_SIZE,
    MAGIC,
    VERSION,
    BadRecordingError,
    RecordingReader,
    RecordingWriter,
)


def make_frames(count=4, units=DepthUnits.RAW_DISPARITY, seed=0):
    """Noisy frames (the kind that compresses least) stamped 1/30 s apart."""
    rng = np.random.default_rng(seed)
    top = 2047 if units is DepthUnits.RAW_DISPARITY else 65535
    return [
        DepthFrame(rng.integers(0, top + 1, SENSOR_SHAPE, dtype=np.uint16), units,
                   1_700_000_000 + index / 30)
        for index in range(count)
    ]


def write(path, frames):
    with open(path, "wb") as file:
        writer = RecordingWriter(file)
        for frame in frames:
            writer.write_frame(frame)
    return path.read_bytes()


def read_all(path):
    reader = RecordingReader(path)
    try:
        return reader, [reader.read(index) for index in range(len(reader))]
    finally:
        reader.close()


@pytest.mark.parametrize("units", list(DepthUnits))
def test_frames_come_back_bit_for_bit_with_their_times(tmp_path, units):
    """What the writer stores, the reader returns: same pixels, units and microsecond times."""
    frames = make_frames(units=units)
    write(tmp_path / "a.dcrec", frames)
    reader, depths = read_all(tmp_path / "a.dcrec")
    assert reader.units is units and reader.version == DEPTH_ONLY_VERSION
    for frame, depth, time_s in zip(frames, depths, reader.times_s, strict=True):
        assert np.array_equal(frame.depth, depth) and depth.dtype == np.uint16
        assert time_s == pytest.approx(frame.captured_at, abs=1e-6)


def test_header_starts_with_magic_and_version(tmp_path):
    """The file opens with RECORDING.md's magic and version 1, the first frame's shape and units."""
    data = write(tmp_path / "a.dcrec", make_frames(1))
    magic, version, header_size, width, height, units, compression, _, _ = FILE_HEADER.unpack_from(data)
    assert (magic, version, header_size) == (MAGIC, 1, FILE_HEADER_SIZE)
    assert (width, height, units, compression) == (640, 480, 1, 1)


def test_a_file_cut_anywhere_reads_up_to_its_last_whole_frame(tmp_path):
    """Cut anywhere in its last record, a file keeps the frames before it and says where it was cut."""
    frames = make_frames(3)
    data = write(tmp_path / "whole.dcrec", frames)
    reader, _ = read_all(tmp_path / "whole.dcrec")
    last_start = FILE_HEADER_SIZE + sum(reader._lengths[:2]) + 2 * FRAME_HEADER_SIZE
    cuts = [*range(last_start + 1, last_start + FRAME_HEADER_SIZE + 1), last_start + 1000,
            len(data) - 1]
    for cut in cuts:
        path = tmp_path / "cut.dcrec"
        path.write_bytes(data[:cut])
        reader, depths = read_all(path)
        assert len(depths) == 2 and reader.truncated_at == 2, cut
        assert np.array_equal(depths[1], frames[1].depth)


def corrupt(data, offset, value=0xFF):
    return data[:offset] + bytes([data[offset] ^ value]) + data[offset + 1:]


def newer_version(data):
    header = bytearray(data[:FILE_HEADER.size])
    struct.pack_into("<H", header, 8, VERSION + 1)
    crc = struct.pack("<I", zlib.crc32(bytes(header)))
    return bytes(header) + crc + data[FILE_HEADER_SIZE:]


# (name, how to spoil a two-frame file, what the one-line error must say)
BAD_FILES = [
    ("wrong magic", lambda data: b"PNG" + data[3:], "wrong magic"),
    ("empty", lambda data: b"", "wrong magic"),
    ("cut in the header", lambda data: data[:FILE_HEADER_SIZE - 3], "cut short inside its header"),
    ("newer version", newer_version, "newer than this program"),
    ("damaged file header", lambda data: corrupt(data, 14), "damaged file header"),
    ("damaged frame header", lambda data: corrupt(data, FILE_HEADER_SIZE + 6), "frame 0: damaged"),
    ("garbage after the frames", lambda data: data + b"\0" * 100, "frame 2: damaged"),
]


def test_bad_files_are_refused_with_one_line_naming_file_and_frame(tmp_path):
    """Each spoilt file raises BadRecordingError: one line naming the file (and frame, if any)."""
    data = write(tmp_path / "good.dcrec", make_frames(2))
    for name, spoil, expected in BAD_FILES:
        path = tmp_path / "bad.dcrec"
        path.write_bytes(spoil(data))
        with pytest.raises(BadRecordingError) as raised:
            read_all(path)
        message = str(raised.value)
        assert expected in message and str(path) in message, name
        assert "\n" not in message, name


def test_a_damaged_payload_is_refused_when_its_frame_is_read(tmp_path):
    """A flipped bit in frame 1's pixels passes the index but fails that frame's checksum."""
    data = write(tmp_path / "good.dcrec", make_frames(2))
    reader, _ = read_all(tmp_path / "good.dcrec")
    path = tmp_path / "bad.dcrec"
    path.write_bytes(corrupt(data, reader._offsets[1] + 50, 0x01))
    reader = RecordingReader(path)
    try:
        reader.read(0)
        with pytest.raises(BadRecordingError, match=r"bad\.dcrec: frame 1: damaged"):
            reader.read(1)
        with pytest.raises(BadRecordingError, match="frame 1"):
            reader.verify()
    finally:
        reader.close()


def test_each_frame_is_one_write():
    """The writer hands the file each record in one write, so a crash cannot interleave halves."""

    class CountingFile(io.BytesIO):
        writes = 0

        def write(self, data):
            self.writes += 1
            return super().write(data)

    file = CountingFile()
    writer = RecordingWriter(file)
    for frame in make_frames(3):
        writer.write_frame(frame)
    assert file.writes == 3 and writer.bytes_written == len(file.getvalue())


def test_one_recording_holds_one_kind_of_units():
    """Millimetres after raw disparity in one file is refused (the header states one unit)."""
    writer = RecordingWriter(io.BytesIO())
    writer.write_frame(make_frames(1)[0])
    with pytest.raises(ValueError):
        writer.write_frame(make_frames(1, DepthUnits.MILLIMETRES)[0])


def coloured_frames(count=3):
    """Frames with a colour picture (a ramp and a block that moves) and the 7-Scenes intrinsics."""
    from depthcam.codec.intrinsics import CameraIntrinsics

    frames = []
    for index, frame in enumerate(make_frames(count)):
        colour = np.zeros((*SENSOR_SHAPE, 3), np.uint8)
        colour[..., 0] = np.arange(640, dtype=np.uint16) * 255 // 639
        colour[100:200, 50 + 40 * index:150 + 40 * index] = (20, 200, 60)
        frames.append(DepthFrame(frame.depth, frame.units, frame.captured_at, colour,
                                 CameraIntrinsics(585.0, 585.0, 320.0, 240.0)))
    return frames


def test_colour_recordings_are_version_2_and_give_their_pictures_back(tmp_path):
    """A recording with colour and intrinsics is version 2; its depth comes back bit for bit, its
    pictures within JPEG q95's error, its intrinsics exactly."""
    frames = coloured_frames()
    write(tmp_path / "c.dcrec", frames)
    reader = RecordingReader(tmp_path / "c.dcrec")
    try:
        assert reader.version == VERSION == 2
        assert (reader.intrinsics.fx, reader.intrinsics.cx) == (585.0, 320.0)
        for index, frame in enumerate(frames):
            assert np.array_equal(reader.read(index), frame.depth)
            colour = reader.read_colour(index)
            assert np.abs(colour.astype(int) - frame.colour.astype(int)).mean() < 2
        reader.verify()
    finally:
        reader.close()


def test_a_version_1_file_still_plays_and_has_no_colour(tmp_path):
    """A depth-only file is version 1, byte for byte the old layout, and reads without colour."""
    data = write(tmp_path / "d.dcrec", make_frames(2))
    assert struct.unpack_from("<H", data, 8)[0] == DEPTH_ONLY_VERSION
    reader = RecordingReader(tmp_path / "d.dcrec")
    try:
        assert reader.intrinsics is None and reader.read_colour(1) is None
    finally:
        reader.close()


def test_damaged_colour_record_is_refused_by_frame(tmp_path):
    """A colour record whose depth length runs past its payload is refused naming the frame."""
    data = bytearray(write(tmp_path / "c.dcrec", coloured_frames(2)))
    reader = RecordingReader(tmp_path / "c.dcrec")
    offset = reader._offsets[1]
    reader.close()
    struct.pack_into("<I", data, offset, 1 << 30)
    # Keep the record's CRC right, so the length check, not the checksum, refuses it.
    length = reader._lengths[1]
    struct.pack_into("<I", data, offset - 8, zlib.crc32(bytes(data[offset:offset + length])))
    header = bytes(data[offset - 28:offset - 4])
    struct.pack_into("<I", data, offset - 4, zlib.crc32(header))
    (tmp_path / "bad.dcrec").write_bytes(bytes(data))
    reader = RecordingReader(tmp_path / "bad.dcrec")
    try:
        with pytest.raises(BadRecordingError, match="frame 1: damaged"):
            reader.read(1)
    finally:
        reader.close()
