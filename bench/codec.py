"""Benchmark of the codec's profiles and reference coders: bytes, KB/s, speed and error per recording.

    python bench/codec.py [DIR ...]       (or: make bench ARGS='DIR ...')

Without arguments it measures the built-in scene and every recording in ../shared/data/;
DIR may be a fakenect dump folder (d-*.pgm) or a folder of 16-bit depth PNGs (mm).
The first table compares every profile (classic, classic-lzma, lossless, fine) with reference coders on the
same 640 x 480 frames (zlib, bz2, LZMA, zstd levels, 16-bit PNG, RVL): bytes per frame, ratio to
the raw 16-bit frame, KB/s, encode and decode ms, and for lossy rows the depth error against the
source. The next compares the classic codes' context-mixing coding (classic-cm) with their LZMA
coding (classic), the same code stream under zlib and bz2, and the 2012 wire (--wire legacy). Further tables justify the classic profile's choices: block
reduction, quantization mapping and the temporal median. Times are per frame on one core, medians
of the run; compare ratios, not seconds. Browser decode times: bench/browser_decode.py.
"""

import argparse
import bz2
import io
import lzma
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import zstandard
from PIL import Image

import rvl
from depthcam.codec import ClassicEncoder, DepthFrame, DepthUnits, LegacyEncoder, StreamDecoder, compression
from depthcam.codec.classic import Coding, apply_delta, encode_delta
from depthcam.codec.header import parse_header
from depthcam.codec.legacy import decode_legacy
from depthcam.codec.profiles import make_encoder
from depthcam.codec.quantization import NO_READING_CODE, InverseDepthQuantizer
from depthcam.codec.reduction import BLOCK, nearest_surface, subsample
from depthcam.codec.temporal import MedianOfThree
from depthcam.codec.units import RAW_OFFSET_PER_M, RAW_SLOPE_PER_M, to_millimetres, to_raw_disparity
from depthcam.source.recordings import read_recording_dir
from depthcam.source.scene import VISIT_PERIOD_S, SyntheticScene

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FPS = 30
# One whole cycle of the scene: the walker alone, then the visitor who comes close.
SCENE_FRAMES = round(VISIT_PERIOD_S * FPS)
NEAR_BAND_MM = 2000  # the quantization table splits its error at this depth
RAW_FRAME_BYTES = 640 * 480 * 2
# Reference coders run on every Nth frame: LZMA takes ~0.3 s a full frame.
REFERENCE_STRIDE = 6


def scene_frames(count=SCENE_FRAMES):
    """The built-in scene's first ``count`` frames at 30 Hz (default: its whole cycle)."""
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


def timed_each(function, items):
    """``function`` of each item, in order: the results and the seconds each call took."""
    results, seconds = [], []
    for item in items:
        result, elapsed = timed(function, item)
        results.append(result)
        seconds.append(elapsed)
    return results, seconds


def ms(seconds):
    return f"{statistics.median(seconds) * 1e3:.2f}"


def byte_columns(sizes, keyframes):
    key = [size for size, is_key in zip(sizes, keyframes) if is_key]
    delta = [size for size, is_key in zip(sizes, keyframes) if not is_key]
    mean = float(np.mean(sizes))
    return [f"{np.mean(key):.0f}" if key else "–", f"{np.mean(delta):.0f}" if delta else "–",
            f"{mean:.0f}", f"{mean * FPS / 1000:.1f}"]


