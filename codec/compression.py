"""LZMA in the ``.lzma`` container, as FORMAT.md's classic profile lays it out."""

import lzma

from depthcam.codec import errors

DICTIONARY_BYTES = 1 << 18
# Literal/position context bits: 8-bit depth codes have no multi-byte structure for LZMA's
# default context (lc=3 pb=2) to exploit: lc=0 lp=0 pb=0 measured 1 % smaller, as fast.
LZMA_FILTERS = [
    {"id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": DICTIONARY_BYTES, "lc": 0, "lp": 0, "pb": 0}
]


def compress(data):
    """``data`` (bytes-like) as a .lzma stream."""
    return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=LZMA_FILTERS)


def decompress(payload, expected_size):
    """The bytes of a .lzma ``payload``, which must be exactly ``expected_size`` long."""
    decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    try:
        # One byte over the expected size is enough to tell "too long" without inflating a bomb.
        data = decompressor.decompress(bytes(payload), max_length=expected_size + 1)
    except lzma.LZMAError as exc:
        raise errors.CorruptPayloadError(f"payload does not decompress: {exc}") from exc
    if len(data) != expected_size or not decompressor.eof:
        raise errors.CorruptPayloadError(
            f"payload decompresses to {len(data)}{'' if decompressor.eof else '+ (unfinished)'}"
            f" bytes, expected {expected_size}"
        )
    return data
