"""The depthcam-record program: a device's frames into a recording file, and ``--info`` on one.

    depthcam-record --device kinect --out session.dcrec [--seconds 60] [--force]
    depthcam-record --info session.dcrec

Frames go through the same FramePump as a live source, with ``container.RecordingWriter`` in the
encoder's place and the file as the only sink, so a recording is paced, and fails, as a stream
would. Ctrl-C or SIGTERM stops the reactor; the file is closed after its last whole frame.
"""

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from twisted.logger import Logger

from depthcam.source.container import RecordingFlags, RecordingReader, RecordingWriter
from depthcam.source.frames import SourceEnded
from depthcam.source.recording import RecordingPlayer
from depthcam.source.recordings import RecordingError

log = Logger(namespace="depthcam.record")

PROGRESS_INTERVAL_S = 0.5
BYTES_PER_MB = 1_000_000
SECONDS_PER_HOUR = 3600


class RecordingSink:
    """The pump's "encoder" and sink in one: writes each frame to the file, counts what it wrote.

    ``progress`` (a text file) gets a ``\\r``-refreshed line at most every ``PROGRESS_INTERVAL_S``.
    A write that fails (a full disk) goes to ``write_failed(exc)`` instead of the pump, which
    would only skip the frame and try the next.
    """

    def __init__(self, file, clock, progress=None, write_failed=None, colour=True):
        self.writer = RecordingWriter(file)
        self.colour = colour
        self.write_failed = write_failed
        self._clock = clock
        self._progress = progress
        self._started_s = clock.seconds()
        self._shown_s = None
        self.first_time_s = self.last_time_s = None

    @property
    def elapsed_s(self):
        """Seconds since recording started."""
        return self._clock.seconds() - self._started_s

    def request_keyframe(self):
        """Every recorded frame is whole already."""

    def encode_with_header(self, frame):
        """Write ``frame`` to the file; the pump's ``(header, message)`` is ``(None, b"")``."""
        if not self.colour and frame.colour is not None:
            frame = replace(frame, colour=None)
        try:
            self.writer.write_frame(frame)
        except OSError as exc:
            if self.write_failed is None:
                raise
            self.write_failed(exc)
            return None, b""
        if self.first_time_s is None:
            self.first_time_s = frame.captured_at
        self.last_time_s = frame.captured_at
        now_s = self._clock.seconds()
        if self._progress is not None and (
            self._shown_s is None or now_s - self._shown_s >= PROGRESS_INTERVAL_S
        ):
            self._shown_s = now_s
            self._progress.write("\r" + self.summary(self.elapsed_s))
            self._progress.flush()
        return None, b""

    def send_frame(self, header, message):
        """The frame is on disk already (``encode`` wrote it)."""

    def summary(self, elapsed_s):
        megabytes = self.writer.bytes_written / BYTES_PER_MB
        seconds = (self.last_time_s - self.first_time_s) if self.first_time_s is not None else 0.0
        rate = megabytes / elapsed_s if elapsed_s > 0 else 0.0
        return (f"{self.writer.frames} frames  {seconds:.1f} s  {megabytes:.1f} MB  "
                f"{rate:.1f} MB/s")


def describe(path):
    """The ``--info`` text of a recording file (raises ``RecordingError`` for a bad one)."""
    reader = RecordingReader(path)
    try:
        reader.verify()
        size = Path(path).stat().st_size
        frames, duration = len(reader), reader.duration_s
        fps = (frames - 1) / duration if duration > 0 else 0.0
        per_hour = size / BYTES_PER_MB / duration * SECONDS_PER_HOUR if duration > 0 else 0.0
        raw_bytes = frames * reader.shape[0] * reader.shape[1] * 2
        lines = [
            f"{path}: depthcam recording, format version {reader.version}",
            f"  frames:   {frames} of {reader.shape[1]} x {reader.shape[0]}, {reader.units.value}"
            f"{', with colour' if reader.flags & RecordingFlags.COLOUR else ''}",
            f"  duration: {duration:.2f} s ({fps:.1f} frames/s)",
            f"  size:     {size / BYTES_PER_MB:.1f} MB ({raw_bytes / max(size, 1):.1f}x smaller "
            f"than raw; {per_hour:.0f} MB an hour)",
        ]
        return "\n".join(lines), reader.truncated_at
    finally:
        reader.close()


