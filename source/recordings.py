"""Reading recorded depth video from folders: libfreenect dumps and 16-bit depth PNGs.

Two layouts, as in ``../shared/data/``:

- fakenect dump (libfreenect's ``fakenect-record``): ``d-<host_time_s>-<device_ts>.pgm`` files,
  a ``P5 640 480 65535`` header then 640 x 480 uint16 raw disparity in **little-endian** order
  (against the PGM spec: libfreenect writes the buffer in host order). Timestamps from the name.
- PNG folder: 16-bit greyscale PNGs, ``depth_scale`` units per metre (1000 = mm); 0 and 65535
  mean no reading. No timestamps: frames are spaced at 30 Hz. A TUM RGB-D folder is recognised by
  its ``depth.txt`` (``timestamp path`` lines, ``#`` comments): its PNGs are read in that order,
  at TUM's scale of 5000 units per metre, with its timestamps.

PNG folders may have colour, registered to the depth: 7-Scenes puts ``frame-N.color.jpg`` (or
``.color.png``) beside each ``frame-N.depth.png``; a TUM folder lists its pictures in ``rgb.txt``,
and each depth frame takes the picture nearest in time (within ``TUM_MAX_COLOUR_GAP_S``, as TUM's
own ``associate.py``). A ``camera-intrinsics.txt`` (a 3 x 3 matrix, as 7-Scenes has) gives the
camera's intrinsics.

Each layout is a *recording*: ``units``, ``len()``, ``times_s`` (capture times in seconds, on the
recording's own clock) and ``read(index)`` (the depth array of one frame, read from disk only
then); ``intrinsics`` (a ``CameraIntrinsics`` or None) and ``read_colour(index)`` (480 x 640 x 3
RGB, or None for a frame without colour). ``container.RecordingReader`` is one too.
``recording.RecordingPlayer`` plays any of them.
"""

import re
from pathlib import Path

import numpy as np

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits
from depthcam.codec.intrinsics import CameraIntrinsics

FAKENECT_NAME = re.compile(r"^d-(?P<host_time>\d+(?:\.\d+)?)-(?P<device_time>\d+)\.pgm$")
PNG_FRAME_INTERVAL_S = 1 / 30
MM_PER_METRE = 1000
TUM_DEPTH_SCALE = 5000  # TUM RGB-D's depth PNGs: 5000 units per metre (0.2 mm)
TUM_INDEX = "depth.txt"
TUM_COLOUR_INDEX = "rgb.txt"
# TUM's associate.py pairs a depth and a colour picture at most this far apart in time, s.
TUM_MAX_COLOUR_GAP_S = 0.02
PNG_NO_READING = 65535
SEVEN_SCENES_DEPTH = ".depth.png"
SEVEN_SCENES_COLOURS = (".color.jpg", ".color.png")
INTRINSICS_FILE = "camera-intrinsics.txt"


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


def _read_colour(path):
    """One colour picture as 480 x 640 x 3 RGB uint8."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise RecordingError(f"{path}: not a readable picture ({exc})") from exc
    if rgb.shape[:2] != SENSOR_SHAPE:
        raise RecordingError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]}, expected a 640x480 picture")
    return rgb


def _read_intrinsics(path):
    """The CameraIntrinsics of a ``camera-intrinsics.txt`` (3 x 3 matrix, at 640 x 480), or None."""
    if not path.is_file():
        return None
    try:
        matrix = np.loadtxt(path)
    except ValueError as exc:
        raise RecordingError(f"{path}: not a 3 x 3 matrix ({exc})") from exc
    if matrix.shape != (3, 3) or not matrix[0, 0] > 0 or not matrix[1, 1] > 0:
        raise RecordingError(f"{path}: not a 3 x 3 camera matrix with positive focal lengths")
    return CameraIntrinsics(float(matrix[0, 0]), float(matrix[1, 1]), float(matrix[0, 2]),
                            float(matrix[1, 2]))


class FakenectDump:
    """A fakenect dump folder as a recording (raw disparity, the host times in the file names)."""

    units = DepthUnits.RAW_DISPARITY
    intrinsics = None

    def read_colour(self, index):
        """Depth dumps of ours hold no colour (fakenect replays it through --device kinect)."""
        return None

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
            self._colour_paths = _tum_colour_paths(self.path / TUM_COLOUR_INDEX, self.times_s)
            default_scale = TUM_DEPTH_SCALE
        else:
            self._paths = sorted(path for path in _listing(self.path) if path.suffix == ".png"
                                 and not path.name.endswith(SEVEN_SCENES_COLOURS))
            if not self._paths:
                raise RecordingError(f"{self.path}: no .png depth images")
            self.times_s = [i * PNG_FRAME_INTERVAL_S for i in range(len(self._paths))]
            self._colour_paths = [_seven_scenes_colour(path) for path in self._paths]
            default_scale = MM_PER_METRE
        self.intrinsics = _read_intrinsics(self.path / INTRINSICS_FILE)
        self.depth_scale = depth_scale if depth_scale is not None else default_scale
        if not self.depth_scale > 0:
            raise RecordingError(f"{self.path}: depth scale must be positive, got {depth_scale}")

    def __len__(self):
        return len(self._paths)

    def read(self, index):
        return _read_png_mm(self._paths[index], self.depth_scale)

    @property
    def has_colour(self):
        return any(path is not None for path in self._colour_paths)

    def read_colour(self, index):
        path = self._colour_paths[index]
        return None if path is None else _read_colour(path)


def _seven_scenes_colour(depth_path):
    """The colour picture beside a 7-Scenes ``frame-N.depth.png``, or None."""
    if not depth_path.name.endswith(SEVEN_SCENES_DEPTH):
        return None
    stem = depth_path.name[:-len(SEVEN_SCENES_DEPTH)]
    for suffix in SEVEN_SCENES_COLOURS:
        if (candidate := depth_path.with_name(stem + suffix)).is_file():
            return candidate
    return None


def _tum_colour_paths(index, depth_times):
    """For each depth time, the path of the picture of ``rgb.txt`` nearest in time, or None."""
    if not index.is_file():
        return [None] * len(depth_times)
    times, paths = _read_tum_index(index)
    order = np.argsort(times)
    times = np.asarray(times)[order]
    paths = [paths[i] for i in order]
    matched = []
    for depth_time in depth_times:
        at = int(np.searchsorted(times, depth_time))
        nearest = min((i for i in (at - 1, at) if 0 <= i < len(times)),
                      key=lambda i: abs(times[i] - depth_time))
        matched.append(paths[nearest] if abs(times[nearest] - depth_time) <= TUM_MAX_COLOUR_GAP_S else None)
    return matched


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
        raise RecordingError(f"{index}: lists no images")
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
        DepthFrame(recording.read(index), recording.units, recording.times_s[index],
                   recording.read_colour(index), recording.intrinsics)
        for index in range(len(recording))
    ]


def read_recording_dir(folder):
    """The frames of a folder in either layout, told apart by its files."""
    return read_all(open_recording_dir(folder))
