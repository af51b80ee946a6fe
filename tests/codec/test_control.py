"""Tests for depthcam.codec.control: what a viewer may send."""

import pytest

from depthcam.codec.control import (
    CLOSE_POLICY_VIOLATION, CLOSE_UNSUPPORTED_DATA, ControlMessageError, ControlType,
    parse_control_message,
)


def test_resync_is_allowed():
    """{"type": "resync"} parses to a RESYNC message."""
    assert parse_control_message(b'{"type": "resync"}', False).type is ControlType.RESYNC


ILLEGAL = [
    (b'{"type": "resync"}', True, CLOSE_UNSUPPORTED_DATA),
    (b"\x00\x01", True, CLOSE_UNSUPPORTED_DATA),
    (b"hello", False, CLOSE_POLICY_VIOLATION),
    (b"", False, CLOSE_POLICY_VIOLATION),
    (b'{"type": "reboot"}', False, CLOSE_POLICY_VIOLATION),
    (b'{"kind": "resync"}', False, CLOSE_POLICY_VIOLATION),
    (b'["resync"]', False, CLOSE_POLICY_VIOLATION),
    (b'{"type": "resync", "pad": "' + b"x" * 300 + b'"}', False, CLOSE_POLICY_VIOLATION),
    (b"\xff\xfe", False, CLOSE_POLICY_VIOLATION),
]


@pytest.mark.parametrize("payload, is_binary, close_code", ILLEGAL)
def test_anything_else_names_its_close_code(payload, is_binary, close_code):
    """Binary is 1003, any other text 1008, each with a reason."""
    with pytest.raises(ControlMessageError) as raised:
        parse_control_message(payload, is_binary)
    assert raised.value.close_code == close_code
    assert raised.value.reason
