"""close_with: the one call that starts a WebSocket closing handshake with a CloseCode and reason."""

from autobahn.util import encode_truncate

from depthcam.protocol.closecodes import MAX_CLOSE_REASON_BYTES


def close_with(protocol, code, reason):
    """Start the closing handshake of an Autobahn ``protocol`` with ``code`` and ``reason``.

    Autobahn's ``sendClose`` accepts only 1000 and 3000-4999, so the RFC 6455 codes go through
    ``sendCloseFrame``; its ``closeHandshakeTimeout`` then drops a peer that never answers.
    """
    protocol.sendCloseFrame(
        code=int(code),
        reasonUtf8=encode_truncate(reason, MAX_CLOSE_REASON_BYTES),
        isReply=False,
    )
