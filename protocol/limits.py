"""Limits every WebSocket end applies: on what it RECEIVES, and its timeouts.

Autobahn's ``maxMessagePayloadSize`` limits what a protocol receives and, before Autobahn
checks it, what it sends too; the broadcast core therefore never applies an input limit to a
connection it writes frames to (see ``broadcast/viewer.py``), and enforces the viewer's own input
limit itself.
"""

from depthcam.codec.header import HEADER_SIZE, MAX_PAYLOAD_BYTES

# A viewer sends only control messages (control.MAX_CONTROL_BYTES); more than this is refused
# with 1009 without being read into memory.
MAX_VIEWER_MESSAGE_BYTES = 4096
# A source's messages are frames: the largest FORMAT.md allows (40-byte header + 4 MiB payload).
MAX_SOURCE_MESSAGE_BYTES = HEADER_SIZE + MAX_PAYLOAD_BYTES
# Time for a client to send its HTTP request and finish the WebSocket opening handshake.
OPEN_HANDSHAKE_TIMEOUT_S = 10.0
# Time the peer has to answer our close frame before the connection is dropped.
CLOSE_HANDSHAKE_TIMEOUT_S = 2.0
# Every connection is pinged this often and dropped when nothing comes back within the timeout:
# a sleeping laptop or a network that died without a reset.
AUTO_PING_INTERVAL_S = 10.0
AUTO_PING_TIMEOUT_S = 20.0
