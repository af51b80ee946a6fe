"""KinectSource: a Kinect v1's depth (and colour) stream through libfreenect's Python bindings.

This is the only module that imports ``freenect`` (PyPI ``freenect``, built against
libfreenect; the ``kinect`` extra), and only when a KinectSource is made, so nothing else needs it.

How frames travel: libfreenect_sync runs its own USB runloop thread; ``sync_get_depth`` blocks
until the next frame and hands out a buffer libfreenect reuses. One daemon thread of ours calls it
in a loop, copies each buffer, and passes the copy to the reactor with ``callFromThread``. It is a
thread of its own rather than ``deferToThread``: when a device goes away a read can block for
ever, and a stuck pool thread would keep the program from exiting. ``next_frame`` returns the
newest frame not handed out yet, or a Deferred of the next one; a frame the pump is too slow for
is dropped, as a live camera's should be.

Failures are one line each (``SourceUnavailable``), never a traceback: the bindings or the library
missing, no device at the index (the bindings print to stdout and return None; we silence that
while opening), the device gone while running (a read returns None, or no frame comes for
``READ_TIMEOUT_S``). With ``retry`` the source keeps trying instead, every ``RETRY_INTERVAL_S``.

Colour: with ``colour`` the reader takes a picture (``sync_get_video``, RGB) before each depth
frame, and asks for the depth as ``DEPTH_REGISTERED``: millimetres that libfreenect has moved onto
the colour camera's pixels (with the device's factory registration tables), so a pixel of depth
and of colour see the same point; the frames carry the colour camera's intrinsics. Debian's
libfreenect 0.5 cannot register in its fakenect stand-in (it knows only 11-bit depth), so
``registered=False`` keeps the raw 11-bit depth beside the picture, unregistered: the picture is
then off by the 2.5 cm between the two cameras, and no intrinsics are sent.
"""

import contextlib
import os
import sys
import threading

import numpy as np
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python import runtime

from depthcam.codec.frame import DepthFrame, DepthUnits
from depthcam.codec.intrinsics import CameraIntrinsics
from depthcam.source.frames import FrameSource, SourceUnavailable

KINECT_FPS = 30.0
# No frame for this long means the device is gone (libfreenect may block instead of failing).
READ_TIMEOUT_S = 3.0
RETRY_INTERVAL_S = 1.0
# The Kinect's motor moves between these angles (libfreenect clamps to them too).
MIN_TILT_DEG = -30.0
MAX_TILT_DEG = 30.0

BINDINGS_MISSING = (
    "the freenect Python bindings are not installed: apt-get install libfreenect-dev "
    "(macOS: brew install libfreenect), then .venv/bin/pip install '.[kinect]' (INSTALL.md)"
)
LIBRARY_BROKEN = (
    "libfreenect cannot be loaded ({error}): apt-get install libfreenect-dev, then reinstall "
    "the bindings with .venv/bin/pip install --force-reinstall freenect (INSTALL.md)"
)
NO_DEVICE = (
    "no Kinect at index {index}: plug it into USB and into its mains adapter, check that "
    "`lsusb` lists 'Xbox NUI Camera', and that you may use it (INSTALL.md, udev rule)"
)
DEVICE_LOST = "the Kinect at index {index} stopped sending frames ({why}): is it still plugged in?"
# The Kinect v1 colour camera at 640 x 480 (the usual published calibration, as TUM RGB-D uses),
# the camera DEPTH_REGISTERED depth is moved onto.
KINECT_COLOUR_INTRINSICS = CameraIntrinsics(525.0, 525.0, 319.5, 239.5)

log = Logger(namespace="depthcam.source.kinect")


def import_freenect():
    """The ``freenect`` module, or ``SourceUnavailable`` saying what to install."""
    try:
        import freenect
    except ModuleNotFoundError as exc:
        if exc.name != "freenect":
            raise SourceUnavailable(LIBRARY_BROKEN.format(error=exc)) from exc
        raise SourceUnavailable(BINDINGS_MISSING) from exc
    except ImportError as exc:  # the module is there, libfreenect*.so is not (or lacks a symbol)
        raise SourceUnavailable(LIBRARY_BROKEN.format(error=exc)) from exc
    return freenect


