"""RVL (Wilson 2017, "Fast Lossless Depth Image Compression"), written from the paper, in numpy.

For bench/codec.py's reference rows only. The paper's format: pixels in scan order, 0 = no
reading; alternating runs, each pair a count of zeros, a count of non-zeros, then each non-zero as
the zigzag of its difference from the previous non-zero. Every number is a variable-length code of
3-bit nibbles (bit 3 set = more follow, low bits first), and the nibbles fill 32-bit words from the
top (the last word padded with zero nibbles), stored little-endian as the paper's C does on x86.
"""

import numpy as np

NIBBLES_PER_WORD = 8
# Where each nibble of a word sits: the first in the top four bits.
NIBBLE_SHIFTS = np.uint32(4) * np.arange(NIBBLES_PER_WORD - 1, -1, -1, dtype=np.uint32)


def _symbols(values):
    """The RVL number stream (int64) of flat values (0 = no reading)."""
    values = values.astype(np.int64)
    nonzero = values != 0
    edges = np.flatnonzero(np.diff(nonzero)) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.concatenate([starts, [values.size]]))
    kinds = nonzero[starts]
    if kinds[0]:  # the stream opens with a zero run, empty when the first pixel has a reading
        lengths, kinds = np.concatenate([[0], lengths]), np.concatenate([[False], kinds])
    if not kinds[-1]:  # and closes each pair with a non-zero run, empty after trailing zeros
        lengths, kinds = np.concatenate([lengths, [0]]), np.concatenate([kinds, [True]])
    zero_runs, nonzero_runs = lengths[0::2], lengths[1::2]
    readings = values[nonzero]
    deltas = np.diff(readings, prepend=0)
    zigzag = (deltas << 1) ^ (deltas >> 63)
    pairs = zero_runs.size
    before = np.concatenate([[0], np.cumsum(nonzero_runs)[:-1]])  # readings in earlier pairs
    head = 2 * np.arange(pairs) + before  # where each pair's zero count goes
    symbols = np.empty(2 * pairs + readings.size, np.int64)
    symbols[head], symbols[head + 1] = zero_runs, nonzero_runs
    is_delta = np.ones(symbols.size, bool)
    is_delta[head] = is_delta[head + 1] = False
    symbols[is_delta] = zigzag
    return symbols


def compress(values):
    """RVL bytes of a uint16 frame (0 = no reading)."""
    symbols = _symbols(values.ravel())
    bits = np.maximum(1, np.floor(np.log2(np.maximum(symbols, 1))).astype(np.int64) + 1)
    counts = -(-bits // 3)
    owner = np.repeat(np.arange(symbols.size), counts)
    position = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    nibbles = (symbols[owner] >> (3 * position)) & 7
    nibbles |= (position < counts[owner] - 1) << 3
    padded = np.zeros(-(-nibbles.size // NIBBLES_PER_WORD) * NIBBLES_PER_WORD, np.uint32)
    padded[:nibbles.size] = nibbles
    words = (padded.reshape(-1, NIBBLES_PER_WORD) << NIBBLE_SHIFTS).sum(axis=1, dtype=np.uint32)
    return words.astype("<u4").tobytes()


def decompress(data, shape):
    """The uint16 frame of RVL ``data``."""
    words = np.frombuffer(data, "<u4")
    nibbles = ((words[:, None] >> NIBBLE_SHIFTS) & 15).ravel().astype(np.int64)
    ends = (nibbles & 8) == 0
    group = np.concatenate([[0], np.cumsum(ends)[:-1]])
    starts = np.flatnonzero(np.concatenate([[True], ends[:-1]]))
    position = np.arange(nibbles.size) - starts[group]
    symbols = np.bincount(group, weights=(nibbles & 7) << (3 * position)).astype(np.int64)
    count = int(np.prod(shape))
    out = np.zeros(count, np.int64)
    delta_slices = []
    pixel = index = 0
    while pixel < count:  # one step per run pair: thousands a frame, not one per pixel
        zeros, nonzeros = int(symbols[index]), int(symbols[index + 1])
        delta_slices.append((index + 2, nonzeros, pixel + zeros))
        pixel += zeros + nonzeros
        index += 2 + nonzeros
    if delta_slices:
        take = np.concatenate([np.arange(s, s + n) for s, n, _ in delta_slices])
        where = np.concatenate([np.arange(p, p + n) for _, n, p in delta_slices])
        zigzag = symbols[take]
        deltas = (zigzag >> 1) ^ -(zigzag & 1)
        out[where] = np.cumsum(deltas)
    return out.astype(np.uint16).reshape(shape)
