"""Tests for depthcam.protocol.control: what a viewer may send."""

import pytest

from depthcam.protocol.closecodes import CloseCode
from depthcam.protocol.control import (
    ControlMessageError, ControlType, parse_control_message, parse_viewers_message, viewers_message,
)


def test_resync_is_allowed():
    """{"type": "resync"} parses to a RESYNC message."""
    assert parse_control_message(b'{"type": "resync"}', False).type is ControlType.RESYNC


ILLEGAL = [
    (b'{"type": "resync"}', True, CloseCode.UNSUPPORTED_DATA),
    (b"\x00\x01", True, CloseCode.UNSUPPORTED_DATA),
    (b"hello", False, CloseCode.POLICY_VIOLATION),
    (b"", False, CloseCode.POLICY_VIOLATION),
    (b'{"type": "reboot"}', False, CloseCode.POLICY_VIOLATION),
    (b'{"kind": "resync"}', False, CloseCode.POLICY_VIOLATION),
    (b'["resync"]', False, CloseCode.POLICY_VIOLATION),
    (b'{"type": "resync", "pad": "' + b"x" * 300 + b'"}', False, CloseCode.POLICY_VIOLATION),
    (b"\xff\xfe", False, CloseCode.POLICY_VIOLATION),
]


@pytest.mark.parametrize("payload, is_binary, close_code", ILLEGAL)
def test_anything_else_names_its_close_code(payload, is_binary, close_code):
    """Binary is 1003, any other text 1008, each with a reason."""
    with pytest.raises(ControlMessageError) as raised:
        parse_control_message(payload, is_binary)
    assert raised.value.close_code == close_code
    assert raised.value.reason


def test_a_viewer_may_not_send_the_relays_viewer_count():
    """{"type": "viewers"} is the relay's message to a source; from a viewer it is refused."""
    with pytest.raises(ControlMessageError) as caught:
        parse_control_message(viewers_message(3), False)
    assert caught.value.close_code == CloseCode.POLICY_VIOLATION


def test_viewer_count_message_round_trips():
    """What the relay writes, a source reads back as the same count."""
    for count in (0, 1, 1999):
        assert parse_viewers_message(viewers_message(count)) == count


@pytest.mark.parametrize("payload", [
    b'{"type": "resync"}', b'{"type": "viewers"}', b'{"type": "viewers", "count": -1}',
    b'{"type": "viewers", "count": "3"}', b'{"type": "viewers", "count": true}', b"[]", b"x",
    b'{"type": "viewers", "count": 1, "pad": "' + b"x" * 300 + b'"}',
])
def test_anything_else_is_not_a_viewer_count(payload):
    """Only a well-formed viewers message with a count of 0 or more parses."""
    with pytest.raises(ControlMessageError):
        parse_viewers_message(payload)
