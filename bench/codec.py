"""Benchmark of the classic profile: bytes, KB/s and speed on the built-in scene and real recordings.

    python bench/codec.py [DIR ...]       (or: make bench ARGS='DIR ...')

Without arguments it measures the built-in scene and every recording in ../shared/data/;
DIR may be a fakenect dump folder (d-*.pgm) or a folder of 16-bit depth PNGs (mm).
Each table compares, in the same run, the classic profile (LZMA), the same code stream with
zlib and bz2 in LZMA's place, and the 2012 wire (--wire legacy). Further tables justify the
classic profile's choices: block reduction, quantization mapping and the temporal median.
Times are per frame on one core, medians of the run; compare ratios, not seconds.
"""

import argparse
import bz2
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from depthcam.codec import ClassicEncoder, LegacyEncoder, StreamDecoder
from depthcam.codec.classic import apply_delta, encode_delta
from depthcam.codec.header import parse_header
from depthcam.codec.legacy import decode_legacy
from depthcam.codec.quantization import NO_READING_CODE, InverseDepthQuantizer
from depthcam.codec.reduction import nearest_surface, subsample
from depthcam.codec.temporal import MedianOfThree
from depthcam.codec.units import to_millimetres, to_raw_disparity
from depthcam.source.recordings import read_recording_dir

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FPS = 30
SCENE_FRAMES = 180
NEAR_BAND_MM = 2000  # the quantization table splits its error at this depth


def scene_frames(count=SCENE_FRAMES):
    """The built-in scene's first ``count`` frames at 30 Hz."""
    from depthcam.codec import DepthFrame, DepthUnits
    from depthcam.source.scene import SyntheticScene

    scene = SyntheticScene()
    return [DepthFrame(scene.render(index / FPS), DepthUnits.RAW_DISPARITY, index / FPS)
            for index in range(count)]


