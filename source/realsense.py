"""RealSenseSource: an Intel RealSense camera, or a recording of one, through Intel's SDK.

This is the only module that imports ``pyrealsense2`` (PyPI, the ``realsense`` extra), and only
when a RealSenseSource is made. ``--device realsense[:SERIAL]`` opens a camera (the first, or the
one with that serial number) at 640 x 480, depth and colour at 30 frames/s; ``--device rsfile:PATH``
plays a recording the SDK wrote (``rs.recorder``: ROS2 ``.db3`` today, ROS1 ``.bag`` before) at
its recorded pace, through the same SDK.

The SDK aligns the depth to the colour camera (``rs.align``), so a depth pixel and a colour pixel
see the same point, and the colour camera's own intrinsics travel with the frames: the viewer
unprojects with this camera's lens, not a Kinect's. Depth comes in the device's depth units
(``get_depth_scale()`` metres a step) and is handed out in millimetres. A frame of another size is
resampled to 640 x 480 (nearest pixel) with its intrinsics scaled to match.

Reads block, so each runs in a thread (``deferToThread``); the pump waits for it.
"""

import numpy as np
from twisted.internet import threads

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame, DepthUnits
from depthcam.codec.intrinsics import CameraIntrinsics
from depthcam.source.frames import EndOfRecording, FrameSource, SourceUnavailable

SDK_MISSING = (
    "the RealSense SDK is not installed: .venv/bin/pip install '.[realsense]' (pyrealsense2; "
    "INSTALL.md)"
)
NO_CAMERA = "no RealSense camera{which}: plug it into a USB 3 port ({error})"
BAD_FILE = "{path}: the RealSense SDK cannot play it ({error})"
CAMERA_LOST = "the RealSense camera stopped sending frames ({error}): is it still plugged in?"
STREAM_WIDTH, STREAM_HEIGHT, STREAM_FPS = 640, 480, 30
# No frame for this long: the camera is gone (live), or the recording has ended (a file), ms.
READ_TIMEOUT_MS = 3000
MM_PER_METRE = 1000
MAX_MM = 65535


def import_realsense():
    """The ``pyrealsense2`` module, or ``SourceUnavailable`` saying what to install."""
    try:
        import pyrealsense2
    except ImportError as exc:
        raise SourceUnavailable(SDK_MISSING) from exc
    return pyrealsense2


