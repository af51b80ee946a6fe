"""The depthcam-source program: command line → SourceConfig → running source (imports the reactor).

    depthcam-source [serve] [--port 9000] [--device scene] ...   direct mode (the default)
    depthcam-source server ws://localhost:9000                   the same, in the 2012 form
"""

import argparse
import enum
import errno
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from twisted.internet.error import CannotListenError
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    Logger,
    globalLogBeginner,
    textFileLogObserver,
)

from depthcam.codec import ClassicEncoder, LegacyEncoder
from depthcam.codec.reduction import Reduction
from depthcam.source.direct import ViewerFactory, build_site
from depthcam.source.pump import FramePump
from depthcam.source.scene import SceneSource, SyntheticScene

log = Logger(namespace="depthcam.source")

# The browser client sits beside the package's folders in the repository (editable install).
DEFAULT_CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"
# Bind addresses that mean "this machine", for the URL we print.
LOCAL_HOSTS = ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost")


class Wire(enum.Enum):
    """What the source sends: FORMAT.md's classic profile, or the 2012 bytes."""

    CLASSIC = "classic"
    LEGACY = "legacy"


@dataclass(frozen=True)
class DeviceSpec:
    """Where frames come from: ``KIND`` or ``KIND:ARGUMENT`` (say, a device index or a file)."""

    kind: str
    argument: str | None = None

    def __str__(self):
        return self.kind if self.argument is None else f"{self.kind}:{self.argument}"


@dataclass(frozen=True)
class SourceConfig:
    """Everything the command line sets, with the command line's defaults."""

    command: str = "serve"
    host: str = "127.0.0.1"
    port: int = 9000
    fps: float = 30.0
    keyframe_interval_s: float = 2.0
    near_mm: int = 500
    far_mm: int = 8000
    reduction: Reduction = Reduction.NEAREST_SURFACE
    wire: Wire = Wire.CLASSIC
    device: DeviceSpec = DeviceSpec("scene")
    scene_seed: int = 0
    client_dir: Path = DEFAULT_CLIENT_DIR
    log_level: LogLevel = LogLevel.info

    @property
    def keyframe_interval_frames(self):
        return max(1, round(self.keyframe_interval_s * self.fps))


def open_scene(spec, config, clock):
    """The synthetic scene (takes no argument)."""
    return SceneSource(SyntheticScene(config.scene_seed), clock=clock)


# Device kinds: name → opener(spec, config, clock) → FrameSource. An opener imports what its
# device needs itself, so a missing driver only matters to whoever asks for that device.
DEVICES = {"scene": open_scene}
DEVICES_TAKING_ARGUMENTS = frozenset()


def parse_device(text):
    """argparse type for ``--device``: ``KIND`` or ``KIND:ARGUMENT``."""
    kind, _, argument = text.partition(":")
    if kind not in DEVICES:
        raise argparse.ArgumentTypeError(
            f"unknown device {kind!r} (choose from {', '.join(sorted(DEVICES))})"
        )
    if argument and kind not in DEVICES_TAKING_ARGUMENTS:
        raise argparse.ArgumentTypeError(f"device {kind!r} takes no ':ARGUMENT'")
    return DeviceSpec(kind, argument or None)


def make_encoder(config):
    """The encoder for ``config.wire``."""
    if config.wire is Wire.LEGACY:
        return LegacyEncoder(config.keyframe_interval_frames)
    return ClassicEncoder(
        config.keyframe_interval_frames, config.near_mm, config.far_mm, config.reduction
    )


@dataclass
class DirectSource:
    """A running direct-mode source: its frame source, pump, viewers and listening port."""

    source: object
    pump: FramePump
    viewers: ViewerFactory
    port: object

    @property
    def url(self):
        """The address to open in a browser."""
        address = self.port.getHost()
        host = "localhost" if address.host in LOCAL_HOSTS else address.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{address.port}/"

    def stop(self):
        """Stop the pump, close the device and stop listening (a Deferred)."""
        self.pump.stop()
        self.source.close()
        return self.port.stopListening()


def serve(config, reactor):
    """Direct mode: serve the client and the viewer WebSocket on one port, and start pumping.

    Raises ``CannotListenError`` if the port cannot be had.
    """
    if not (config.client_dir / "index.html").is_file():
        log.warn("no index.html in {client_dir}: serving the viewer WebSocket only",
                 client_dir=config.client_dir)
    elif (config.client_dir / "package.json").is_file() and not (
        config.client_dir / "node_modules"
    ).is_dir():
        log.warn("no node_modules in {client_dir}: run `npm install` there first",
                 client_dir=config.client_dir)
    source = DEVICES[config.device.kind](config.device, config, reactor)
    encoder = make_encoder(config)
    viewers = ViewerFactory(encoder.catchup, reactor=reactor)
    try:
        port = reactor.listenTCP(config.port, build_site(config.client_dir, viewers),
                                 interface=config.host)
    except CannotListenError:
        source.close()
        raise
    pump = FramePump(source, encoder, [viewers.fanout], fps=config.fps, clock=reactor)
    pump.start().addErrback(lambda failure: log.failure("frame pump stopped", failure))
    log.info("serving {device} at {fps} frames/s, {wire} wire, keyframe every {frames} frames",
             device=str(config.device), fps=config.fps, wire=config.wire.value,
             frames=config.keyframe_interval_frames)
    return DirectSource(source, pump, viewers, port)


# Commands: name → function(config, reactor) that starts a mode. ``server`` is the 2012 spelling
# of ``serve`` and takes its address as a URL.
COMMANDS = {"serve": serve, "server": serve}
COMMANDS_TAKING_URL = {"server"}