def build_parser():
    """The command line of depthcam-record (every flag has a default and says its unit)."""
    from depthcam.source.__main__ import parse_device, positive_float
    from depthcam.source.config import SourceConfig
    from depthcam.source.devices import DEVICE_SYNTAX

    parser = argparse.ArgumentParser(
        prog="depthcam-record",
        description="Record a depth camera (or a recording) losslessly to a file that "
                    "`depthcam-source --device file:FILE` plays back; or describe one.",
    )
    parser.add_argument("--device", type=parse_device, default=SourceConfig.device,
                        metavar="KIND[:ARGUMENT]",
                        help=f"where frames come from: {DEVICE_SYNTAX} (default: scene)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="the recording file to write (required unless --info; default: none)")
    parser.add_argument("--seconds", type=positive_float, default=None,
                        help="stop after this many seconds (default: until Ctrl-C, or the end of "
                             "a recording)")
    parser.add_argument("--force", action="store_true", default=False,
                        help="overwrite --out if it exists (default: refuse)")
    parser.add_argument("--fps", type=positive_float, default=SourceConfig.fps,
                        help="most frames per second to record (default: %(default)s)")
    parser.add_argument("--depth-scale", type=float, default=SourceConfig.depth_scale,
                        help="png: PNG depth units per metre (default: 1000; 5000 for TUM)")
    parser.add_argument("--tilt", type=float, default=SourceConfig.tilt_deg, dest="tilt_deg",
                        metavar="DEGREES", help="kinect: tilt to this angle first, degrees (default: leave it)")
    parser.add_argument("--retry", action="store_true", default=SourceConfig.retry,
                        help="kinect: keep trying while the device is missing (default: exit)")
    parser.add_argument("--colour", choices=["on", "off"], default="on",
                        help="keep the colour pictures of a device that has them (kinect, png: "
                             "folders with colour, rsfile:, realsense), as JPEG q95 beside the "
                             "lossless depth (default: %(default)s)")
    parser.add_argument("--kinect-depth", choices=["registered", "raw"],
                        default=SourceConfig.kinect_depth,
                        help="kinect with --colour on: depth registered to the colour camera (mm), "
                             "or raw 11-bit beside an unregistered picture (default: %(default)s)")
    parser.add_argument("--info", type=Path, metavar="FILE", default=None,
                        help="print a summary of recording FILE and check its checksums "
                             "(default: record instead)")
    return parser


def main(argv=None):
    """Entry point of ``depthcam-record``; returns the exit status."""
    from depthcam.source.config import SourceConfig

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.info is not None:
        try:
            text, truncated_at = describe(args.info)
        except RecordingError as exc:
            print(f"depthcam-record: {exc}", file=sys.stderr)
            return 1
        print(text)
        if truncated_at is not None:
            print(f"depthcam-record: {args.info}: frame {truncated_at}: cut short (the frames "
                  f"before it are whole)", file=sys.stderr)
            return 1
        return 0
    if args.out is None:
        parser.error("--out FILE is required (or --info FILE)")
    config = replace(SourceConfig(), device=args.device, fps=args.fps, depth_scale=args.depth_scale,
                     tilt_deg=args.tilt_deg, retry=args.retry, kinect_depth=args.kinect_depth,
                     colour="jpeg" if args.colour == "on" else "off")
    if args.out.exists() and not args.force:  # said before a device is opened, and checked again
        print(f"depthcam-record: {args.out} exists (--force overwrites it)", file=sys.stderr)
        return 1
    return record(config, args.out, args.force, args.seconds)


def record(config, out, force, seconds):
    """Run the reactor, writing frames from ``config.device`` to ``out``; the exit status."""
    from twisted.internet import reactor

    from depthcam.source.__main__ import begin_logging
    from depthcam.source.devices import open_device

    begin_logging(config.log_level)
    try:
        source = open_device(config, reactor)
    except SourceEnded as exc:
        print(f"depthcam-record: {exc}", file=sys.stderr)
        return exc.exit_status
    if isinstance(source, RecordingPlayer):
        source.every_frame = True  # a copy of a recording keeps all its frames, however late
    try:
        file = open(out, "wb" if force else "xb")
    except OSError as exc:
        source.close()
        reason = "it exists (--force overwrites it)" if isinstance(exc, FileExistsError) else exc.strerror
        print(f"depthcam-record: cannot write {out}: {reason}", file=sys.stderr)
        return 1
    with file:
        return _run(config, source, file, out, seconds, reactor)


def _run(config, source, file, out, seconds, reactor):
    from depthcam.source.pump import FramePump

    progress = sys.stdout if sys.stdout.isatty() else None
    exit_statuses = []

    def write_failed(exc):
        if not exit_statuses:
            print(f"depthcam-record: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            exit_statuses.append(1)
            pump.stop()
            reactor.callLater(0, reactor.stop)

    sink = RecordingSink(file, reactor, progress, write_failed, colour=config.colour != "off")
    pump = FramePump(source, sink, [sink], fps=config.fps, clock=reactor)

    def ended(failure):
        failure.trap(SourceEnded)
        if failure.value.exit_status:
            print(f"depthcam-record: {failure.value}", file=sys.stderr)
        exit_statuses.append(failure.value.exit_status)
        reactor.callLater(0, reactor.stop)

    def failed(failure):
        log.failure("recording stopped", failure)
        exit_statuses.append(1)
        reactor.callLater(0, reactor.stop)

    pump.start().addErrback(ended).addErrback(failed)
    # Said once the reactor runs, when Ctrl-C and SIGTERM already finish the file cleanly.
    reactor.callWhenRunning(print, f"depthcam-record: recording {config.device} to {out} "
                                   "(Ctrl-C stops)", flush=True)
    if seconds is not None:
        reactor.callLater(seconds, reactor.stop)

    def finish():
        pump.stop()
        source.close()

    reactor.addSystemEventTrigger("before", "shutdown", finish)
    reactor.run()
    try:
        file.flush()
        os.fsync(file.fileno())
    except OSError:
        pass  # already said by write_failed, or the device (say /dev/null) cannot sync
    if progress is not None:
        progress.write("\n")
    print(f"depthcam-record: wrote {out}: {sink.summary(sink.elapsed_s)}", flush=True)
    return exit_statuses[0] if exit_statuses else 0


if __name__ == "__main__":
    sys.exit(main())