def _nearest(array, rows, columns):
    """``array`` resampled to rows x columns by taking the nearest pixel (depth must not blend)."""
    if array.shape[:2] == (rows, columns):
        return array
    row_index = (np.arange(rows) * array.shape[0] // rows)[:, None]
    column_index = (np.arange(columns) * array.shape[1] // columns)[None, :]
    return array[row_index, column_index]


class RealSenseSource(FrameSource):
    """Depth in millimetres, registered colour and intrinsics from a RealSense, or from a file.

    ``serial`` picks a camera (None: any); ``path`` plays a recording instead (``loop``: again and
    again). ``rs`` is the SDK module (tests may pass one; default: imported now).
    """

    units = DepthUnits.MILLIMETRES
    READ_TIMEOUT_MS = READ_TIMEOUT_MS

    def __init__(self, serial=None, path=None, loop=False, rs=None):
        self._rs = rs if rs is not None else import_realsense()
        self.path = path
        config = self._rs.config()
        if path is not None:
            config.enable_device_from_file(str(path), repeat_playback=loop)
        else:
            if serial is not None:
                config.enable_device(serial)
            config.enable_stream(self._rs.stream.depth, STREAM_WIDTH, STREAM_HEIGHT,
                                 self._rs.format.z16, STREAM_FPS)
            config.enable_stream(self._rs.stream.color, STREAM_WIDTH, STREAM_HEIGHT,
                                 self._rs.format.rgb8, STREAM_FPS)
        self._pipeline = self._rs.pipeline()
        try:
            profile = self._pipeline.start(config)
        except RuntimeError as exc:
            if path is not None:
                raise SourceUnavailable(BAD_FILE.format(path=path, error=exc)) from exc
            which = "" if serial is None else f" with serial {serial}"
            raise SourceUnavailable(NO_CAMERA.format(which=which, error=exc)) from exc
        device = profile.get_device()
        if path is not None:
            # A file plays at the pump's pace, every frame in order, like the other recordings:
            # in real time the SDK drops whatever a busy machine reads late.
            device.as_playback().set_real_time(False)
        self._depth_scale_mm = device.first_depth_sensor().get_depth_scale() * MM_PER_METRE
        streams = {s.stream_type(): s for s in profile.get_streams()}
        self.has_colour = self._rs.stream.color in streams
        self._align = self._rs.align(self._rs.stream.color) if self.has_colour else None
        fps = streams[self._rs.stream.depth].fps()
        self.nominal_fps = float(fps) if fps else float(STREAM_FPS)
        lens_stream = streams[self._rs.stream.color if self.has_colour else self._rs.stream.depth]
        self.intrinsics = self._scaled_intrinsics(lens_stream.as_video_stream_profile().get_intrinsics())
        self._closed = False

    @staticmethod
    def _scaled_intrinsics(lens):
        """The SDK's intrinsics (pixels of its stream) at 640 x 480."""
        scale_x, scale_y = SENSOR_SHAPE[1] / lens.width, SENSOR_SHAPE[0] / lens.height
        return CameraIntrinsics(lens.fx * scale_x, lens.fy * scale_y, (lens.ppx + 0.5) * scale_x - 0.5,
                                (lens.ppy + 0.5) * scale_y - 0.5)

    def next_frame(self):
        return threads.deferToThread(self._read)

    def _read(self):
        """One aligned (depth, colour) pair from the SDK, as a DepthFrame (runs in a thread)."""
        from twisted.python import runtime

        try:
            ok, frames = self._pipeline.try_wait_for_frames(self.READ_TIMEOUT_MS)
        except RuntimeError as exc:
            ok, frames, error = False, None, exc
        else:
            error = f"no frame for {self.READ_TIMEOUT_MS / 1000:g} s"
        if self._closed:
            return None
        if not ok:
            if self.path is not None:
                raise EndOfRecording(f"end of recording {self.path} (--loop repeats it)")
            raise SourceUnavailable(CAMERA_LOST.format(error=error))
        if self._align is not None:
            frames = self._align.process(frames)
        depth_frame = frames.get_depth_frame()
        if not depth_frame:
            return None
        depth = np.asanyarray(depth_frame.get_data())
        if self._depth_scale_mm != 1:
            depth = np.clip(np.rint(depth * self._depth_scale_mm), 0, MAX_MM)
        depth = _nearest(depth.astype(np.uint16), *SENSOR_SHAPE)
        colour = None
        colour_frame = frames.get_color_frame() if self.has_colour else None
        if colour_frame:
            colour = _nearest(self._as_rgb(colour_frame), *SENSOR_SHAPE)
        return DepthFrame(np.ascontiguousarray(depth), self.units, runtime.seconds(),
                          None if colour is None else np.ascontiguousarray(colour), self.intrinsics)

    def _as_rgb(self, colour_frame):
        """The picture as rows x columns x 3 RGB, whatever order the camera or file gives."""
        rs = self._rs
        pixels = np.asanyarray(colour_frame.get_data())
        pixel_format = colour_frame.profile.format()
        if pixel_format in (rs.format.rgb8, rs.format.rgba8):
            return pixels[..., :3]
        if pixel_format in (rs.format.bgr8, rs.format.bgra8):
            return pixels[..., 2::-1]
        raise SourceUnavailable(f"colour in {pixel_format} is not supported (rgb8, bgr8, rgba8, bgra8)")

    def close(self):
        if not self._closed:
            self._closed = True
            self._pipeline.stop()
