"""The FrameSource interface: what the pump asks of a depth camera, a recording or a scene.

A source hands out one ``DepthFrame`` per call to ``next_frame``. A source whose read blocks (a
USB device, a file on a slow disk) returns a Deferred from ``deferToThread`` instead, and the
pump's LoopingCall waits for it, so a slow device slows the pump rather than stacking up reads.

A source tells the pump two more things: that it is done (``next_frame`` raises ``SourceEnded``:
the end of a recording, a device that is gone; the pump stops and the program exits with one
line), and that a frame does not follow from the one before (it hands out a
``DiscontinuousFrame``, say at a loop's seam; the pump asks the encoder for a keyframe).
"""

import abc
from dataclasses import dataclass

from depthcam.codec.frame import SENSOR_SHAPE, DepthFrame


class FrameSource(abc.ABC):
    """Delivers depth frames one at a time.

    Every source declares:

    - ``units``: the ``DepthUnits`` of its frames' ``depth`` arrays;
    - ``shape``: (rows, columns) of those arrays (the sensor's 480 x 640 today);
    - ``nominal_fps``: the frames per second it delivers at, which the pump uses unless told
      otherwise.
    """

    units = None
    shape = SENSOR_SHAPE
    nominal_fps = None

    @abc.abstractmethod
    def next_frame(self):
        """The next ``DepthFrame``, a Deferred that fires with it, or None if none is ready yet.

        The pump skips a tick that gets None, so a device that has delivered nothing new since
        the last call need not repeat a frame. An exception (or a failed Deferred) costs that
        one frame only.
        """

    def close(self):
        """Release the device or file behind the source. Sources that hold nothing keep this."""


class SourceEnded(Exception):
    """Raised by ``next_frame`` (or by opening a source) when it will deliver no more frames.

    The pump stops on it instead of skipping a frame; the program then prints ``str(exc)`` as
    its one line and exits with ``exit_status``.
    """

    exit_status = 0


class EndOfRecording(SourceEnded):
    """A recording played to its end, without ``--loop``."""


class SourceUnavailable(SourceEnded):
    """The device or file cannot be read (missing, unplugged, corrupt); the message says how to fix it."""

    exit_status = 1


@dataclass(frozen=True)
class DiscontinuousFrame(DepthFrame):
    """A frame that does not follow from the one before it (say, the first one after a loop's seam).

    The pump asks the encoder for a keyframe before encoding it, so no delta spans the jump.
    """

    @classmethod
    def from_frame(cls, frame):
        return cls(frame.depth, frame.units, frame.captured_at, frame.colour, frame.intrinsics)
