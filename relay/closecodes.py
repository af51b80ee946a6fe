"""The WebSocket close codes the relay sends, and the one call that sends any of them.

==== ======================================================================================
code when
==== ======================================================================================
1001 the relay is shutting down (``GOING_AWAY``): sources and viewers should reconnect
1003 a viewer sent a binary message, or a source a text message (``UNSUPPORTED_DATA``)
1008 a viewer sent text that is not a control message of FORMAT.md (``POLICY_VIOLATION``)
1009 a message over the size limit; Autobahn's ``maxMessagePayloadSize`` sends it
4001 a newer source with a valid token took this stream over (``SOURCE_REPLACED``)
==== ======================================================================================

A viewer stuck past its timeout is dropped without a close frame (it is not reading, so the
frame would never arrive); its browser sees 1006.
"""

import enum

from autobahn.util import encode_truncate

from depthcam.codec import control, publishing

# RFC 6455 allows close reasons of at most 123 bytes.
MAX_CLOSE_REASON_BYTES = 123


class RelayCloseCode(enum.IntEnum):
    """Close codes the relay sends (see the module docstring)."""

    GOING_AWAY = 1001
    UNSUPPORTED_DATA = control.CLOSE_UNSUPPORTED_DATA
    POLICY_VIOLATION = control.CLOSE_POLICY_VIOLATION
    MESSAGE_TOO_BIG = 1009
    SOURCE_REPLACED = publishing.CLOSE_SOURCE_REPLACED


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
