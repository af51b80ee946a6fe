"""FORMAT.md's residual coding: wrapped 16-bit residuals as 2-bit crumbs, escape bytes and words.

Most residuals of a good prediction are 0 or ±1. Zigzag maps them to 0, 1, 2, which fit a 2-bit
crumb; larger ones take crumb 3 plus an escape byte, and the rare huge ones an escape word. Packed
this way the zstd stage after it (Huffman literals, at least 1 bit a symbol) sees four pixels in
each byte, which measured 13–28 % smaller than one byte a pixel on the real recordings.
"""

import numpy as np

from depthcam.codec import errors

CRUMB_ESCAPE = 3  # crumbs 0…2 are the zigzagged residual itself
BYTE_ESCAPE = 255  # escape bytes 0…254 add to CRUMB_ESCAPE; 255 defers to a word
WORD_BASE = CRUMB_ESCAPE + BYTE_ESCAPE
CRUMBS_PER_BYTE = 4


def zigzag(residual):
    """Signed residuals (int32, wrapped to −32768…32767) as 0, −1 → 1, 1 → 2, … (uint16)."""
    residual = ((residual + 32768) & 0xFFFF) - 32768
    return ((residual << 1) ^ (residual >> 31)).astype(np.uint16)


def unzigzag(unsigned):
    """Undo ``zigzag``: uint16 in, the residual mod 2^16 out (uint16, so sums wrap as FORMAT.md says)."""
    unsigned = unsigned.astype(np.uint16)
    return (unsigned >> 1) ^ (np.uint16(0) - (unsigned & 1))


def packed_size(count):
    """Bytes of the crumb section for ``count`` residuals."""
    return -(-count // CRUMBS_PER_BYTE)


def max_encoded_size(count):
    """The most bytes ``pack`` can give for ``count`` residuals (every one a word escape)."""
    return packed_size(count) + count + 2 * count


def pack(unsigned):
    """The crumb, escape-byte and escape-word sections (bytes) of zigzagged residuals (uint16, flat)."""
    unsigned = unsigned.ravel()
    crumbs = np.minimum(unsigned, CRUMB_ESCAPE).astype(np.uint8)
    padded = np.zeros(packed_size(crumbs.size) * CRUMBS_PER_BYTE, np.uint8)
    padded[:crumbs.size] = crumbs
    packed = (padded[0::4] << 6) | (padded[1::4] << 4) | (padded[2::4] << 2) | padded[3::4]
    beyond = unsigned[crumbs == CRUMB_ESCAPE] - CRUMB_ESCAPE
    escape_bytes = np.minimum(beyond, BYTE_ESCAPE).astype(np.uint8)
    escape_words = (beyond[escape_bytes == BYTE_ESCAPE] - BYTE_ESCAPE).astype("<u2")
    return packed.tobytes() + escape_bytes.tobytes() + escape_words.tobytes()


def unpack(data, offset, count):
    """``count`` zigzagged residuals (uint16) packed in ``data`` from ``offset``; they must end it.

    Raises CorruptPayloadError when the sections are short, long, or the padding is not zero.
    """
    data = memoryview(data)
    end = offset + packed_size(count)
    if len(data) < end:
        raise errors.CorruptPayloadError(
            f"residuals cut short: {len(data) - offset} of {end - offset}+ bytes"
        )
    packed = np.frombuffer(data[offset:end], np.uint8)
    crumbs = np.empty(packed.size * CRUMBS_PER_BYTE, np.uint8)
    for position in range(CRUMBS_PER_BYTE):  # the first pixel sits in the top two bits
        crumbs[position::CRUMBS_PER_BYTE] = (packed >> (6 - 2 * position)) & 3
    if crumbs[count:].any():
        raise errors.CorruptPayloadError("residual padding is not zero")
    unsigned = crumbs[:count].astype(np.uint16)
    escaped = np.flatnonzero(unsigned == CRUMB_ESCAPE)
    if len(data) < end + escaped.size:
        raise errors.CorruptPayloadError(f"{escaped.size} escape bytes expected, {len(data) - end} left")
    escape_bytes = np.frombuffer(data[end:end + escaped.size], np.uint8)
    end += escaped.size
    worded = escaped[escape_bytes == BYTE_ESCAPE]
    if len(data) != end + 2 * worded.size:
        raise errors.CorruptPayloadError(
            f"{worded.size} escape words expected, {len(data) - end} bytes left"
        )
    unsigned[escaped] += escape_bytes
    unsigned[worded] = np.frombuffer(data[end:], "<u2") + np.uint16(WORD_BASE)
    return unsigned
