"""Feeding a vector file's stream to the Python decoder: one loop for every vector file."""

import base64

import pytest

from depthcam.codec import StreamDecoder, errors
from depthcam.codec.vectors import header_fields


def decoded_frames(stream):
    """Feed the stream's messages in order to a fresh decoder, checking each expected error on the way.

    Yields ``(decoded, expect)`` for every frame that decodes, after checking its header.
    """
    decoder = StreamDecoder()
    for frame in stream["frames"]:
        message = base64.b64decode(frame["message"])
        expect = frame["expect"]
        if "error" in expect:
            with pytest.raises(errors.CodecError) as raised:
                decoder.decode(message)
            assert type(raised.value).__name__ == expect["error"]
            continue
        decoded = decoder.decode(message)
        assert header_fields(decoded.header) == expect["header"]
        yield decoded, expect