@contextlib.contextmanager
def c_output_silenced():
    """Send what C code writes to stdout and stderr to /dev/null while the block runs.

    libfreenect prints its own messages ("Error: Invalid index [0]" ...) when a device is missing;
    our one line says it better. Only for use before the reactor runs: it silences every thread.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


class KinectSource(FrameSource):
    """Depth frames (640 x 480, 30 Hz) from the Kinect at ``index``, with colour if ``colour``.

    Raw 11-bit disparity without colour; with it, registered millimetres (or raw disparity beside
    an unregistered picture when not ``registered``; see the module's docstring). Opening checks
    the device at once (``SourceUnavailable`` if it is not there, unless ``retry``); ``tilt_deg``
    moves the motor first. ``reactor`` receives the frames.
    """

    nominal_fps = KINECT_FPS
    READ_TIMEOUT_S = READ_TIMEOUT_S
    RETRY_INTERVAL_S = RETRY_INTERVAL_S

    def __init__(self, index=0, tilt_deg=None, retry=False, reactor=None, freenect=None,
                 colour=False, registered=True):
        if reactor is None:
            from twisted.internet import reactor
        self.index = index
        self.retry = retry
        self.colour = colour
        self._reactor = reactor
        self._freenect = freenect if freenect is not None else import_freenect()
        self._registered = colour and registered
        self.units = DepthUnits.MILLIMETRES if self._registered else DepthUnits.RAW_DISPARITY
        self.intrinsics = KINECT_COLOUR_INTRINSICS if self._registered else None
        self._depth_format = (self._freenect.DEPTH_REGISTERED if self._registered
                              else self._freenect.DEPTH_11BIT)
        self._latest = None  # the newest frame not handed out yet
        self._waiting = None  # next_frame's Deferred while no frame is ready
        self._failure = None  # a SourceUnavailable for the next next_frame
        self._closing = threading.Event()
        with c_output_silenced():
            opened = self._open(tilt_deg)
        if not opened:
            message = NO_DEVICE.format(index=index)
            if not retry:
                raise SourceUnavailable(message)
            log.warn("{message}; retrying every {interval} s", message=message,
                     interval=self.RETRY_INTERVAL_S)
        self._thread = threading.Thread(target=self._read_frames, name="kinect-depth", daemon=True)
        self._thread.start()

    def _open(self, tilt_deg):
        """Tilt the device (if asked), then read one frame: whether the device is there."""
        freenect = self._freenect
        if tilt_deg is not None:
            context = freenect.init()
            device = freenect.open_device(context, self.index) if context is not None else None
            if device is None:  # the bindings crash on a None device: never pass one on
                if context is not None:
                    freenect.shutdown(context)
                return False
            freenect.set_tilt_degs(device, max(MIN_TILT_DEG, min(MAX_TILT_DEG, tilt_deg)))
            freenect.close_device(device)
            freenect.shutdown(context)
        return self._read() is not None

    def _read(self):
        """One (depth, colour or None) pair of copies, or None when the device gave nothing.

        The bindings' arrays wrap libfreenect's buffers, which the next frame overwrites.
        """
        colour = None
        if self.colour:
            video = self._freenect.sync_get_video(self.index, self._freenect.VIDEO_RGB)
            if video is None:
                return None
            colour = np.array(video[0], dtype=np.uint8, copy=True)
        result = self._freenect.sync_get_depth(self.index, self._depth_format)
        if result is None:
            return None
        return np.array(result[0], dtype=np.uint16, copy=True), colour

    def _read_frames(self):
        """The reader thread: read, copy, hand to the reactor; until closed or the device is gone."""
        while not self._closing.is_set():
            result = self._read()
            if self._closing.is_set():
                return
            if result is None:
                self._reactor.callFromThread(self._lost, "libfreenect returned no frame")
                if not self.retry:
                    return
                self._freenect.sync_stop()  # so the next read opens the device afresh
                self._closing.wait(self.RETRY_INTERVAL_S)
                continue
            depth, colour = result
            self._reactor.callFromThread(self._arrived, depth, colour, runtime.seconds())

    def _arrived(self, depth, colour, captured_at):
        frame = DepthFrame(depth, self.units, captured_at, colour, self.intrinsics)
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            waiting.callback(frame)
        else:
            self._latest = frame

    def _lost(self, why):
        message = DEVICE_LOST.format(index=self.index, why=why)
        if self.retry:
            log.warn("{message}; retrying every {interval} s", message=message,
                     interval=self.RETRY_INTERVAL_S)
            return
        self._failure = SourceUnavailable(message)
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            waiting.errback(self._failure)

    def next_frame(self):
        if self._failure is not None:
            return defer.fail(self._failure)
        if self._latest is not None:
            frame, self._latest = self._latest, None
            return frame
        self._waiting = defer.Deferred(lambda _: setattr(self, "_waiting", None))
        # Retrying, a timeout is only a tick without a frame (None); else the device is gone.
        on_timeout = (lambda *_: None) if self.retry else self._timed_out
        return self._waiting.addTimeout(self.READ_TIMEOUT_S, self._reactor,
                                        onTimeoutCancel=on_timeout)

    def _timed_out(self, result, timeout):
        self._failure = SourceUnavailable(
            DEVICE_LOST.format(index=self.index, why=f"no frame for {timeout:g} s"))
        raise self._failure

    def close(self):
        """Stop reading. A read in progress is answered with None (no frame), not an error, so
        shutting down logs nothing; libfreenect's own thread ends with the process."""
        self._closing.set()
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            waiting.callback(None)