def classic_rows(frames):
    """Rows for the classic codes: context mixing (classic-cm), LZMA (classic), the same stream
    under zlib and bz2, and the 2012 wire; the last column is each row's bytes over LZMA's."""
    encoder = ClassicEncoder(keyframe_interval=2 * FPS, coding=Coding.LZMA)
    messages, encode_s = timed_each(encoder.encode, frames)
    results, decode_s = timed_each(StreamDecoder().decode, messages)
    decoded = [result.codes for result in results]
    keyframes = [parse_header(message)[0].is_keyframe for message in messages]
    lzma_bytes = sum(map(len, messages))
    rows = [["classic (LZMA, profile 1)", *byte_columns([len(m) for m in messages], keyframes),
             ms(encode_s), ms(decode_s)]]

    context_encoder = ClassicEncoder(keyframe_interval=2 * FPS, coding=Coding.CONTEXT)
    context_messages, context_encode_s = timed_each(context_encoder.encode, frames)
    context_results, context_decode_s = timed_each(StreamDecoder().decode, context_messages)
    if any(not np.array_equal(a.codes, b.codes) for a, b in zip(results, context_results)):
        raise AssertionError("classic-cm decoded to other codes than LZMA")
    rows.insert(0, ["**classic-cm** (context mixing, profile 5)",
                    *byte_columns([len(m) for m in context_messages], keyframes),
                    ms(context_encode_s), ms(context_decode_s)])

    # The same code stream with another compressor: the pipeline's own time plus its (de)compression.
    bodies = [codes if key else encode_delta(codes, previous)
              for codes, previous, key in zip(decoded, [None, *decoded[:-1]], keyframes)]
    _, lzma_compress_s = timed_each(compression.compress, [body.tobytes() for body in bodies])
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

    legacy_messages, legacy_encode_s = timed_each(LegacyEncoder().encode, frames)
    legacy_decode_s = []
    previous = None
    for message in legacy_messages:
        (_, _, previous), seconds = timed(decode_legacy, message, previous)
        legacy_decode_s.append(seconds)
    rows.append(["2012 wire (legacy)", *byte_columns([len(m) for m in legacy_messages],
                                                     [m[0] == 1 for m in legacy_messages]),
                 ms(legacy_encode_s), ms(legacy_decode_s)])
    for row in rows:  # mean B/frame is column 3
        row.append(f"{float(row[3]) * len(frames) / lzma_bytes:.0%}")
    return rows


def _error_columns(frames, decoded_mm):
    """Mean and p99 |decoded − source| in mm over pixels with a reading in both, each decoded
    pixel standing for the source block it came from (so edges inside a block count: the error of
    the reduction as well as of the coding; the last column gives the coding's own)."""
    errors = []
    for frame, depth in zip(frames, decoded_mm):
        source = to_millimetres(frame).astype(np.int64)
        scale = source.shape[0] // depth.shape[0]
        upsampled = np.repeat(np.repeat(depth.astype(np.int64), scale, axis=0), scale, axis=1)
        both = (source > 0) & (upsampled > 0)
        errors.append(np.abs(upsampled - source)[both])
    error = np.concatenate(errors)
    return [f"{error.mean():.1f}", f"{np.percentile(error, 99):.0f}"]


def _size_columns(sizes, encode_s, decode_s):
    mean = float(np.mean(sizes))
    return [f"{mean:,.0f}", f"{RAW_FRAME_BYTES / mean:.1f}", f"{mean * FPS / 1000:,.0f}", ms(encode_s), ms(decode_s)]


def profile_row(name, frames, **options):
    """One profile's row: every frame through its encoder and a StreamDecoder."""
    encoder = make_encoder(name, keyframe_interval=2 * FPS, **options)
    decoder = StreamDecoder()
    sizes, encode_s, decode_s, decoded_mm, exact, bound = [], [], [], [], True, 0
    for frame in frames:
        message, seconds = timed(encoder.encode, frame)
        encode_s.append(seconds)
        decoded, seconds = timed(decoder.decode, message)
        decode_s.append(seconds)
        sizes.append(len(message))
        decoded_mm.append(decoded.depth_mm)
        exact = exact and decoded.codes.shape == frame.depth.shape and np.array_equal(decoded.codes, frame.depth)
        if name == "fine":  # the bound holds against the 320 x 240 block depths it codes
            reduced = encoder.reduce(frame).astype(np.int64)
            bound = max(bound, int(np.abs(decoded.codes.astype(np.int64) - reduced)[reduced > 0].max(initial=0)))
    error = ["0 (exact)", "0", "0"] if exact else [*_error_columns(frames, decoded_mm),
                                                    str(bound) if name == "fine" else "–"]
    label = {"classic": "**classic** 160×120 (classic-cm, profile 5)",
             "classic-lzma": "classic-lzma 160×120 (profile 1)", "lossless": "**lossless** 640×480 (profiles 2/3)",
             "fine": f"fine 320×240 ±{encoder.error_mm if name == 'fine' else ''} mm at 1.8 m (fine-inverse, profile 6)"}[name]
    return [label, *_size_columns(sizes, encode_s, decode_s), *error]


def _rvl_compress(values, units_raw):
    # RVL takes 0 as "no reading"; raw disparity says 2047, so shift by one (mod 2048) first.
    return rvl.compress(((values.astype(np.int32) + 1) & 2047).astype(np.uint16) if units_raw else values)


def _rvl_decompress(data, units_raw):
    values = rvl.decompress(data, (480, 640))
    return ((values.astype(np.int32) - 1) & 2047).astype(np.uint16) if units_raw else values


