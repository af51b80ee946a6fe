"""Reading recorded depth video from disk: libfreenect dumps and folders of 16-bit depth PNGs.

Two layouts, as in ``../shared/data/``:

- fakenect dump (libfreenect's ``fakenect-record``): ``d-<host_time_s>-<device_ts>.pgm`` files,
  a ``P5 640 480 65535`` header then 640 x 480 uint16 raw disparity in **little-endian** order
  (against the PGM spec: libfreenect writes the buffer in host order). Timestamps from the name.
- PNG folder: 16-bit greyscale PNGs, ``depth_scale`` units per metre (1000 = mm, TUM RGB-D
  uses 5000); 0 and 65535 mean no reading. No timestamps: frames are spaced at 30 Hz.
"""

import re
from pathlib import Path

import numpy as np

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits

FAKENECT_NAME = re.compile(r"^d-(?P<host_time>\d+(?:\.\d+)?)-(?P<device_time>\d+)\.pgm$")
PNG_FRAME_INTERVAL_S = 1 / 30
MM_PER_METRE = 1000


class RecordingError(Exception):
    """A recording folder or file that cannot be read; the message names the file."""


def _read_fakenect_pgm(path):
    data = path.read_bytes()
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


def read_fakenect_dir(folder):
    """DepthFrames (raw disparity) of a fakenect dump folder, in capture order."""
    folder = Path(folder)
    named = sorted(
        (float(match["host_time"]), path)
        for path in folder.iterdir()
        if (match := FAKENECT_NAME.match(path.name))
    )
    if not named:
        raise RecordingError(f"{folder}: no d-*.pgm fakenect depth dumps")
    return [
        DepthFrame(_read_fakenect_pgm(path), DepthUnits.RAW_DISPARITY, host_time)
        for host_time, path in named
    ]


def read_png_dir(folder, depth_scale=MM_PER_METRE, start_time=0.0):
    """DepthFrames (millimetres) of a folder of 16-bit depth PNGs, in file-name order."""
    from PIL import Image  # only PNG recordings need Pillow

    folder = Path(folder)
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise RecordingError(f"{folder}: no .png depth images")
    frames = []
    for index, path in enumerate(paths):
        with Image.open(path) as image:
            depth = np.asarray(image)
        if depth.shape != SENSOR_SHAPE or depth.dtype != np.uint16:
            raise RecordingError(f"{path}: {depth.shape} {depth.dtype}, expected a 640x480 16-bit PNG")
        mm = np.where(depth == 65535, 0, depth.astype(np.float64) * (MM_PER_METRE / depth_scale))
        frames.append(DepthFrame(
            np.rint(np.clip(mm, 0, 65534)).astype(np.uint16),
            DepthUnits.MILLIMETRES,
            start_time + index * PNG_FRAME_INTERVAL_S,
        ))
    return frames


def read_recording_dir(folder):
    """The frames of a folder in either layout, told apart by its files."""
    folder = Path(folder)
    if any(FAKENECT_NAME.match(path.name) for path in folder.iterdir()):
        return read_fakenect_dir(folder)
    return read_png_dir(folder)