def table(title, header, rows):
    """Print a Markdown table."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def ms(seconds):
    return f"{statistics.median(seconds) * 1e3:.2f}"


def byte_columns(sizes, keyframes):
    key = [size for size, is_key in zip(sizes, keyframes) if is_key]
    delta = [size for size, is_key in zip(sizes, keyframes) if not is_key]
    mean = float(np.mean(sizes))
    return [f"{np.mean(key):.0f}" if key else "–", f"{np.mean(delta):.0f}" if delta else "–",
            f"{mean:.0f}", f"{mean * FPS / 1000:.1f}"]


def classic_rows(frames):
    """Rows for the classic profile with LZMA, zlib and bz2, and the 2012 wire."""
    encoder = ClassicEncoder(keyframe_interval=2 * FPS)
    messages, encode_s = [], []
    for frame in frames:
        message, seconds = timed(encoder.encode, frame)
        messages.append(message)
        encode_s.append(seconds)
    decoder = StreamDecoder()
    decoded, decode_s = [], []
    for message in messages:
        result, seconds = timed(decoder.decode, message)
        decoded.append(result.codes)
        decode_s.append(seconds)
    keyframes = [parse_header(message)[0].is_keyframe for message in messages]
    rows = [["classic (LZMA)", *byte_columns([len(m) for m in messages], keyframes), ms(encode_s), ms(decode_s)]]

    # The same code stream with another compressor: the pipeline's own time plus its (de)compression.
    pipeline_s = [max(0.0, e) for e in encode_s]
    bodies = [codes if key else encode_delta(codes, previous)
              for codes, previous, key in zip(decoded, [None, *decoded[:-1]], keyframes)]
    lzma_compress_s = []
    for body in bodies:
        from depthcam.codec import compression
        lzma_compress_s.append(timed(compression.compress, body.tobytes())[1])
    pipeline_s = [e - c for e, c in zip(encode_s, lzma_compress_s)]
    for name, compress, decompress in (
        ("classic + zlib -9", lambda b: zlib.compress(b, 9), zlib.decompress),
        ("classic + bz2 -9", lambda b: bz2.compress(b, 9), bz2.decompress),
    ):
        sizes, compress_s, decompress_s = [], [], []
        previous = None
        for body, key in zip(bodies, keyframes):
            payload, seconds = timed(compress, body.tobytes())
            compress_s.append(seconds)
            sizes.append(len(payload) + 40)
            start = time.perf_counter()
            restored = np.frombuffer(decompress(payload), np.uint8).reshape(body.shape)
            previous = restored if key else apply_delta(restored, previous)
            decompress_s.append(time.perf_counter() - start)
        encode = [p + c for p, c in zip(pipeline_s, compress_s)]
        rows.append([name, *byte_columns(sizes, keyframes), ms(encode), ms(decompress_s)])

    legacy = LegacyEncoder()
    legacy_messages, legacy_encode_s, legacy_decode_s = [], [], []
    for frame in frames:
        message, seconds = timed(legacy.encode, frame)
        legacy_messages.append(message)
        legacy_encode_s.append(seconds)
    previous = None
    for message in legacy_messages:
        (_, _, previous), seconds = timed(decode_legacy, message, previous)
        legacy_decode_s.append(seconds)
    rows.append(["2012 wire (legacy)", *byte_columns([len(m) for m in legacy_messages],
                                                     [m[0] == 1 for m in legacy_messages]),
                 ms(legacy_encode_s), ms(legacy_decode_s)])
    return rows


def reduction_rows(frames):
    """Subsampling against the nearest-surface block reduction."""
    rows = []
    quantizer = InverseDepthQuantizer()
    for name, reduce in (("subsample (2012)", subsample), ("block mean of readings", block_mean),
                         ("nearest-surface (classic)", nearest_surface)):
        median = MedianOfThree()
        codes, flying, seconds = [], [], []
        for frame in frames:
            depth = to_millimetres(frame)
            reduced, elapsed = timed(reduce, depth)
            seconds.append(elapsed)
            codes.append(median(quantizer.to_codes(reduced)))
            flying.append(flying_share(depth, reduced))
        holes = np.mean([(c == NO_READING_CODE).mean() for c in codes])
        flicker = np.mean([temporal_step(a, b) for a, b in zip(codes, codes[1:])])
        sizes = stream_sizes(codes)
        rows.append([name, f"{np.mean(sizes):.0f}", f"{holes:.1%}", f"{flicker:.2f}",
                     f"{np.mean(flying):.2%}", ms(seconds)])
    return rows


def block_mean(depth_mm):
    """Plain mean of each block's readings: the alternative that invents depths at edges."""
    blocks = depth_mm.reshape(120, 4, 160, 4).swapaxes(1, 2).reshape(120, 160, 16).astype(np.float32)
    count = (blocks > 0).sum(axis=2)
    return np.divide(blocks.sum(axis=2), count, out=np.zeros((120, 160), np.float32), where=count >= 4)


def flying_share(depth_mm, reduced_mm):
    """Share of reduced pixels more than 5 % away from every reading of their block."""
    blocks = depth_mm.reshape(120, 4, 160, 4).swapaxes(1, 2).reshape(120, 160, 16).astype(np.float32)
    valid = (blocks > 0) & (reduced_mm[..., None] > 0)
    distance = np.where(valid, np.abs(blocks - reduced_mm[..., None]) / np.maximum(blocks, 1), np.inf)
    has_value = reduced_mm > 0
    return float((distance.min(axis=2)[has_value] > 0.05).mean()) if has_value.any() else 0.0


def temporal_step(a, b):
    """Mean |code change| between two frames over pixels with a reading in both."""
    both = (a != NO_READING_CODE) & (b != NO_READING_CODE)
    return float(np.abs(a[both].astype(np.int16) - b[both]).mean())


def stream_sizes(code_frames, interval=2 * FPS):
    """Bytes per frame of a code stream with keyframes every ``interval`` (LZMA, classic settings)."""
    from depthcam.codec import compression

    sizes = []
    for index, codes in enumerate(code_frames):
        body = codes if index % interval == 0 else encode_delta(codes, code_frames[index - 1])
        sizes.append(len(compression.compress(body.tobytes())) + 40)
    return sizes