def _png_compress(values):
    out = io.BytesIO()
    Image.fromarray(values).save(out, format="PNG")  # uint16 → mode I;16
    return out.getvalue()


def _png_decompress(data):
    return np.asarray(Image.open(io.BytesIO(data)), np.uint16)


def reference_rows(frames):
    """Lossless reference coders on the raw 16-bit frames (every REFERENCE_STRIDE-th frame)."""
    sample = frames[::REFERENCE_STRIDE]
    units_raw = sample[0].units.value == "raw"
    as_bytes = lambda values: values.astype("<u2").tobytes()  # noqa: E731
    from_bytes = lambda data: np.frombuffer(data, "<u2").reshape(480, 640)  # noqa: E731
    coders = [
        ("zlib -6", lambda v: zlib.compress(as_bytes(v), 6), lambda d: from_bytes(zlib.decompress(d))),
        ("bz2 -9", lambda v: bz2.compress(as_bytes(v), 9), lambda d: from_bytes(bz2.decompress(d))),
        ("LZMA -6 (.xz)", lambda v: lzma.compress(as_bytes(v), preset=6), lambda d: from_bytes(lzma.decompress(d))),
        *[(f"zstd -{level}", (lambda level: lambda v: zstandard.ZstdCompressor(level=level).compress(as_bytes(v)))(level),
           lambda d: from_bytes(zstandard.ZstdDecompressor().decompress(d))) for level in (1, 3, 9, 19)],
        ("PNG 16-bit (Pillow)", _png_compress, _png_decompress),
        ("RVL (Wilson 2017)", lambda v: _rvl_compress(v, units_raw), lambda d: _rvl_decompress(d, units_raw)),
    ]
    rows = []
    for name, compress, decompress in coders:
        sizes, encode_s, decode_s = [], [], []
        for frame in sample:
            payload, seconds = timed(compress, frame.depth)
            encode_s.append(seconds)
            restored, seconds = timed(decompress, payload)
            decode_s.append(seconds)
            if not np.array_equal(restored, frame.depth):
                raise AssertionError(f"{name} does not round-trip")
            sizes.append(len(payload))
        rows.append([name, *_size_columns(sizes, encode_s, decode_s), "0 (exact)", "0", "0"])
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


def sensor_blocks(depth_mm):
    """The 120 x 160 blocks of 4 x 4 sensor pixels of a 480 x 640 frame, as 16 float32 values each."""
    return depth_mm.reshape(120, BLOCK, 160, BLOCK).swapaxes(1, 2).reshape(120, 160, BLOCK * BLOCK).astype(np.float32)


def block_mean(depth_mm):
    """Plain mean of each block's readings: the alternative that invents depths at edges."""
    blocks = sensor_blocks(depth_mm)
    count = (blocks > 0).sum(axis=2)
    return np.divide(blocks.sum(axis=2), count, out=np.zeros((120, 160), np.float32), where=count >= 4)


def flying_share(depth_mm, reduced_mm):
    """Share of reduced pixels more than 5 % away from every reading of their block."""
    blocks = sensor_blocks(depth_mm)
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
        mm = 1000 / (restored_raw * RAW_SLOPE_PER_M + RAW_OFFSET_PER_M)
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
        print(f"\n## {name} ({len(frames)} frames, 640x480; raw 16-bit {RAW_FRAME_BYTES:,} B/frame)")
        table(f"profiles and reference coders (references on every {REFERENCE_STRIDE}th frame)",
              ["coder", "mean B/frame", "ratio to raw", "KB/s @30fps", "encode ms", "decode ms",
               "mean error mm", "p99 error mm", "max error vs own blocks mm"],
              [profile_row("classic", frames), profile_row("classic-lzma", frames),
               profile_row("lossless", frames), profile_row("fine", frames), *reference_rows(frames)])
        table("classic codes: bytes per frame and speed", ["stream", "keyframe B", "delta B", "mean B",
                                                          "KB/s @30fps", "encode ms", "decode ms",
                                                          "bytes vs LZMA"], classic_rows(frames))
        table("block reduction", ["reduction", "mean B", "no reading", "mean |Δcode|/frame",
                                  "flying pixels", "ms"], reduction_rows(frames))
        table("quantization (subsampled pixels, no median)", ["mapping", "mean error mm", "p99 error mm",
                                                               f"mean < {NEAR_BAND_MM} mm", f"mean ≥ {NEAR_BAND_MM} mm",
                                                               "readings lost", "mean B"], quantization_rows(frames))
        table("temporal median", ["filter", "mean B", "mean |Δcode|/frame"], median_rows(frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
