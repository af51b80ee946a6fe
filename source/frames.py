"""The FrameSource interface: what the pump asks of a depth camera, a recording or a scene.

A source hands out one ``DepthFrame`` per call to ``next_frame``. A source whose read blocks (a
USB device, a file on a slow disk) returns a Deferred from ``deferToThread`` instead, and the
pump's LoopingCall waits for it, so a slow device slows the pump rather than stacking up reads.
"""

import abc

from depthcam.codec.frame import SENSOR_SHAPE


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