def quantization_rows(frames):
    """Depth error of three one-byte mappings against the source depth, on subsampled pixels."""
    inverse = InverseDepthQuantizer()
    linear_step = (inverse.far_mm - inverse.near_mm) / 254

    def original(frame):
        raw = to_raw_disparity(frame)[::4, ::4]
        codes = (np.minimum(raw, 1023) >> 2).astype(np.uint8)
        restored_raw = codes.astype(np.float64) * 4 + 1.5  # centre of the 4-count bin
        mm = 1000 / (restored_raw * -0.0030711016 + 3.3309495161)
        return codes, np.where(codes == 255, 0, mm)

    def linear_depth(frame):
        depth = to_millimetres(frame)[::4, ::4].astype(np.float64)
        valid = (depth > 0) & (depth <= inverse.far_mm)
        codes = np.where(valid, np.rint(np.clip((depth - inverse.near_mm) / linear_step, 0, 254)), 255)
        return codes.astype(np.uint8), np.where(codes == 255, 0, inverse.near_mm + codes * linear_step)

    def inverse_depth(frame):
        depth = to_millimetres(frame)[::4, ::4]
        codes = inverse.to_codes(depth)
        return codes, inverse.to_mm(codes).astype(np.float64)

    rows = []
    for name, mapping in (("2012: min(raw,1023)>>2", original),
                          (f"linear in depth {inverse.near_mm}–{inverse.far_mm} mm", linear_depth),
                          (f"linear in 1/depth {inverse.near_mm}–{inverse.far_mm} mm (classic)", inverse_depth)):
        errors, near_errors, far_errors, lost, code_frames = [], [], [], [], []
        for frame in frames:
            source = to_millimetres(frame)[::4, ::4].astype(np.float64)
            codes, restored = mapping(frame)
            code_frames.append(codes)
            has_source = source > 0
            kept = has_source & (restored > 0)
            error = np.abs(restored - source)
            errors.append(error[kept])
            near_errors.append(error[kept & (source < NEAR_BAND_MM)])
            far_errors.append(error[kept & (source >= NEAR_BAND_MM)])
            lost.append(1 - kept.sum() / max(1, has_source.sum()))
        error = np.concatenate(errors)
        sizes = stream_sizes(code_frames)
        near, far = np.concatenate(near_errors), np.concatenate(far_errors)
        rows.append([name, f"{error.mean():.1f}", f"{np.percentile(error, 99):.0f}",
                     f"{near.mean():.1f}" if near.size else "–", f"{far.mean():.1f}" if far.size else "–",
                     f"{np.mean(lost):.2%}", f"{np.mean(sizes):.0f}"])
    return rows


def median_rows(frames):
    """Bytes and flicker with and without the median of three."""
    encoder = ClassicEncoder()
    raw_codes = [encoder.quantize(frame) for frame in frames]
    median = MedianOfThree()
    filtered = [median(codes) for codes in raw_codes]
    rows = []
    for name, codes in (("no median", raw_codes), ("median of 3 (classic)", filtered)):
        flicker = np.mean([temporal_step(a, b) for a, b in zip(codes, codes[1:])])
        rows.append([name, f"{np.mean(stream_sizes(codes)):.0f}", f"{flicker:.2f}"])
    return rows


def streams(folders):
    if folders:
        for folder in folders:
            yield Path(folder).name, read_recording_dir(folder)
        return
    yield "built-in scene", scene_frames()
    if SHARED_DATA.is_dir():
        for folder in sorted(p for p in SHARED_DATA.iterdir() if p.is_dir()):
            yield folder.name, read_recording_dir(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", help="recording folders (default: the scene and ../shared/data/*)")
    args = parser.parse_args(argv)
    for name, frames in streams(args.folders):
        print(f"\n## {name} ({len(frames)} frames, 640x480 → 160x120)")
        table("bytes per frame and speed", ["stream", "keyframe B", "delta B", "mean B",
                                             "KB/s @30fps", "encode ms", "decode ms"], classic_rows(frames))
        table("block reduction", ["reduction", "mean B", "no reading", "mean |Δcode|/frame",
                                  "flying pixels", "ms"], reduction_rows(frames))
        table("quantization (subsampled pixels, no median)", ["mapping", "mean error mm", "p99 error mm",
                                                               f"mean < {NEAR_BAND_MM} mm", f"mean ≥ {NEAR_BAND_MM} mm",
                                                               "readings lost", "mean B"], quantization_rows(frames))
        table("temporal median", ["filter", "mean B", "mean |Δcode|/frame"], median_rows(frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
