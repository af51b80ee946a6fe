"""RelayConfig: every setting of a relay, one frozen dataclass with safe defaults.

``__main__.py`` builds it from the command line; tests and the bench build it directly. The publish
token is not part of it (a config gets printed and logged): see ``auth.py``.
"""

from dataclasses import dataclass
from pathlib import Path

from depthcam.broadcast.clientdir import client_dir
from depthcam.codec.header import HEADER_SIZE, MAX_PAYLOAD_BYTES
from depthcam.codec.publishing import DEFAULT_STREAM
from depthcam.relay.fanout import Fanout
from depthcam.relay.registry import StreamRegistry

DEFAULT_PORT = 9000
# The viewer page of the installed package (a wheel's copy, or the checkout's client/).
DEFAULT_CLIENT_DIR = client_dir()
# The largest frame FORMAT.md allows; Autobahn closes a source that sends more with 1009.
MAX_SOURCE_MESSAGE_BYTES = HEADER_SIZE + MAX_PAYLOAD_BYTES
# Time for a client to send its HTTP request and finish the WebSocket opening handshake; also
# how long an idle HTTP keep-alive connection is kept.
HANDSHAKE_TIMEOUT_S = 10.0
# Every connection is pinged this often, and dropped when no pong (or other data) comes back
# within PING_TIMEOUT_S: the idle timeout for half-dead sources and viewers.
PING_INTERVAL_S = 10.0
PING_TIMEOUT_S = 20.0
# A kernel send buffer per viewer socket: it bounds how stale a slow viewer's picture can get
# before the relay's own budget (Fanout.MAX_UNSENT_BYTES) sees it; Linux doubles the value.
# 0 leaves the kernel's autotuning (up to several MB) in charge.
VIEWER_SOCKET_BUFFER_BYTES = 128 * 1024


@dataclass(frozen=True)
class RelayConfig:
    """The relay's settings; each field is one command-line flag (see ``__main__.py``)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_message_bytes: int = MAX_SOURCE_MESSAGE_BYTES
    max_streams: int = StreamRegistry.MAX_STREAMS
    max_viewers: int = StreamRegistry.MAX_VIEWERS
    max_viewers_per_stream: int = StreamRegistry.MAX_VIEWERS_PER_STREAM
    max_unsent_bytes: int = Fanout.MAX_UNSENT_BYTES
    stuck_timeout_s: float = Fanout.STUCK_TIMEOUT_S
    viewer_socket_buffer_bytes: int = VIEWER_SOCKET_BUFFER_BYTES
    handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S
    ping_interval_s: float = PING_INTERVAL_S
    ping_timeout_s: float = PING_TIMEOUT_S
    allowed_origins: tuple = ()  # empty: viewers from any origin
    client_dir: Path = DEFAULT_CLIENT_DIR
    default_stream: str = DEFAULT_STREAM
