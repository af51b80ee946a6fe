"""The depthcam recording file (``.dcrec``): frames stored losslessly with their capture times.

``source/RECORDING.md`` is the spec; this module follows it. ``RecordingWriter`` appends frames to
an open binary file; ``RecordingReader`` indexes a file and reads its frames back, one at a time
(it is a recording in the sense of ``recordings.py``, so ``recording.RecordingPlayer`` plays it).

Every record is written whole with one ``write`` and carries its own length and CRC-32s, so a file
cut short by a crash reads up to its last whole frame, and a damaged one is refused by frame.

A recording whose first frame has colour or intrinsics is written as version 2 (each frame's
picture after its depth, the intrinsics in the file header); one without either as version 1,
byte for byte what earlier programs wrote and read. The reader reads both.
"""

import enum
import io
import struct
import zlib
from pathlib import Path

import numpy as np

from depthcam.codec.frame import SENSOR_SHAPE, DepthUnits
from depthcam.codec.intrinsics import INTRINSICS_STRUCT, CameraIntrinsics
from depthcam.source.recordings import RecordingError

MAGIC = b"DCAMREC\n"
VERSION = 2  # the newest this module reads and writes
DEPTH_ONLY_VERSION = 1  # what a recording without colour or intrinsics is written as
# magic, version, header size, width, height, units, compression, flags (v1: reserved), started_us
FILE_HEADER = struct.Struct("<8sHHHHBBHQ")
FILE_HEADER_CRC = struct.Struct("<I")
FILE_HEADER_SIZE = FILE_HEADER.size + FILE_HEADER_CRC.size
# Version 2: the intrinsics (at 640 x 480) between the fields above and the CRC.
FILE_HEADER_V2_SIZE = FILE_HEADER.size + INTRINSICS_STRUCT.size + FILE_HEADER_CRC.size
# Version 2, a frame record's payload with colour: the depth's length, the depth, the picture.
DEPTH_LENGTH = struct.Struct("<I")
# Colour is kept as JPEG at this quality: 60-90 KB a 640 x 480 picture (a sixth of raw RGB), and
# far finer than what is streamed (RECORDING.md).
COLOUR_JPEG_QUALITY = 95
# marker, frame index, capture time (us), payload length, payload CRC-32
FRAME_HEADER = struct.Struct("<4sIQII")
FRAME_HEADER_CRC = struct.Struct("<I")
FRAME_HEADER_SIZE = FRAME_HEADER.size + FRAME_HEADER_CRC.size
FRAME_MARKER = b"FRAM"
# zstd level 3: on the real recordings 76-91 KiB a frame in about 2 ms; level 9 saves 15 % for
# five times the time (RECORDING.md has the table).
ZSTD_LEVEL = 3
US_PER_S = 1_000_000
# Refuse payloads larger than this before reading them (an uncompressed frame is 600 KiB).
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024


class UnitsCode(enum.IntEnum):
    """The ``units`` byte of the file header."""

    RAW_DISPARITY = 1
    MILLIMETRES = 2


UNITS_CODES = {
    DepthUnits.RAW_DISPARITY: UnitsCode.RAW_DISPARITY,
    DepthUnits.MILLIMETRES: UnitsCode.MILLIMETRES,
}


class Compression(enum.IntEnum):
    """The ``compression`` byte of the file header."""

    ZSTD = 1


class RecordingFlags(enum.IntFlag):
    """The ``flags`` field of a version 2 file header."""

    NONE = 0
    COLOUR = 1  # each frame record carries a colour picture after its depth
    INTRINSICS = 2  # the file header holds the camera's intrinsics


class BadRecordingError(RecordingError):
    """A recording file that is not one, is too new, or has a damaged frame; names both."""


