"""Benchmark of the colour pictures (FORMAT.md, *Attachments*) beside each depth profile's bytes.

    python bench/colour.py [DIR ...]      (or: make bench-colour)

Without arguments it measures every recording in ../shared/data/ that has colour (7-Scenes'
kitchen: 640 x 480 pictures registered to the depth); DIR may be any PNG folder with colour
(7-Scenes or TUM layout). For each coding (JPEG, WebP) and quality, at 160 x 120 (the classic
profiles' grid) and 320 x 240 (fine's, or classic with --colour-scale 2): bytes per picture,
KB/s at 30 frames/s, Python encode and decode ms (Pillow). A second table gives each depth
profile's bytes per frame on the same frames, so the colour's share of a stream can be read off.
Times are medians per frame on one core of a shared machine: compare ratios, not seconds.
Browser decode times and end-to-end latency: bench/browser_colour.py.
"""

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

from depthcam.codec.colour import ColourCoding, PictureCoder, downscale
from depthcam.codec.frame import DepthFrame
from depthcam.codec.profiles import make_encoder
from depthcam.source.recordings import PngFolder

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FPS = 30
# Every Nth frame of a recording: neighbours look alike, and WebP at high effort is slow.
STRIDE = 4
SIZES = ((160, 120), (320, 240))
QUALITIES = (50, 75, 90)
DEPTH_PROFILES = ("classic", "classic-lzma", "fine", "lossless")


def table(title, header, rows):
    """Print a Markdown table."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def median_ms(samples):
    return f"{statistics.median(samples) * 1000:.2f}"


def picture_rows(pictures):
    rows = []
    for width, height in SIZES:
        small = [downscale(picture, width, height) for picture in pictures]
        for coding in ColourCoding:
            for quality in QUALITIES:
                coder = PictureCoder(coding, quality)
                sizes, encode_s, decode_s = [], [], []
                for picture in small:
                    start = time.perf_counter()
                    data = coder.encode(picture)
                    encode_s.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    with Image.open(io.BytesIO(data)) as image:
                        image.load()
                    decode_s.append(time.perf_counter() - start)
                    sizes.append(len(data))
                mean_bytes = statistics.mean(sizes)
                rows.append([f"{width}×{height}", coding.name, quality, f"{mean_bytes:,.0f}",
                             f"{mean_bytes * FPS / 1000:.0f}", median_ms(encode_s), median_ms(decode_s)])
    return rows


def depth_rows(frames):
    rows = []
    for name in DEPTH_PROFILES:
        encoder = make_encoder(name, keyframe_interval=2 * FPS)
        messages = [encoder.encode(frame) for frame in frames]
        mean_bytes = statistics.mean(len(m) for m in messages)
        rows.append([name, f"{mean_bytes:,.0f}", f"{mean_bytes * FPS / 1000:.0f}"])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path,
                        help="PNG folders with colour (default: those in ../shared/data/)")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(
        path for path in SHARED_DATA.iterdir() if path.is_dir() and has_colour(path))
    for folder in folders:
        recording = PngFolder(folder)
        indices = range(0, len(recording), STRIDE)
        pictures = [recording.read_colour(i) for i in indices]
        table(f"{folder.name}: colour pictures ({len(pictures)} frames)",
              ["size", "coding", "quality", "bytes/frame", "KB/s at 30 fps", "encode ms", "decode ms"],
              picture_rows(pictures))
        # The depth profiles on consecutive frames (deltas need neighbours), as many as pictures.
        frames = [DepthFrame(recording.read(i), recording.units, i / FPS) for i in range(len(pictures))]
        table(f"{folder.name}: depth bytes of each profile, the same recording",
              ["profile", "bytes/frame", "KB/s at 30 fps"], depth_rows(frames))
    return 0


def has_colour(folder):
    """Whether ``folder`` is a PNG folder with colour pictures."""
    from depthcam.source.recordings import RecordingError

    try:
        return PngFolder(folder).has_colour
    except RecordingError:
        return False


if __name__ == "__main__":
    sys.exit(main())
