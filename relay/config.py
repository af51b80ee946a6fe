"""RelayConfig: every setting of a relay, one frozen dataclass with safe defaults.

``__main__.py`` builds it from the command line; tests and the bench build it directly. The publish
token is not part of it (a config gets printed and logged): see ``auth.py``.
"""

from dataclasses import dataclass
from pathlib import Path

from depthcam.broadcast.admission import AddressCaps
from depthcam.broadcast.clientdir import find_client_dir
from depthcam.broadcast.fanout import Fanout
from depthcam.broadcast.viewer import ViewerFactory
from depthcam.protocol import limits
from depthcam.protocol.streams import DEFAULT_STREAM
from depthcam.relay.registry import StreamRegistry

DEFAULT_PORT = 9000


@dataclass(frozen=True)
class RelayConfig:
    """The relay's settings; each field is one command-line flag (see ``__main__.py``)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_message_bytes: int = limits.MAX_SOURCE_MESSAGE_BYTES
    max_streams: int = StreamRegistry.MAX_STREAMS
    max_viewers: int = StreamRegistry.MAX_VIEWERS
    max_viewers_per_stream: int = StreamRegistry.MAX_VIEWERS_PER_STREAM
    max_lag_s: float = Fanout.MAX_LAG_S
    max_unsent_bytes: int = Fanout.MAX_UNSENT_BYTES
    stuck_timeout_s: float = Fanout.STUCK_TIMEOUT_S
    viewer_socket_buffer_bytes: int = ViewerFactory.SOCKET_BUFFER_BYTES
    handshake_timeout_s: float = limits.OPEN_HANDSHAKE_TIMEOUT_S
    ping_interval_s: float = limits.AUTO_PING_INTERVAL_S
    ping_timeout_s: float = limits.AUTO_PING_TIMEOUT_S
    max_connections_per_address: int = AddressCaps.max_connections
    max_handshakes_per_address: int = AddressCaps.max_handshakes
    allowed_origins: tuple = ()  # empty: viewers from any origin
    tls_cert: Path | None = None  # PEM certificate chain: listen with TLS (wss://, https://)
    tls_key: Path | None = None  # its PEM private key
    public_stats: bool = False  # /stats names streams to anyone, not only to the token holder
    client_dir: Path = find_client_dir()
    default_stream: str = DEFAULT_STREAM
    # Scaling (README: Scaling). The bus password is not here, as the token is not.
    workers: int = 1  # relay processes sharing the port
    bus: str | None = None  # redis://HOST[:PORT][/DB] or rediss://... (TLS)
    bus_password_file: Path | None = None  # else $DEPTHCAM_BUS_PASSWORD
    bus_ca_file: Path | None = None  # PEM CA of a rediss:// server; none: the system's trust store
    upstream: str | None = None  # ws[s]://HOST[:PORT]/view/NAME to re-broadcast
    upstream_ca_file: Path | None = None  # PEM CA of a wss:// upstream; none: the system's
    reuse_port: bool = False  # listen with SO_REUSEPORT beside other relays
    worker: bool = False  # a --workers supervisor's worker: stop when it goes
    worker_hub: Path | None = None  # the supervisor's local hub (a Unix socket)
