"""``depthcam-relay``: the command line, turned into a RelayConfig and a listening relay.

    DEPTHCAM_RELAY_TOKEN=... depthcam-relay --host 0.0.0.0
    depthcam-relay --host 0.0.0.0 --token-file /etc/depthcam/token

Sources push to ``ws://HOST:PORT/source/<name>`` with ``Authorization: Bearer <token>``; browsers
open ``http://HOST:PORT/?stream=<name>``. The token never goes on the command line.
"""

import argparse
import sys
from importlib.metadata import version
from pathlib import Path

from depthcam.broadcast.admission import AddressCaps, add_cap_arguments
from depthcam.protocol.streams import is_valid_stream_name
from depthcam.protocol.tokens import TOKEN_ENV_VAR, TokenConfigError, read_token
from depthcam.relay.auth import BearerTokenCheck
from depthcam.relay.config import RelayConfig
from depthcam.relay.fdlimit import raise_fd_limit

# How long the relay waits for its close frames to go out when it stops.
SHUTDOWN_GRACE_S = 0.5


LOG_LEVELS = ("debug", "info", "warn", "error")

def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive_seconds(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _stream_name(text):
    if not is_valid_stream_name(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a stream name ([A-Za-z0-9_-]{{1,64}})")
    return text


def build_parser():
    """The argument parser; every flag has a default and its unit in the help."""
    d = RelayConfig()
    parser = argparse.ArgumentParser(
        prog="depthcam-relay",
        description=(
            "Relay depth streams pushed by sources to any number of browsers. Sources publish to "
            "/source/<name> with 'Authorization: Bearer <token>'; viewers watch /view/<name> "
            "(or /ws for the default stream); GET /stats gives counters as JSON."
        ),
        epilog=(
            f"The publish token comes from --token-file or the {TOKEN_ENV_VAR} environment "
            "variable, never from the command line."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        # Else `--token SECRET` would pass for `--token-file SECRET`.
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('depthcam')}",
                        help="print the installed depthcam's version and exit")
    net = parser.add_argument_group("network")
    net.add_argument("--host", default=d.host,
                     help="address to listen on; 0.0.0.0 on a public host")
    net.add_argument("--port", type=_non_negative_int, default=d.port,
                     help="TCP port for the client files, both WebSockets and /stats (0: any free port)")
    net.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                     help="an Origin (scheme://host[:port]) whose pages may watch; repeat for more; "
                          "none given: any page. List the relay's own address to keep its client working")
    net.add_argument("--tls-cert", type=Path, default=d.tls_cert, metavar="PEM",
                     help="certificate chain (leaf first, e.g. certbot's fullchain.pem): listen with "
                          "TLS, for wss:// and https://; SIGHUP reloads it and --tls-key")
    net.add_argument("--tls-key", type=Path, default=d.tls_key, metavar="PEM",
                     help="the certificate's private key (e.g. certbot's privkey.pem)")
    net.add_argument("--public-stats", action="store_true", default=d.public_stats,
                     help="/stats names the streams to anyone (without it, only to a request "
                          "with 'Authorization: Bearer <token>'; others get the totals)")
    net.add_argument("--client-dir", type=Path, default=d.client_dir,
                     help="folder of the browser client served at /")
    net.add_argument("--default-stream", type=_stream_name, default=d.default_stream,
                     help="stream that /ws shows")
    net.add_argument("--log-level", choices=LOG_LEVELS, default="info",
                     help="least important log events shown (debug adds each slow viewer's "
                          "skips and catch-ups)")

    auth = parser.add_argument_group("publishing")
    auth.add_argument("--token-file", type=Path, default=None,
                      help=f"file holding the publish token; without it, ${TOKEN_ENV_VAR} is read")
    auth.add_argument("--max-message-bytes", type=_positive_int, default=d.max_message_bytes,
                      help="largest message a source may send, in bytes; larger ones close it with 1009")

    limits = parser.add_argument_group("limits")
    limits.add_argument("--max-streams", type=_positive_int, default=d.max_streams,
                        help="streams with a source at once (a viewer of a name with no source "
                             "waits for it and uses no slot)")
    limits.add_argument("--max-viewers", type=_positive_int, default=d.max_viewers,
                        help="viewer connections in all; more are refused with HTTP 503")
    limits.add_argument("--max-viewers-per-stream", type=_positive_int, default=d.max_viewers_per_stream,
                        help="viewer connections on one stream; more are refused with HTTP 503")
    limits.add_argument("--max-lag", type=_positive_seconds, default=d.max_lag_s,
                        help="seconds a viewer may fall behind live (its socket staying full) "
                             "before it skips to the newest keyframe")
    limits.add_argument("--max-unsent-bytes", type=_non_negative_int, default=d.max_unsent_bytes,
                        help="bytes a viewer may have queued beyond its full socket buffer before it "
                             "skips to the newest keyframe (a bound on memory per viewer)")
    limits.add_argument("--stuck-timeout", type=_positive_seconds, default=d.stuck_timeout_s,
                        help="seconds a viewer's socket may stay full before it is dropped (it "
                             "cannot take even a keyframe)")
    limits.add_argument("--viewer-socket-buffer-bytes", type=_non_negative_int,
                        default=d.viewer_socket_buffer_bytes,
                        help="kernel send buffer of each viewer socket in bytes (bounds a slow "
                             "viewer's lag); 0: the kernel's own autotuning")
    limits.add_argument("--handshake-timeout", type=_positive_seconds, default=d.handshake_timeout_s,
                        help="seconds a client may take, in all, to send a whole request (a page, "
                             "/stats or a WebSocket handshake), however it trickles; also the idle "
                             "timeout of plain HTTP connections")
    add_cap_arguments(limits, AddressCaps(d.max_connections_per_address, d.max_handshakes_per_address))
    limits.add_argument("--ping-interval", type=_positive_seconds, default=d.ping_interval_s,
                        help="seconds between WebSocket pings to every source and viewer")
    limits.add_argument("--ping-timeout", type=_positive_seconds, default=d.ping_timeout_s,
                        help="seconds to wait for a pong before dropping a connection (idle timeout)")
    _add_scaling_flags(parser, d)
    return parser


def _worker_count(text):
    from depthcam.relay.workers import worker_count

    try:
        return worker_count(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (N or auto)") from exc


def _add_scaling_flags(parser, d):
    scaling = parser.add_argument_group("scaling (README: Scaling)")
    scaling.add_argument("--workers", type=_worker_count, default=d.workers, metavar="N|auto",
                         help="relay processes sharing the port (auto: one per core); a worker "
                              "that dies is restarted. Without --bus they join through a local hub")
    scaling.add_argument("--bus", default=d.bus, metavar="URL",
                         help="join other relays through Redis: redis://HOST[:PORT][/DB] or "
                              "rediss://... (TLS); none: this relay alone")
    scaling.add_argument("--bus-password-file", type=Path, default=d.bus_password_file,
                         help="file holding the Redis password; without it, $DEPTHCAM_BUS_PASSWORD "
                              "is read (none: no AUTH)")
    scaling.add_argument("--bus-ca-file", type=Path, default=d.bus_ca_file,
                         help="PEM certificate of the CA that signed a rediss:// server's "
                              "certificate; none: the system's trust store")
    scaling.add_argument("--upstream", default=d.upstream, metavar="URL",
                         help="re-broadcast stream NAME of another relay, watching "
                              "ws[s]://HOST[:PORT]/view/NAME as a viewer (with --workers: worker 0 "
                              "watches it; on a bus, give it to one relay only)")
    scaling.add_argument("--upstream-ca-file", type=Path, default=d.upstream_ca_file,
                         help="PEM certificate of the CA that signed a wss:// upstream's "
                              "certificate; none: the system's trust store")
    scaling.add_argument("--reuse-port", action="store_true", default=d.reuse_port,
                         help="listen with SO_REUSEPORT beside other relays on the same port "
                              "(what --workers does for its workers)")
    scaling.add_argument("--worker", action="store_true", default=d.worker,
                         help="run as a worker of a --workers supervisor: stop when it goes (its "
                              "pipe on stdin closes); set by the supervisor, not for use by hand")
    scaling.add_argument("--worker-hub", type=Path, default=d.worker_hub,
                         help="Unix socket of a --workers supervisor's local hub; set by the "
                              "supervisor for its workers, not for use by hand")


def _build_link(config, reactor):
    """The BusLink of --bus or --worker-hub, or None for a relay on its own."""
    from depthcam.relay.bus import BusLink

    if config.bus is not None:
        from depthcam.relay.redisbus import RedisBus, parse_bus_url, read_bus_password

        bus = RedisBus(parse_bus_url(config.bus), read_bus_password(config.bus_password_file),
                       config.bus_ca_file, reactor)
    elif config.worker_hub is not None:
        from depthcam.relay.hub import HubBus

        bus = HubBus(config.worker_hub, reactor)
    else:
        return None
    return BusLink(bus, reactor)


def config_from_args(args):
    """The RelayConfig of parsed arguments."""
    return RelayConfig(
        host=args.host,
        port=args.port,
        max_message_bytes=args.max_message_bytes,
        max_streams=args.max_streams,
        max_viewers=args.max_viewers,
        max_viewers_per_stream=args.max_viewers_per_stream,
        max_lag_s=args.max_lag,
        max_unsent_bytes=args.max_unsent_bytes,
        stuck_timeout_s=args.stuck_timeout,
        viewer_socket_buffer_bytes=args.viewer_socket_buffer_bytes,
        handshake_timeout_s=args.handshake_timeout,
        ping_interval_s=args.ping_interval,
        ping_timeout_s=args.ping_timeout,
        max_connections_per_address=args.max_connections_per_address,
        max_handshakes_per_address=args.max_handshakes_per_address,
        allowed_origins=tuple(args.allowed_origin),
        public_stats=args.public_stats,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        client_dir=args.client_dir,
        default_stream=args.default_stream,
        workers=args.workers,
        bus=args.bus,
        bus_password_file=args.bus_password_file,
        bus_ca_file=args.bus_ca_file,
        # A supervisor's workers but the first get `--upstream ""`: none.
        upstream=args.upstream or None,
        upstream_ca_file=args.upstream_ca_file,
        reuse_port=args.reuse_port,
        worker=args.worker,
        worker_hub=args.worker_hub,
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if (config.tls_cert is None) != (config.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    try:
        token_check = BearerTokenCheck(read_token(args.token_file))
    except TokenConfigError as exc:
        parser.error(str(exc))

    from twisted.internet import reactor, task
    from twisted.logger import (
        FilteringLogObserver, Logger, LogLevel, LogLevelFilterPredicate, globalLogBeginner,
        textFileLogObserver,
    )

    from depthcam.broadcast import tls
    from depthcam.relay.resources import build_relay

    levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(args.log_level))
    # The bus's reconnecting (ClientService) says "Scheduling retry" at each attempt; the bus
    # itself logs one line per loss or run of refusals.
    quieter = LOG_LEVELS[max(LOG_LEVELS.index(args.log_level), LOG_LEVELS.index("warn"))]
    levels.setLogLevelForNamespace("twisted.application._client_service",
                                   LogLevel.levelWithName(quieter))
    globalLogBeginner.beginLoggingTo([FilteringLogObserver(textFileLogObserver(sys.stderr), [levels])])
    log = Logger(namespace="depthcam.relay")
    if config.workers > 1 and not config.worker:
        from depthcam.relay.workers import run_supervisor

        run_supervisor(config, argv, reactor)
        return
    before, after = raise_fd_limit()
    log.info("open-file limit: {after} (was {before}): at most about that many connections",
             before=before, after=after)
    try:
        link = _build_link(config, reactor)
        relay = build_relay(config, token_check, reactor, link)
        upstream = None
        if config.upstream:
            from depthcam.relay.upstream import UpstreamFactory

            upstream = UpstreamFactory(config.upstream, relay.registry, reactor,
                                       config.upstream_ca_file)
    except (ValueError, tls.TLSConfigError) as exc:
        parser.error(str(exc))
    certificate = None
    if config.tls_cert is not None:
        try:
            certificate = tls.ReloadingCertificate(config.tls_cert, config.tls_key)
        except tls.TLSConfigError as exc:
            parser.error(str(exc))
        tls.reload_on_sighup(certificate, reactor)
    if config.reuse_port:
        from depthcam.relay.workers import listen_reuse_port

        if certificate is not None:
            # TLS inside the per-address guard, as tls.listen puts it: the guard's caps cover
            # TLS handshakes, and Autobahn sees the TLS transport itself.
            relay.site.insert_tls(certificate)
        port = listen_reuse_port(reactor, config.host, config.port, relay.site)
    else:
        port = tls.listen(reactor, config.port, relay.site, config.host, certificate)
    if link is not None:
        link.start()
    if config.worker:
        from depthcam.relay.workers import stop_with_supervisor

        stop_with_supervisor(reactor)
    if upstream is not None:
        upstream.start()
    address = port.getHost()
    log.info(
        "relay on {scheme}://{host}:{port}/ (sources: /source/<name>, viewers: /view/<name> and "
        "/ws, stats: /stats)",
        scheme="https" if certificate else "http", host=address.host, port=address.port,
    )

    def close_connections():
        relay.close_connections()
        return task.deferLater(reactor, SHUTDOWN_GRACE_S, lambda: None)

    reactor.addSystemEventTrigger("before", "shutdown", close_connections)
    reactor.run()


if __name__ == "__main__":
    main()
