"""Control messages (FORMAT.md, *Control messages*), parsed and written without I/O.

A viewer may send ``{"type": "resync"}``; the relay tells its source how many viewers watch with
``{"type": "viewers", "count": N}``. Anything else a viewer sends is refused with a close code.
"""

import enum
import json
from dataclasses import dataclass

from depthcam.protocol.closecodes import CloseCode

# Control messages are tiny; anything longer is not one.
MAX_CONTROL_BYTES = 256


class ControlType(enum.Enum):
    """Control messages: ``RESYNC`` from a viewer, ``VIEWERS`` from a relay to its source."""

    RESYNC = "resync"  # "send me an absolute frame now" (after a decode error)
    VIEWERS = "viewers"  # "this many viewers watch your stream now"


class ControlMessageError(Exception):
    """A peer sent something that is not an allowed control message."""

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
        raise ControlMessageError(CloseCode.UNSUPPORTED_DATA, "viewers may not send binary messages")
    if len(payload) > MAX_CONTROL_BYTES:
        raise ControlMessageError(CloseCode.POLICY_VIOLATION, "control message too long")
    try:
        fields = json.loads(payload)
        if fields["type"] != ControlType.RESYNC.value:
            raise ValueError("viewers send only resync")
        return ControlMessage(ControlType.RESYNC)
    except (ValueError, TypeError, KeyError) as exc:
        raise ControlMessageError(
            CloseCode.POLICY_VIOLATION,
            'unknown control message (allowed: {"type": "resync"})',
        ) from exc


def viewers_message(count):
    """The relay's text message telling its source that ``count`` viewers watch (UTF-8 bytes)."""
    return json.dumps({"type": ControlType.VIEWERS.value, "count": int(count)}).encode("utf-8")


def parse_viewers_message(payload):
    """The viewer count in a relay's message to its source; raise ControlMessageError if it is not one."""
    try:
        if len(payload) > MAX_CONTROL_BYTES:
            raise ValueError("too long")
        fields = json.loads(payload)
        count = fields["count"]
        if ControlType(fields["type"]) is not ControlType.VIEWERS or type(count) is not int or count < 0:
            raise ValueError("not a viewer count")
    except (ValueError, TypeError, KeyError) as exc:
        raise ControlMessageError(CloseCode.POLICY_VIOLATION, "not a viewers message") from exc
    return count