def _crc(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def _to_us(seconds):
    return max(0, round(seconds * US_PER_S))


class RecordingWriter:
    """Appends frames to ``file`` (a binary file object open for writing, at its start).

    The file header goes out with the first frame, which fixes the recording's units and shape.
    ``write_frame`` returns the bytes written.
    """

    def __init__(self, file, level=ZSTD_LEVEL):
        import zstandard

        self.file = file
        self.units = None
        self.frames = 0
        self.bytes_written = 0
        self.flags = RecordingFlags.NONE
        self._compressor = zstandard.ZstdCompressor(level=level)

    def _write_header(self, frame):
        rows, columns = frame.depth.shape
        self.units = frame.units
        if frame.colour is not None:
            self.flags |= RecordingFlags.COLOUR
        if frame.intrinsics is not None:
            self.flags |= RecordingFlags.INTRINSICS
        if not self.flags:
            header = FILE_HEADER.pack(MAGIC, DEPTH_ONLY_VERSION, FILE_HEADER_SIZE, columns, rows,
                                      UNITS_CODES[frame.units], Compression.ZSTD, 0,
                                      _to_us(frame.captured_at))
            return header + FILE_HEADER_CRC.pack(_crc(header))
        lens = frame.intrinsics or CameraIntrinsics(0.0, 0.0, 0.0, 0.0)
        header = FILE_HEADER.pack(MAGIC, VERSION, FILE_HEADER_V2_SIZE, columns, rows,
                                  UNITS_CODES[frame.units], Compression.ZSTD, int(self.flags),
                                  _to_us(frame.captured_at)) + lens.pack()
        return header + FILE_HEADER_CRC.pack(_crc(header))

    def _colour_bytes(self, frame):
        """The frame's picture as JPEG (empty for a frame without one)."""
        if frame.colour is None:
            return b""
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(frame.colour).save(out, "JPEG", quality=COLOUR_JPEG_QUALITY)
        return out.getvalue()

    def encode_frame(self, frame):
        """The bytes of ``frame``'s record (and of the file header before the first one)."""
        prefix = b""
        if self.units is None:
            prefix = self._write_header(frame)
        elif frame.units is not self.units:
            raise ValueError(f"a recording holds one kind of units: {self.units} then {frame.units}")
        payload = self._compressor.compress(frame.depth.astype("<u2", copy=False).tobytes())
        if self.flags & RecordingFlags.COLOUR:
            payload = DEPTH_LENGTH.pack(len(payload)) + payload + self._colour_bytes(frame)
        header = FRAME_HEADER.pack(FRAME_MARKER, self.frames, _to_us(frame.captured_at),
                                   len(payload), _crc(payload))
        self.frames += 1
        return prefix + header + FRAME_HEADER_CRC.pack(_crc(header)) + payload

    def write_frame(self, frame):
        """Append ``frame`` with one write, so a crash leaves whole records or a cut last one."""
        record = self.encode_frame(frame)
        self.file.write(record)
        self.file.flush()
        self.bytes_written += len(record)
        return len(record)


class RecordingReader:
    """A recording file, indexed on opening (frame headers only); frames are read on demand.

    A file cut short inside a frame is readable up to the frame before: ``truncated_at`` is then
    that frame's index (else None). Anything else wrong raises ``BadRecordingError`` naming the
    file and, where it is in one, the frame.
    """

    def __init__(self, path):
        import zstandard

        self.path = Path(path)
        self._decompressor = zstandard.ZstdDecompressor()
        try:
            self._file = open(self.path, "rb")
        except OSError as exc:
            raise BadRecordingError(f"{self.path}: cannot open it ({exc.strerror})") from exc
        try:
            self._read_header()
            self._index()
        except BaseException:
            self._file.close()
            raise

    def _fail(self, message, frame=None):
        where = f"{self.path}" if frame is None else f"{self.path}: frame {frame}"
        return BadRecordingError(f"{where}: {message}")

    def _read_header(self):
        data = self._file.read(FILE_HEADER_SIZE)
        if len(data) < len(MAGIC) or not data.startswith(MAGIC):
            raise self._fail("not a depthcam recording (wrong magic)")
        if len(data) < FILE_HEADER_SIZE:
            raise self._fail("cut short inside its header")
        (_, version, header_size, width, height, units, compression, flags,
         started_us) = FILE_HEADER.unpack_from(data)
        if version > VERSION:
            raise self._fail(f"recording format version {version}, newer than this program's "
                             f"{VERSION} (update depthcam)")
        expected_size = FILE_HEADER_SIZE if version == DEPTH_ONLY_VERSION else FILE_HEADER_V2_SIZE
        if version > DEPTH_ONLY_VERSION:
            data += self._file.read(FILE_HEADER_V2_SIZE - FILE_HEADER_SIZE)
            if len(data) < FILE_HEADER_V2_SIZE:
                raise self._fail("cut short inside its header")
        crc_offset = expected_size - FILE_HEADER_CRC.size
        (crc,) = FILE_HEADER_CRC.unpack_from(data, crc_offset)
        if (crc != _crc(data[:crc_offset]) or header_size != expected_size
                or (version == DEPTH_ONLY_VERSION and flags)):
            raise self._fail("damaged file header (checksum mismatch)")
        try:
            self.flags = RecordingFlags(flags)
        except ValueError as exc:
            raise self._fail(f"unknown flags 0x{flags:04x}") from exc
        self.intrinsics = None
        if self.flags & RecordingFlags.INTRINSICS:
            fx, fy, cx, cy = INTRINSICS_STRUCT.unpack_from(data, FILE_HEADER.size)
            if not (fx > 0 and fy > 0):
                raise self._fail("damaged file header (intrinsics)")
            self.intrinsics = CameraIntrinsics(fx, fy, cx, cy)
        self.header_size = expected_size
        if (height, width) != SENSOR_SHAPE:
            raise self._fail(f"{width}x{height} frames; only 640x480 are supported")
        try:
            self.units = {code: units for units, code in UNITS_CODES.items()}[UnitsCode(units)]
            Compression(compression)
        except ValueError as exc:
            raise self._fail(f"unknown units {units} or compression {compression}") from exc
        self.version = version
        self.shape = (height, width)
        self.started_s = started_us / US_PER_S

    def _index(self):
        self._offsets, self._lengths, self._crcs, self.times_s = [], [], [], []
        self.truncated_at = None
        size = self.path.stat().st_size
        offset = self.header_size
        while offset < size:
            index = len(self._offsets)
            self._file.seek(offset)
            data = self._file.read(FRAME_HEADER_SIZE)
            if len(data) < FRAME_HEADER_SIZE:
                self.truncated_at = index
                break
            marker, number, time_us, length, payload_crc = FRAME_HEADER.unpack_from(data)
            (header_crc,) = FRAME_HEADER_CRC.unpack_from(data, FRAME_HEADER.size)
            if (marker != FRAME_MARKER or header_crc != _crc(data[:FRAME_HEADER.size])
                    or number != index or length > MAX_PAYLOAD_BYTES):
                raise self._fail("damaged frame header (checksum mismatch)", index)
            if offset + FRAME_HEADER_SIZE + length > size:
                self.truncated_at = index
                break
            self._offsets.append(offset + FRAME_HEADER_SIZE)
            self._lengths.append(length)
            self._crcs.append(payload_crc)
            self.times_s.append(time_us / US_PER_S)
            offset += FRAME_HEADER_SIZE + length

    def __len__(self):
        return len(self._offsets)

    @property
    def duration_s(self):
        return self.times_s[-1] - self.times_s[0] if self.times_s else 0.0

    def read_payload(self, index):
        """The compressed bytes of frame ``index``, checked against their CRC-32."""
        self._file.seek(self._offsets[index])
        payload = self._file.read(self._lengths[index])
        if len(payload) != self._lengths[index] or _crc(payload) != self._crcs[index]:
            raise self._fail("damaged (checksum mismatch)", index)
        return payload

    def _split(self, index):
        """Frame ``index``'s (depth zstd frame, picture bytes) as stored."""
        payload = self.read_payload(index)
        if not self.flags & RecordingFlags.COLOUR:
            return payload, b""
        if len(payload) < DEPTH_LENGTH.size:
            raise self._fail("damaged (no depth length)", index)
        (length,) = DEPTH_LENGTH.unpack_from(payload)
        if length > len(payload) - DEPTH_LENGTH.size:
            raise self._fail("damaged (depth length past the payload)", index)
        end = DEPTH_LENGTH.size + length
        return payload[DEPTH_LENGTH.size:end], payload[end:]

    def read_colour(self, index):
        """The colour picture (480 x 640 x 3 RGB) of frame ``index``, or None (no colour)."""
        picture = self._split(index)[1]
        if not picture:
            return None
        from PIL import Image

        try:
            with Image.open(io.BytesIO(picture)) as image:
                rgb = np.asarray(image.convert("RGB"))
        except OSError as exc:
            raise self._fail(f"colour picture does not decode ({exc})", index) from exc
        if rgb.shape[:2] != self.shape:
            raise self._fail(f"colour picture of {rgb.shape[1]}x{rgb.shape[0]}", index)
        return rgb

    def read(self, index):
        """The depth array (480 x 640 uint16) of frame ``index``."""
        import zstandard

        rows, columns = self.shape
        expected = rows * columns * 2
        try:
            pixels = self._decompressor.decompress(self._split(index)[0], max_output_size=expected)
        except zstandard.ZstdError as exc:
            raise self._fail(f"does not decompress ({exc})", index) from exc
        if len(pixels) != expected:
            raise self._fail(f"{len(pixels)} bytes of pixels, expected {expected}", index)
        return np.frombuffer(pixels, "<u2").reshape(self.shape).astype(np.uint16)

    def verify(self):
        """Check every frame's checksum (reads the whole file, decompresses nothing)."""
        for index in range(len(self)):
            self.read_payload(index)

    def close(self):
        self._file.close()
