"""Reading recorded depth video from folders: libfreenect dumps and 16-bit depth PNGs.

Two layouts, as in ``../shared/data/``:

- fakenect dump (libfreenect's ``fakenect-record``): ``d-<host_time_s>-<device_ts>.pgm`` files,
  a ``P5 640 480 65535`` header then 640 x 480 uint16 raw disparity in **little-endian** order
  (against the PGM spec: libfreenect writes the buffer in host order). Timestamps from the name.
- PNG folder: 16-bit greyscale PNGs, ``depth_scale`` units per metre (1000 = mm); 0 and 65535
  mean no reading. No timestamps: frames are spaced at 30 Hz. A TUM RGB-D folder is recognised by
  its ``depth.txt`` (``timestamp path`` lines, ``#`` comments): its PNGs are read in that order,
  at TUM's scale of 5000 units per metre, with its timestamps.

Each layout is a *recording*: ``units``, ``len()``, ``times_s`` (capture times in seconds, on the
recording's own clock) and ``read(index)`` (the depth array of one frame, read from disk only
then). ``container.RecordingReader`` is one too. ``recording.RecordingPlayer`` plays any of them.
"""

import re
from pathlib import Path

import numpy as np

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits

FAKENECT_NAME = re.compile(r"^d-(?P<host_time>\d+(?:\.\d+)?)-(?P<device_time>\d+)\.pgm$")
PNG_FRAME_INTERVAL_S = 1 / 30
MM_PER_METRE = 1000
TUM_DEPTH_SCALE = 5000  # TUM RGB-D's depth PNGs: 5000 units per metre (0.2 mm)
TUM_INDEX = "depth.txt"
PNG_NO_READING = 65535


class RecordingError(Exception):
    """A recording folder or file that cannot be read; the message names the file."""


def _read_fakenect_pgm(path):
    data = Path(path).read_bytes()
    header_end = 0
    for _ in range(4):  # "P5", width, height, maxval, each ended by whitespace
        while data[header_end:header_end + 1].isspace():
            header_end += 1
        while header_end < len(data) and not data[header_end:header_end + 1].isspace():
            header_end += 1
    fields = data[:header_end].split()
    if fields != [b"P5", b"640", b"480", b"65535"]:
        raise RecordingError(f"{path}: not a 640x480 16-bit fakenect depth dump")
    pixels = data[header_end + 1:]
    expected = SENSOR_SHAPE[0] * SENSOR_SHAPE[1] * 2
    if len(pixels) != expected:
        raise RecordingError(f"{path}: {len(pixels)} bytes of pixels, expected {expected}")
    return np.frombuffer(pixels, "<u2").reshape(SENSOR_SHAPE).copy()


def _read_png_mm(path, depth_scale):
    """One 16-bit depth PNG as millimetres (uint16, 0 = no reading)."""
    from PIL import Image  # only PNG recordings need Pillow

    try:
        with Image.open(path) as image:
            depth = np.asarray(image)
    except OSError as exc:
        raise RecordingError(f"{path}: not a readable PNG ({exc})") from exc
    if depth.shape != SENSOR_SHAPE or depth.dtype != np.uint16:
        raise RecordingError(f"{path}: {depth.shape} {depth.dtype}, expected a 640x480 16-bit PNG")
    if depth_scale == MM_PER_METRE:
        return np.where(depth == PNG_NO_READING, 0, depth).astype(np.uint16)
    mm = np.where(depth == PNG_NO_READING, 0, depth.astype(np.float64) * (MM_PER_METRE / depth_scale))
    return np.rint(np.clip(mm, 0, PNG_NO_READING - 1)).astype(np.uint16)


class FakenectDump:
    """A fakenect dump folder as a recording (raw disparity, the host times in the file names)."""

    units = DepthUnits.RAW_DISPARITY

    def __init__(self, folder):
        self.path = Path(folder)
        named = sorted(
            (float(match["host_time"]), path)
            for path in _listing(self.path)
            if (match := FAKENECT_NAME.match(path.name))
        )
        if not named:
            raise RecordingError(f"{self.path}: no d-*.pgm fakenect depth dumps")
        self.times_s = [host_time for host_time, _ in named]
        self._paths = [path for _, path in named]

    def __len__(self):
        return len(self._paths)

    def read(self, index):
        return _read_fakenect_pgm(self._paths[index])


class PngFolder:
    """A folder of 16-bit depth PNGs as a recording (millimetres).

    ``depth_scale`` is in PNG units per metre; None means 1000, or 5000 for a TUM folder.
    """

    units = DepthUnits.MILLIMETRES

    def __init__(self, folder, depth_scale=None):
        self.path = Path(folder)
        index = self.path / TUM_INDEX
        if index.is_file():
            self.times_s, self._paths = _read_tum_index(index)
            default_scale = TUM_DEPTH_SCALE
        else:
            self._paths = sorted(path for path in _listing(self.path) if path.suffix == ".png")
            if not self._paths:
                raise RecordingError(f"{self.path}: no .png depth images")
            self.times_s = [i * PNG_FRAME_INTERVAL_S for i in range(len(self._paths))]
            default_scale = MM_PER_METRE
        self.depth_scale = depth_scale if depth_scale is not None else default_scale
        if not self.depth_scale > 0:
            raise RecordingError(f"{self.path}: depth scale must be positive, got {depth_scale}")

    def __len__(self):
        return len(self._paths)

    def read(self, index):
        return _read_png_mm(self._paths[index], self.depth_scale)


def _listing(folder):
    try:
        return list(Path(folder).iterdir())
    except OSError as exc:
        raise RecordingError(f"{folder}: cannot list it ({exc.strerror})") from exc


def _read_tum_index(index):
    """(times, paths) from a TUM ``depth.txt``: ``timestamp path`` lines, ``#`` starts a comment."""
    times, paths = [], []
    for number, line in enumerate(index.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        try:
            times.append(float(fields[0]))
            paths.append(index.parent / fields[1])
        except (ValueError, IndexError) as exc:
            raise RecordingError(f"{index}:{number}: expected `timestamp path`") from exc
    if not paths:
        raise RecordingError(f"{index}: lists no depth images")
    return times, paths


def open_recording_dir(folder, depth_scale=None):
    """The recording in a folder of either layout, told apart by its files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RecordingError(f"{folder}: no such folder")
    if any(FAKENECT_NAME.match(path.name) for path in _listing(folder)):
        return FakenectDump(folder)
    return PngFolder(folder, depth_scale)


def read_all(recording):
    """Every frame of a recording as DepthFrames stamped with its own times (loads them all)."""
    return [
        DepthFrame(recording.read(index), recording.units, recording.times_s[index])
        for index in range(len(recording))
    ]


def read_recording_dir(folder):
    """The frames of a folder in either layout, told apart by its files."""
    return read_all(open_recording_dir(folder))
