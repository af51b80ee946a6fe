"""One Zstandard frame with its content size, as FORMAT.md's zstd payloads are laid out, checked strictly."""

import zstandard

from depthcam.codec import errors

# Zstandard's frame magic (RFC 8878, 3.1.1), little-endian on the wire: 28 B5 2F FD.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compress(data, level):
    """``data`` (bytes-like) as one zstd frame that states its content size, without checksum."""
    compressor = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return compressor.compress(bytes(data))


def decompress(payload, max_size):
    """The bytes of ``payload``, which must be exactly one zstd frame of at most ``max_size`` bytes.

    Raises CorruptPayloadError for anything else: another container, a frame without content
    size or over ``max_size`` (refused before any allocation), a cut or corrupt frame, trailing
    bytes, or output that disagrees with the stated size.
    """
    payload = bytes(payload)
    if not payload.startswith(ZSTD_MAGIC):
        raise errors.CorruptPayloadError(f"payload of {len(payload)} bytes is not a zstd frame")
    try:
        size = zstandard.frame_content_size(payload)
    except zstandard.ZstdError as exc:
        raise errors.CorruptPayloadError(f"zstd frame header is corrupt: {exc}") from exc
    if size < 0:
        raise errors.CorruptPayloadError("zstd frame does not state its content size")
    if size > max_size:
        raise errors.CorruptPayloadError(f"zstd frame holds {size} bytes, over the {max_size}-byte bound")
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    try:
        data = decompressor.decompress(payload)
    except zstandard.ZstdError as exc:
        raise errors.CorruptPayloadError(f"payload does not decompress: {exc}") from exc
    if not decompressor.eof or decompressor.unused_data or len(data) != size:
        raise errors.CorruptPayloadError(
            f"payload is not exactly one zstd frame of {size} bytes"
            f" ({len(data)} decoded, {'ended' if decompressor.eof else 'cut short'},"
            f" {len(decompressor.unused_data)} bytes after it)"
        )
    return data
