"""RecordingPlayer: a FrameSource that plays a recording at its recorded timing.

A recording is a fakenect dump, a PNG folder (``recordings.py``) or a depthcam recording file
(``container.py``). Frame ``i`` is handed out ``times_s[i] - times_s[0]`` seconds after playback
started, never earlier. Asked for late (a pump slower than the recording, a slow disk), the player
skips to the newest frame that is due, as a live camera would; with ``every_frame`` it hands out
every frame in turn instead, however late (``depthcam-record`` copies recordings that way).

Capture times: each frame is stamped with the clock's "now" when it is handed out, not with the
time in the recording, so the header's ``capture_time_us`` and the latency a viewer measures from
it mean what they mean for a live camera. The recorded times only set the spacing.

With ``loop`` the recording starts over after its last frame, one typical frame interval later
(its median spacing), and the first frame of each new lap is a ``DiscontinuousFrame`` so the pump
sends a keyframe at the seam. Without it, the frame after the last raises ``EndOfRecording``.
"""

import statistics

from twisted.internet import defer, task, threads
from twisted.logger import Logger

from depthcam.codec.frame import DepthFrame
from depthcam.source.frames import (
    DiscontinuousFrame,
    EndOfRecording,
    FrameSource,
    SourceUnavailable,
)
from depthcam.source.recordings import PNG_FRAME_INTERVAL_S, FakenectDump, PngFolder, RecordingError

log = Logger(namespace="depthcam.source.recording")


def _blocking_in_thread(function, *args):
    return threads.deferToThread(function, *args)


class RecordingPlayer(FrameSource):
    """Plays ``recording`` (anything with ``units``, ``times_s``, ``len()`` and ``read(i)``).

    ``clock`` has ``seconds()`` and ``callLater`` (the reactor by default, ``task.Clock`` in
    tests); ``run_blocking(function, *args)`` returns a Deferred of the call's result and reads
    from disk (a thread by default; tests pass ``defer.maybeDeferred``). ``name`` goes in messages.
    """

    def __init__(self, recording, name, loop=False, clock=None, run_blocking=_blocking_in_thread,
                 every_frame=False):
        if clock is None:
            from twisted.internet import reactor as clock
        if len(recording) == 0:
            raise SourceUnavailable(f"{name}: the recording holds no whole frame")
        self.recording = recording
        self.name = name
        self.loop = loop
        self.every_frame = every_frame
        self.units = recording.units
        self._clock = clock
        self._run_blocking = run_blocking
        times = list(recording.times_s)
        self._offsets_s = [t - times[0] for t in times]
        steps = [b - a for a, b in zip(times, times[1:]) if b > a]
        self.frame_interval_s = statistics.median(steps) if steps else PNG_FRAME_INTERVAL_S
        self.lap_s = self._offsets_s[-1] + self.frame_interval_s
        self.nominal_fps = 1 / self.frame_interval_s
        self._next = 0
        self._lap = 0
        self._seam = False  # the next frame handed out is the first of a new lap
        self._started_s = None

    def _due_s(self, index):
        return self._started_s + self._lap * self.lap_s + self._offsets_s[index]

    def next_frame(self):
        now_s = self._clock.seconds()
        if self._started_s is None:
            self._started_s = now_s
        if self._next == len(self.recording):
            if not self.loop:
                return defer.fail(EndOfRecording(f"end of recording {self.name} (--loop repeats it)"))
            self._next, self._lap, self._seam = 0, self._lap + 1, True
        if not self.every_frame:
            while self._next + 1 < len(self.recording) and self._due_s(self._next + 1) <= now_s:
                self._next += 1
        index, seam = self._next, self._seam
        self._next, self._seam = index + 1, False
        reading = self._run_blocking(self._read, index)
        reading.addCallback(self._hand_out, self._due_s(index), seam)
        reading.addErrback(self._unreadable)
        return reading

    def _read(self, index):
        """Frame ``index``'s depth and colour (None without), read from disk (off the reactor)."""
        read_colour = getattr(self.recording, "read_colour", None)
        return self.recording.read(index), None if read_colour is None else read_colour(index)

    def _hand_out(self, pictures, due_s, seam):
        depth, colour = pictures
        wait_s = max(0.0, due_s - self._clock.seconds())
        kind = DiscontinuousFrame if seam else DepthFrame
        intrinsics = getattr(self.recording, "intrinsics", None)
        return task.deferLater(self._clock, wait_s, lambda: kind(
            depth, self.units, self._clock.seconds(), colour, intrinsics))

    def _unreadable(self, failure):
        failure.trap(RecordingError)
        raise SourceUnavailable(str(failure.value)) from failure.value

    def close(self):
        close = getattr(self.recording, "close", None)
        if close is not None:
            close()


def _open(open_recording, name, loop, clock, kwargs):
    try:
        recording = open_recording()
    except RecordingError as exc:
        raise SourceUnavailable(str(exc)) from exc
    return RecordingPlayer(recording, name, loop, clock, **kwargs)


def open_fakenect_player(folder, loop=False, clock=None, **kwargs):
    """A player for a fakenect dump folder; ``SourceUnavailable`` if it cannot be read."""
    return _open(lambda: FakenectDump(folder), str(folder), loop, clock, kwargs)


def open_png_player(folder, loop=False, depth_scale=None, clock=None, **kwargs):
    """A player for a folder of depth PNGs (``depth_scale`` units per metre; None: 1000, TUM 5000)."""
    return _open(lambda: PngFolder(folder, depth_scale), str(folder), loop, clock, kwargs)


def open_file_player(path, loop=False, clock=None, **kwargs):
    """A player for a depthcam recording file; ``SourceUnavailable`` if it cannot be read."""
    from depthcam.source.container import RecordingReader

    player = _open(lambda: RecordingReader(path), str(path), loop, clock, kwargs)
    if player.recording.truncated_at is not None:
        log.warn("{path}: cut short in frame {frame}; playing the {frame} whole frames before it",
                 path=str(path), frame=player.recording.truncated_at)
    return player
