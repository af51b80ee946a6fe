"""TCP acknowledged bytes: how many bytes a TCP peer has acknowledged, from Linux's ``TCP_INFO``.

``getsockopt(IPPROTO_TCP, TCP_INFO)`` fills a ``struct tcp_info`` (``linux/tcp.h``); its
``tcpi_bytes_acked`` (u64, RFC 4898's tcpEStatsAppHCThruOctetsAcked, Linux 4.1 and later) counts
the data bytes the peer's TCP has acknowledged: bytes that reached the peer's kernel, whether or
not its application has read them yet. On the accepting side it starts at 0 (the SYN is not
counted), so it is a position in the stream of bytes written to the socket.

One getsockopt per call: the fanout asks once per viewer per sweep, never per frame. Where this
cannot be known (not Linux, an old kernel, a socket that is not TCP, a TLS transport whose TCP
bytes are not the bytes written), ``acked_socket`` gives None and the caller falls back on
Twisted's producer contract alone.
"""

import socket
import struct

from twisted.internet.interfaces import ISSLTransport

# struct tcp_info: 8 u8 fields, 24 u32 fields, then u64 tcpi_pacing_rate, tcpi_max_pacing_rate,
# tcpi_bytes_acked: the offset of tcpi_bytes_acked, derived from the layout as linux/tcp.h gives it.
_TCP_INFO_UP_TO_BYTES_ACKED = struct.Struct("=8B24I2Q")
BYTES_ACKED = struct.Struct("=Q")
BYTES_ACKED_OFFSET = _TCP_INFO_UP_TO_BYTES_ACKED.size  # 120
TCP_INFO_BYTES = BYTES_ACKED_OFFSET + BYTES_ACKED.size  # what a kernel must fill for the field to be there

_TCP_INFO = getattr(socket, "TCP_INFO", None)  # Linux only


def bytes_acked(sock):
    """The bytes ``sock``'s peer has acknowledged so far (one getsockopt)."""
    return BYTES_ACKED.unpack_from(sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, TCP_INFO_BYTES),
                                   BYTES_ACKED_OFFSET)[0]


def plain_socket(transport):
    """The TCP socket under ``transport`` when what is written to the transport is what goes on
    that socket, or None: None for a TLS transport (its TCP carries records, not the bytes
    written) and a transport without a socket (tests' fakes, a pipe)."""
    if ISSLTransport.providedBy(transport):
        return None
    get_handle = getattr(transport, "getHandle", None)
    if get_handle is None:
        return None
    sock = get_handle()
    if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
        return None
    return sock


def acked_socket(transport):
    """The socket under ``transport`` whose acknowledged bytes ``bytes_acked`` can read, or None.

    None where ``plain_socket`` is None, or on a kernel without ``tcpi_bytes_acked``.
    """
    sock = None if _TCP_INFO is None else plain_socket(transport)
    if sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, TCP_INFO_BYTES)
    except OSError:
        return None
    if len(info) < TCP_INFO_BYTES:
        return None  # a kernel before 4.1: no tcpi_bytes_acked
    return sock
