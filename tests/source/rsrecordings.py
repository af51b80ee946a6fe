"""RealSense recordings made by the real SDK (``rs.software_device`` + ``rs.recorder``) from the
shared 7-Scenes frames, for the tests that play them back through ``--device rsfile:``."""

import gc
import importlib.util

import numpy as np
import pytest

from depthcam.source.recordings import PngFolder
from tests.conftest import recording_path

# 7-Scenes' camera, as the recording's depth and colour streams declare it.
FX = FY = 585.0
PPX, PPY = 320.0, 240.0
WIDTH, HEIGHT, FPS = 640, 480, 30
DEPTH_UNITS_M = 0.001


def require_sdk():
    """The ``pyrealsense2`` module, or skip (pip install '.[realsense]')."""
    if importlib.util.find_spec("pyrealsense2") is None:
        pytest.skip("the RealSense SDK is not installed (pip install '.[realsense]')")
    import pyrealsense2

    return pyrealsense2


def _intrinsics(rs):
    lens = rs.intrinsics()
    lens.width, lens.height = WIDTH, HEIGHT
    lens.fx, lens.fy, lens.ppx, lens.ppy = FX, FY, PPX, PPY
    lens.model = rs.distortion.none
    lens.coeffs = [0.0] * 5
    return lens


def _stream(rs, kind, uid, bytes_per_pixel, pixel_format):
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = kind, 0, uid
    stream.width, stream.height, stream.fps = WIDTH, HEIGHT, FPS
    stream.bpp, stream.fmt = bytes_per_pixel, pixel_format
    stream.intrinsics = _intrinsics(rs)
    return stream


def make_recording(path, count):
    """Record ``count`` 7-Scenes frames (depth mm and colour) to ``path`` (.db3) through the SDK's
    software device; returns their (depth, colour) arrays."""
    rs = require_sdk()
    folder = PngFolder(recording_path("7scenes-redkitchen"))
    device = rs.software_device()
    depth_sensor, colour_sensor = device.add_sensor("Depth"), device.add_sensor("Color")
    depth_profile = depth_sensor.add_video_stream(_stream(rs, rs.stream.depth, 0, 2, rs.format.z16))
    colour_profile = colour_sensor.add_video_stream(_stream(rs, rs.stream.color, 1, 3, rs.format.rgb8))
    depth_sensor.add_read_only_option(rs.option.depth_units, DEPTH_UNITS_M)
    same_place = rs.extrinsics()
    same_place.rotation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    same_place.translation = [0.0, 0.0, 0.0]
    depth_profile.register_extrinsics_to(colour_profile, same_place)
    recorder = rs.recorder(str(path), device)
    depth_sensor.open(depth_profile)
    colour_sensor.open(colour_profile)
    delivered = rs.frame_queue(2 * count)
    depth_sensor.start(delivered)
    colour_sensor.start(delivered)
    frames, alive = [], []
    for index in range(count):
        depth, colour = folder.read(index), np.ascontiguousarray(folder.read_colour(index))
        frames.append((depth, colour))
        for sensor, profile, pixels, size in ((depth_sensor, depth_profile, depth, 2),
                                               (colour_sensor, colour_profile, colour, 3)):
            frame = rs.software_video_frame()
            frame.pixels = pixels
            alive.append(pixels)  # the SDK keeps a pointer until the frame is written
            frame.stride, frame.bpp = WIDTH * size, size
            frame.timestamp = index * 1000 / FPS
            frame.domain = rs.timestamp_domain.hardware_clock
            frame.frame_number = index
            frame.profile = profile.as_video_stream_profile()
            sensor.on_video_frame(frame)
        delivered.wait_for_frame(5000)
        delivered.wait_for_frame(5000)
    for sensor in (depth_sensor, colour_sensor):
        sensor.stop()
        sensor.close()
    # The file is complete once the recorder and the device it wraps are gone.
    del recorder, device, depth_sensor, colour_sensor, depth_profile, colour_profile, delivered
    gc.collect()
    return frames
