"""The depthcam-source program: command line → SourceConfig → running source (imports the reactor).

    depthcam-source [serve] [--port 9000] [--device scene] ...   direct mode (the default)
    depthcam-source server ws://localhost:9000                   the same, in the 2012 form
    depthcam-source push ws://relay:9000/source/NAME [--token-file FILE]   push mode (to a relay)
    depthcam-source push ws://relay:9000                         the same to the default stream,
                                                                 in the 2012 form

Both modes share the frame source, the encoder and the pump; only the sink differs (``direct.py``
or ``push.py``). In both, the pump pauses while nobody watches.
"""

import argparse
import errno
import sys
from dataclasses import dataclass
from importlib.metadata import version
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

from depthcam.broadcast import tls
from depthcam.broadcast.admission import add_cap_arguments, caps_from_arguments
from depthcam.broadcast.origins import is_local_name, normalize_origin
from depthcam.codec import LegacyEncoder, Profile, profiles
from depthcam.codec.attaching import AttachingEncoder
from depthcam.codec.colour import CODING_NAMES, SCALES, PictureCoder
from depthcam.codec.reduction import Reduction
from depthcam.protocol.streams import DEFAULT_STREAM, SOURCE_PREFIX, is_valid_stream_name
from depthcam.protocol.tokens import TOKEN_ENV_VAR, TokenConfigError, read_token
from depthcam.source.config import SourceConfig, Wire
from depthcam.source.devices import DEVICE_SYNTAX, open_device, parse_device_spec
from depthcam.source.direct import EncoderPublisher, IdlePause, build_site, build_viewers, make_channel
from depthcam.source.frames import SourceEnded
from depthcam.source.pump import FramePump
from depthcam.source.push import PushFactory, RelaySink

log = Logger(namespace="depthcam.source")

