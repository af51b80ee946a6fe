"""Every WebSocket close code depthcam sends, as one IntEnum.

==== ======================================================================================
code when
==== ======================================================================================
1000 a source stops and closes its relay connection (``NORMAL``)
1001 the relay is shutting down (``GOING_AWAY``): sources and viewers should reconnect
1003 a viewer sent a binary message, or a source a text message (``UNSUPPORTED_DATA``)
1008 a viewer sent text that is not a control message of FORMAT.md (``POLICY_VIOLATION``)
1009 a message over the size limit; Autobahn's ``maxMessagePayloadSize`` sends it
4001 a newer source with a valid token took this stream over (``SOURCE_REPLACED``)
==== ======================================================================================

A viewer that cannot keep up even with a skip to the newest keyframe is dropped without a close
frame (it is not reading, so the frame would never arrive); its browser sees 1006.
"""

import enum

# RFC 6455 allows close reasons of at most 123 bytes.
MAX_CLOSE_REASON_BYTES = 123


class CloseCode(enum.IntEnum):
    """Close codes depthcam sends (see the module docstring)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    SOURCE_REPLACED = 4001
