"""What a viewer may send: the control messages of FORMAT.md, parsed without I/O.

Servers (the direct source and the relay) map a ``ControlMessageError`` to a WebSocket close
with its ``close_code`` and ``reason``.
"""

import enum
import json
from dataclasses import dataclass

# RFC 6455 close codes used for refused viewer input.
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008
# Control messages are tiny; anything longer is not one.
MAX_CONTROL_BYTES = 256


class ControlType(enum.Enum):
    """Control messages a viewer may send."""

    RESYNC = "resync"  # "send me an absolute frame now" (after a decode error)


class ControlMessageError(Exception):
    """A viewer sent something that is not an allowed control message."""

    def __init__(self, close_code, reason):
        super().__init__(reason)
        self.close_code = close_code
        self.reason = reason


@dataclass(frozen=True)
class ControlMessage:
    """One allowed control message from a viewer."""

    type: ControlType


def parse_control_message(payload, is_binary):
    """The ControlMessage in one viewer message, or raise ControlMessageError."""
    if is_binary:
        raise ControlMessageError(CLOSE_UNSUPPORTED_DATA, "viewers may not send binary messages")
    if len(payload) > MAX_CONTROL_BYTES:
        raise ControlMessageError(CLOSE_POLICY_VIOLATION, "control message too long")
    try:
        fields = json.loads(payload)
        return ControlMessage(ControlType(fields["type"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise ControlMessageError(
            CLOSE_POLICY_VIOLATION,
            'unknown control message (allowed: {"type": "resync"})',
        ) from exc