# Bind addresses that mean "this machine", for the URL we print.
LOCAL_HOSTS = ("", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost")
# Where a relay takes a source's stream (relay/resources.py): /source/<name>.
RELAY_SOURCE_PREFIX = SOURCE_PREFIX


def parse_device(text):
    """argparse type for ``--device``: ``KIND`` or ``KIND:ARGUMENT``."""
    try:
        return parse_device_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def make_encoder(config):
    """The encoder for ``config.wire`` and ``config.profile``."""
    if config.wire is Wire.LEGACY:
        return LegacyEncoder(config.keyframe_interval_frames)
    encoder = profiles.make_encoder(
        config.profile, keyframe_interval=config.keyframe_interval_frames, near_mm=config.near_mm,
        far_mm=config.far_mm, reduction=config.reduction, error_mm=config.error_mm,
    )
    if config.profile == "classic" and encoder.profile is not Profile.CLASSIC_CM:
        log.warn("the compiled coder depthcam.codec._contextmodel is not built (no C compiler at "
                 "install?): sending the classic profile's LZMA coding, about twice the bytes")
    coder = None
    if config.colour != "off":
        coder = PictureCoder(CODING_NAMES[config.colour], config.colour_quality)
    return AttachingEncoder(encoder, coder, config.colour_scale)


def log_pump_failure(failure):
    """Log why the pump stopped, unless its source ended (``main`` says that in one line)."""
    if failure.check(SourceEnded):
        return failure
    log.failure("frame pump stopped", failure)
    return None


def start_pump(config, source, encoder, sink, reactor):
    """The FramePump from ``source`` through ``encoder`` to ``sink``, started; the same in both modes."""
    pump = FramePump(source, encoder, [sink], fps=config.fps, clock=reactor)
    pump.start().addErrback(log_pump_failure)
    log.info("{command}: {device} at {fps} frames/s, {wire} wire, {profile} profile, "
             "keyframe every {frames} frames",
             command=config.command, device=str(config.device), fps=config.fps,
             wire=config.wire.value, profile=config.profile, frames=config.keyframe_interval_frames)
    return pump


@dataclass
class DirectSource:
    """A running direct-mode source: its frame source, pump, broadcast channel and listening port."""

    source: object
    pump: FramePump
    channel: object
    port: object
    scheme: str = "http"

    @property
    def url(self):
        """The address to open in a browser."""
        address = self.port.getHost()
        host = "localhost" if address.host in LOCAL_HOSTS else address.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{address.port}/"

    @property
    def banner(self):
        """The one line the program prints once it runs."""
        return f"open {self.url} in Chrome or Firefox"

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
    certificate = None
    if config.tls_cert is not None:
        certificate = tls.ReloadingCertificate(config.tls_cert, config.tls_key)
        tls.reload_on_sighup(certificate, reactor)
    source = open_device(config, reactor)
    encoder = make_encoder(config)
    channel = make_channel(encoder, reactor, max_lag_s=config.max_lag_s)
    site = build_site(config.client_dir, build_viewers(channel, reactor, config.allowed_origins),
                      channel, reactor, config.caps)
    try:
        port = tls.listen(reactor, config.port, site, config.host, certificate)
    except CannotListenError:
        source.close()
        raise
    if not is_local_name(config.host or "0.0.0.0"):
        log.warn(
            "listening on {host}: anyone who can reach port {port} on this machine's networks "
            "can open the page and watch; pages of other sites cannot ({origins})",
            host=config.host, port=port.getHost().port,
            origins=("only this page's origin and this machine's pages" if not config.allowed_origins
                     else "besides this page's origin and this machine's pages: "
                     + ", ".join(config.allowed_origins)),
        )
    pump = start_pump(config, source, encoder, EncoderPublisher(channel), reactor)
    # Nobody watches yet: read and encode nothing until someone does.
    IdlePause(pump, channel).viewers_changed(len(channel.fanout))
    return DirectSource(source, pump, channel, port, "https" if certificate else "http")


def viewer_page_url(relay_url):
    """The page on the relay that shows the stream ``relay_url`` publishes to."""
    url = urlsplit(relay_url)
    name = url.path[len(RELAY_SOURCE_PREFIX):]
    query = "" if name == DEFAULT_STREAM else f"?stream={name}"
    scheme = "https" if url.scheme == "wss" else "http"
    return f"{scheme}://{url.netloc}/{query}"


@dataclass
class PushSource:
    """A running push-mode source: its frame source, pump, and connection to the relay."""

    source: object
    pump: FramePump
    uplink: PushFactory

    @property
    def banner(self):
        """The one line the program prints once it runs."""
        return (f"pushing to {self.uplink.url}; viewers open {viewer_page_url(self.uplink.url)} "
                f"in Chrome or Firefox")

    def stop(self):
        """Stop the pump, close the device and the relay connection (a Deferred)."""
        self.pump.stop()
        self.source.close()
        return self.uplink.stop()


def push(config, reactor):
    """Push mode: connect to a relay (reconnecting as long as this runs), and start pumping.

    Raises ``TokenConfigError`` when no usable token is configured, before anything starts.
    """
    token = read_token(config.token_file)
    tls_options = None
    if urlsplit(config.relay_url).scheme == "wss":
        tls_options = tls.client_tls(urlsplit(config.relay_url).hostname, config.ca_file)
    source = open_device(config, reactor)
    encoder = make_encoder(config)
    sink = RelaySink(encoder)
    pump = start_pump(config, source, encoder, sink, reactor)
    # No relay connection yet: pause until one opens and the relay does not say nobody watches.
    sink.on_demand = lambda wanted: pump.resume() if wanted else pump.pause()
    pump.pause()
    uplink = PushFactory(config.relay_url, token, sink, reactor=reactor, tls_options=tls_options)
    uplink.start()
    return PushSource(source, pump, uplink)


# Commands: name → function(config, reactor) that starts a mode. ``server`` is the 2012 spelling
# of ``serve`` and takes its address as a URL; ``push`` takes the relay's.
COMMANDS = {"serve": serve, "server": serve, "push": push}

EPILOG = f"""\
commands:
  serve                    direct mode (the default): browsers connect to this program
  server ws://HOST:PORT    the same, in the 2012 form: listen on HOST:PORT
  push ws://HOST:PORT/source/NAME
                           push mode: publish stream NAME to the relay at HOST:PORT, which
                           serves it to browsers; reconnects by itself (waits of at most
                           {PushFactory.maxDelay:g} s) whenever the relay is down or restarts
  push ws://HOST:PORT      the same, in the 2012 form: the relay's default stream

Push mode reads the relay's publish token from --token-file FILE, or else from the
{TOKEN_ENV_VAR} environment variable; never from the command line.

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
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('depthcam')}",
                        help="print the installed depthcam's version and exit")
    parser.add_argument("command", nargs="?", default="serve", choices=sorted(COMMANDS),
                        help="what to do (default: serve)")
    parser.add_argument("url", nargs="?",
                        help="for `server`: the ws://HOST:PORT to listen on; for `push`: the "
                             "relay's ws://HOST:PORT/source/NAME")
    parser.add_argument("--host", default=SourceConfig.host,
                        help="address to listen on (default: %(default)s, this machine only; "
                             "0.0.0.0 for every network; direct mode)")
    parser.add_argument("--port", type=int, default=SourceConfig.port,
                        help="TCP port for the web page and the WebSocket (default: %(default)s; "
                             "0 picks a free one; direct mode)")
    parser.add_argument("--token-file", type=Path, default=SourceConfig.token_file,
                        help="file holding the relay's publish token (push mode; default: the "
                             f"{TOKEN_ENV_VAR} environment variable)")
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
    parser.add_argument("--profile", choices=profiles.PROFILE_NAMES, default=SourceConfig.profile,
                        help="codec profile (codec/FORMAT.md): classic = 160 x 120 one-byte codes, "
                             "about 11-50 KB/s (context mixing: FORMAT.md's classic-cm); "
                             "classic-lzma = the same codes LZMA-coded (FORMAT.md's classic), about "
                             "30-110 KB/s; lossless = 640 x 480, the sensor's exact values, about "
                             "1.3 MB/s; fine = 320 x 240 within --error-mm, about 400 KB/s "
                             "(default: %(default)s)")
    parser.add_argument("--error-mm", type=positive_float, default=SourceConfig.error_mm,
                        help="depth error of the fine profile at 1.8 m, in millimetres; it "
                             "grows as depth squared, as the sensor's own step does (default: 10)")
    parser.add_argument("--max-lag", type=positive_float, default=SourceConfig.max_lag_s,
                        dest="max_lag_s",
                        help="seconds a viewer may fall behind live before it skips to the newest "
                             "keyframe (default: %(default)s; direct mode)")
    add_cap_arguments(parser)
    parser.add_argument("--wire", type=Wire, default=SourceConfig.wire, choices=list(Wire),
                        metavar="{classic,legacy}",
                        help="wire format: classic (FORMAT.md) or legacy (the 2012 client's) "
                             "(default: classic)")
    parser.add_argument("--colour", choices=["off", *CODING_NAMES], default=SourceConfig.colour,
                        help="the colour picture sent with each frame of a camera that has one "
                             "(png: folders with colour, kinect, realsense, rsfile:): jpeg (about "
                             "0.3 ms to code, 4-5 KB a frame at 160 x 120), webp (a third fewer "
                             "bytes, several ms to code) or off (default: %(default)s; FORMAT.md, "
                             "Attachments)")
    parser.add_argument("--colour-quality", type=int, default=SourceConfig.colour_quality,
                        metavar="1-100",
                        help="quality of the colour picture, 1-100 (default: %(default)s)")
    parser.add_argument("--colour-scale", type=int, choices=SCALES,
                        default=SourceConfig.colour_scale,
                        help="colour picture size as a multiple of the profile's depth grid: 2 "
                             "sends 320 x 240 with the classic profile's 160 x 120 "
                             "(default: %(default)s; at most 640 x 480)")
    parser.add_argument("--device", type=parse_device, default=SourceConfig.device,
                        metavar="KIND[:ARGUMENT]",
                        help=f"where frames come from: {DEVICE_SYNTAX} (default: scene, a "
                             "synthetic room with a walking figure)")
    parser.add_argument("--loop", action="store_true", default=SourceConfig.loop,
                        help="play a recording (file:, fakenect:, png:) again and again, with a "
                             "keyframe at the seam (default: play it once, then exit)")
    parser.add_argument("--depth-scale", type=positive_float, default=SourceConfig.depth_scale,
                        help="png: PNG depth units per metre (default: 1000, millimetres; 5000 "
                             "for a TUM RGB-D folder with depth.txt)")
    parser.add_argument("--tilt", type=float, default=SourceConfig.tilt_deg, dest="tilt_deg",
                        metavar="DEGREES",
                        help="kinect: tilt the motor to this angle first, in degrees from level, "
                             "-30 to 30 (default: leave it where it is)")
    parser.add_argument("--kinect-depth", choices=["registered", "raw"],
                        default=SourceConfig.kinect_depth,
                        help="kinect with --colour on: registered = millimetres moved onto the "
                             "colour camera's pixels by libfreenect; raw = 11-bit disparity beside "
                             "an unregistered picture, for a libfreenect whose fakenect cannot "
                             "register (Debian's 0.5) (default: %(default)s; --colour off always "
                             "sends raw disparity)")
    parser.add_argument("--retry", action="store_true", default=SourceConfig.retry,
                        help="kinect: keep trying, once a second, while the device is missing or "
                             "gone (default: say what is wrong in one line and exit with status 1)")
    parser.add_argument("--scene-seed", type=int, default=SourceConfig.scene_seed,
                        help="seed of the synthetic scene's sensor noise (default: %(default)s)")
    parser.add_argument("--client-dir", type=Path, default=SourceConfig.client_dir,
                        help="folder of the browser client to serve at / "
                             "(default: the viewer installed with depthcam)")
    parser.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                        dest="allowed_origins",
                        help="an Origin (scheme://host[:port]) whose pages may watch, besides this "
                             "source's own page and pages on this machine; repeat for more "
                             "(default: none; direct mode)")
    parser.add_argument("--tls-cert", type=Path, default=SourceConfig.tls_cert, metavar="PEM",
                        help="certificate chain to listen with TLS (https://, wss://); SIGHUP "
                             "reloads it and --tls-key (default: plain http; direct mode)")
    parser.add_argument("--tls-key", type=Path, default=SourceConfig.tls_key, metavar="PEM",
                        help="the certificate's private key (default: none; direct mode)")
    parser.add_argument("--ca-file", type=Path, default=SourceConfig.ca_file, metavar="PEM",
                        help="CA certificate(s) that signed the relay's certificate, for a private "
                             "CA (default: the system's CAs; push mode, wss://)")
    parser.add_argument("--insecure", action="store_true", default=SourceConfig.insecure,
                        help="allow push to plain ws:// on another machine, sending the token "
                             "readable by anyone on the path (default: refused; push mode)")
    parser.add_argument("--log-level", default=SourceConfig.log_level.name,
                        choices=[level.name for level in LogLevel.iterconstants()],
                        help="least important log messages to show (default: %(default)s)")
    return parser


def split_ws_url(text, expected, schemes=("ws",)):
    """``text`` split by ``urlsplit``, if it is a URL of ``schemes`` with a host and a valid port or none.

    Raises ValueError, in words, for anything else; ``expected`` shows the form wanted.
    """
    url = urlsplit(text)
    try:
        url.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    if url.scheme not in schemes or not url.hostname:
        raise ValueError(f"expected {expected}, got {text!r}")
    return url


def relay_source_url(text):
    """The relay URL of ``push``: ``ws://HOST[:PORT]/source/NAME``, or the 2012 form without a path
    (the relay's default stream). Raises ValueError, in words, for anything else.
    """
    expected = "ws://HOST:PORT/source/NAME or wss://HOST[:PORT]/source/NAME"
    url = split_ws_url(text, expected, ("ws", "wss"))
    # No user:password@ either: credentials go in --token-file, never on the command line.
    if url.username is not None or url.query or url.fragment:
        raise ValueError(f"expected {expected}, got {text!r}")
    if url.path in ("", "/"):
        path = RELAY_SOURCE_PREFIX + DEFAULT_STREAM
    else:
        path = url.path
        name = path[len(RELAY_SOURCE_PREFIX):]
        if not path.startswith(RELAY_SOURCE_PREFIX) or not is_valid_stream_name(name):
            raise ValueError(
                f"expected ws://HOST:PORT/source/NAME (NAME: letters, digits, _ and -, at most "
                f"64), or ws://HOST:PORT for the default stream; got {text!r}"
            )
    return f"{url.scheme}://{url.netloc}{path}"


def parse_config(argv=None):
    """The SourceConfig for a command line (``sys.argv[1:]`` by default); exits on a bad one."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    host, port = args.host, args.port
    relay_url = None
    if args.command == "push":
        if args.url is None:
            parser.error("push needs the relay's URL, e.g. push ws://relay:9000/source/default")
        try:
            relay_url = relay_source_url(args.url)
        except ValueError as exc:
            parser.error(str(exc))
        if args.wire is not Wire.CLASSIC:
            parser.error("push sends the classic wire only (a relay reads FORMAT.md's headers)")
        relay = urlsplit(relay_url)
        if relay.scheme == "ws" and not is_local_name(relay.hostname) and not args.insecure:
            parser.error(f"push to ws://{relay.netloc} would send the publish token unencrypted "
                         f"across the network: use wss:// (or --insecure to send it anyway)")
    elif args.command == "server":
        if args.url is None:
            parser.error("server needs a URL, e.g. server ws://localhost:9000")
        try:
            url = split_ws_url(args.url, "ws://HOST:PORT")
        except ValueError as exc:
            parser.error(str(exc))
        host, port = url.hostname, url.port if url.port is not None else port
    elif args.url is not None:
        parser.error(f"{args.command} takes no URL (use --host and --port)")
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    for origin in args.allowed_origins:
        if normalize_origin(origin) is None:
            parser.error(f"--allowed-origin {origin!r} is not an origin (scheme://host[:port])")
    if not 0 <= port <= 65535:
        parser.error(f"port {port} is not in 0-65535")
    if not 0 < args.near_mm < args.far_mm <= 65535:
        parser.error(f"need 0 < --near-mm < --far-mm <= 65535, got {args.near_mm}, {args.far_mm}")
    if not 1 <= args.colour_quality <= 100:
        parser.error(f"--colour-quality must be 1-100, got {args.colour_quality}")
    grid_columns = {"lossless": 640, "fine": 320}.get(args.profile, 160)
    if grid_columns * args.colour_scale > 640:
        parser.error(f"--colour-scale {args.colour_scale} with --profile {args.profile} would "
                     f"send a picture over 640 x 480")
    return SourceConfig(
        command=args.command,
        host=host,
        port=port,
        fps=args.fps,
        keyframe_interval_s=args.keyframe_interval_s,
        near_mm=args.near_mm,
        far_mm=args.far_mm,
        reduction=args.reduction,
        profile=args.profile,
        error_mm=args.error_mm,
        wire=args.wire,
        colour=args.colour,
        colour_quality=args.colour_quality,
        colour_scale=args.colour_scale,
        device=args.device,
        scene_seed=args.scene_seed,
        client_dir=args.client_dir,
        log_level=LogLevel.levelWithName(args.log_level),
        loop=args.loop,
        depth_scale=args.depth_scale,
        tilt_deg=args.tilt_deg,
        kinect_depth=args.kinect_depth,
        retry=args.retry,
        relay_url=relay_url,
        token_file=args.token_file,
        max_lag_s=args.max_lag_s,
        caps=caps_from_arguments(args),
        allowed_origins=tuple(args.allowed_origins),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        ca_file=args.ca_file,
        insecure=args.insecure,
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
    except (TokenConfigError, tls.TLSConfigError) as exc:
        print(f"depthcam: {exc}", file=sys.stderr)
        return 2
    except SourceEnded as exc:
        print(f"depthcam: {exc}", file=sys.stderr)
        return exc.exit_status
    exit_statuses = []
    running.pump.stopped.addErrback(source_ended, reactor, exit_statuses)
    reactor.addSystemEventTrigger("before", "shutdown", running.stop)
    print(f"depthcam: {running.banner}", flush=True)
    reactor.run()
    return exit_statuses[0] if exit_statuses else 0


def source_ended(failure, reactor, exit_statuses):
    """The source will send no more (a recording's end, a lost device): one line, then exit."""
    failure.trap(SourceEnded)
    exc = failure.value
    print(f"depthcam: {exc}", file=sys.stderr if exc.exit_status else sys.stdout, flush=True)
    exit_statuses.append(exc.exit_status)
    reactor.callLater(0, reactor.stop)


if __name__ == "__main__":
    sys.exit(main())