EPILOG = """\
commands:
  serve                    direct mode (the default): browsers connect to this program
  server ws://HOST:PORT    the same, in the 2012 form: listen on HOST:PORT

Open the printed http:// address in Chrome or Firefox.
"""


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def build_parser():
    """The command line (every flag has a default and says its unit)."""
    parser = argparse.ArgumentParser(
        prog="depthcam-source",
        description="Stream a depth camera's 3D point cloud to web browsers over WebSockets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", default="serve", choices=sorted(COMMANDS),
                        help="what to do (default: serve)")
    parser.add_argument("url", nargs="?", help="for `server`: the ws://HOST:PORT to listen on")
    parser.add_argument("--host", default=SourceConfig.host,
                        help="address to listen on (default: %(default)s, this machine only; "
                             "0.0.0.0 for every network)")
    parser.add_argument("--port", type=int, default=SourceConfig.port,
                        help="TCP port for the web page and the WebSocket (default: %(default)s; "
                             "0 picks a free one)")
    parser.add_argument("--fps", type=positive_float, default=SourceConfig.fps,
                        help="frames per second to send (default: %(default)s)")
    parser.add_argument("--keyframe-interval", type=positive_float,
                        default=SourceConfig.keyframe_interval_s, dest="keyframe_interval_s",
                        help="seconds between keyframes (default: %(default)s; rounded to "
                             "whole frames at --fps)")
    parser.add_argument("--near-mm", type=int, default=SourceConfig.near_mm,
                        help="nearest depth quantized, in millimetres (default: %(default)s; "
                             "classic wire)")
    parser.add_argument("--far-mm", type=int, default=SourceConfig.far_mm,
                        help="farthest depth quantized, in millimetres; beyond it reads as "
                             "nothing (default: %(default)s; classic wire)")
    parser.add_argument("--reduction", type=Reduction, default=SourceConfig.reduction,
                        choices=list(Reduction), metavar="{subsample,nearest-surface}",
                        help="how each 4 x 4 block of sensor pixels becomes one sent pixel "
                             "(default: nearest-surface; classic wire)")
    parser.add_argument("--wire", type=Wire, default=SourceConfig.wire, choices=list(Wire),
                        metavar="{classic,legacy}",
                        help="wire format: classic (FORMAT.md) or legacy (the 2012 client's) "
                             "(default: classic)")
    parser.add_argument("--device", type=parse_device, default=SourceConfig.device,
                        metavar="KIND[:ARGUMENT]",
                        help=f"where frames come from: {', '.join(sorted(DEVICES))} "
                             "(default: scene, a synthetic room with a walking figure)")
    parser.add_argument("--scene-seed", type=int, default=SourceConfig.scene_seed,
                        help="seed of the synthetic scene's sensor noise (default: %(default)s)")
    parser.add_argument("--client-dir", type=Path, default=SourceConfig.client_dir,
                        help="folder of the browser client to serve at / "
                             "(default: the repository's client/)")
    parser.add_argument("--log-level", default=SourceConfig.log_level.name,
                        choices=[level.name for level in LogLevel.iterconstants()],
                        help="least important log messages to show (default: %(default)s)")
    return parser


def parse_config(argv=None):
    """The SourceConfig for a command line (``sys.argv[1:]`` by default); exits on a bad one."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    host, port = args.host, args.port
    if args.command in COMMANDS_TAKING_URL:
        if args.url is None:
            parser.error(f"{args.command} needs a URL, e.g. {args.command} ws://localhost:9000")
        url = urlsplit(args.url)
        try:
            url_port = url.port
        except ValueError:
            parser.error(f"bad port in {args.url!r}")
        if url.scheme != "ws" or not url.hostname:
            parser.error(f"expected ws://HOST:PORT, got {args.url!r}")
        host, port = url.hostname, url_port if url_port is not None else port
    elif args.url is not None:
        parser.error(f"{args.command} takes no URL (use --host and --port)")
    if not 0 <= port <= 65535:
        parser.error(f"port {port} is not in 0-65535")
    if not 0 < args.near_mm < args.far_mm <= 65535:
        parser.error(f"need 0 < --near-mm < --far-mm <= 65535, got {args.near_mm}, {args.far_mm}")
    return SourceConfig(
        command=args.command,
        host=host,
        port=port,
        fps=args.fps,
        keyframe_interval_s=args.keyframe_interval_s,
        near_mm=args.near_mm,
        far_mm=args.far_mm,
        reduction=args.reduction,
        wire=args.wire,
        device=args.device,
        scene_seed=args.scene_seed,
        client_dir=args.client_dir,
        log_level=LogLevel.levelWithName(args.log_level),
    )


def begin_logging(level):
    """Send log events at ``level`` and above to stdout, one line each."""
    observer = FilteringLogObserver(
        textFileLogObserver(sys.stdout), [LogLevelFilterPredicate(defaultLogLevel=level)]
    )
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def listen_error_hint(exc):
    """What went wrong with listening, and what to try, in words."""
    error = exc.socketError
    if getattr(error, "errno", None) == errno.EADDRINUSE:
        return "the port is in use (is another depthcam running? pick another --port)"
    reason = getattr(error, "strerror", None) or str(error)
    return f"{reason} (check --host)"


def main(argv=None):
    """Entry point of ``depthcam-source``; returns the exit status."""
    config = parse_config(argv)
    begin_logging(config.log_level)
    from twisted.internet import reactor

    try:
        running = COMMANDS[config.command](config, reactor)
    except CannotListenError as exc:
        print(f"depthcam: cannot listen on {config.host}:{config.port}: {listen_error_hint(exc)}",
              file=sys.stderr)
        return 1
    reactor.addSystemEventTrigger("before", "shutdown", running.stop)
    print(f"depthcam: open {running.url} in Chrome or Firefox", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
