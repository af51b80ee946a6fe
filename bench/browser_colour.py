"""Colour in the browser: picture decode time in headless Chromium, and capture-to-screen latency.

    python bench/browser_colour.py [DIR]

DIR (default: ../shared/data/7scenes-redkitchen) is a PNG folder with colour. First, its pictures
are coded in Python as the source codes them (JPEG and WebP, quality 75, at 160 x 120 and 320 x 240)
and Debian's Chromium decodes each with ``createImageBitmap``, as the viewer does: median and p95
ms. Then a live source plays the folder on loopback (classic profile, with and without colour)
and the viewer's ``frameAgeMs`` (capture time to the render that shows the frame, same clock) is
sampled: median and p95 ms. Compare on the same machine only; a loaded machine adds to both.
"""

import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from depthcam.codec.colour import ColourCoding, PictureCoder, downscale
from depthcam.source.recordings import PngFolder

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO.parent / "shared" / "data" / "7scenes-redkitchen"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
PICTURES = 40
ROUNDS = 3  # each picture decoded this many times; the first round warms up and is dropped
LATENCY_SAMPLES = 60
LATENCY_SAMPLE_INTERVAL_S = 0.25
STARTUP_TIMEOUT_S = 60
URL_LINE = re.compile(r"open (http://\S+?:(\d+)/)")
DECODE = """async ( { pictures, mimeType, rounds } ) => {
	const bytes = pictures.map( ( text ) => Uint8Array.from( atob( text ), ( c ) => c.charCodeAt( 0 ) ) );
	const times = [];
	for ( let round = 0; round < rounds; round ++ ) {
		for ( const picture of bytes ) {
			const start = performance.now();
			const bitmap = await createImageBitmap( new Blob( [ picture ], { type: mimeType } ) );
			if ( round > 0 ) times.push( performance.now() - start );
			bitmap.close();
		}
	}
	return times;
}"""


def summary(samples):
    ordered = sorted(samples)
    return f"{statistics.median(ordered):.2f}", f"{ordered[int(0.95 * (len(ordered) - 1))]:.2f}"


def decode_rows(page, folder):
    recording = PngFolder(folder)
    step = max(1, len(recording) // PICTURES)
    pictures = [recording.read_colour(i) for i in range(0, len(recording), step)][:PICTURES]
    rows = []
    for width, height in ((160, 120), (320, 240)):
        small = [downscale(p, width, height) for p in pictures]
        for coding, mime in ((ColourCoding.JPEG, "image/jpeg"), (ColourCoding.WEBP, "image/webp")):
            coder = PictureCoder(coding, 75)
            coded = [base64.b64encode(coder.encode(p)).decode() for p in small]
            times = page.evaluate(DECODE, {"pictures": coded, "mimeType": mime, "rounds": ROUNDS})
            rows.append([f"{width}×{height}", coding.name, *summary(times)])
    return rows


def start_source(*args):
    process = subprocess.Popen([sys.executable, "-m", "depthcam.source", "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := URL_LINE.search(line):
            return process, match.group(1)
        if not line:
            break
    process.kill()
    raise SystemExit("the source did not start")


def latency_row(browser, folder, colour):
    process, url = start_source("--device", f"png:{folder}", "--loop", "--colour", colour)
    try:
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.goto(url)
        page.wait_for_function("() => window.depthcam && window.depthcam.framesDrawn >= 30", timeout=120000)
        ages, last = [], None
        while len(ages) < LATENCY_SAMPLES:
            status = page.evaluate("[window.depthcam.lastSequence, window.depthcam.frameAgeMs]")
            if status[0] != last:
                last = status[0]
                ages.append(status[1])
            time.sleep(LATENCY_SAMPLE_INTERVAL_S)
        page.close()
        return [colour, *summary(ages)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER,
                        help="a PNG folder with colour (default: %(default)s)")
    args = parser.parse_args(argv)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto("about:blank")
        rows = decode_rows(page, args.folder)
        print("\n| picture | coding (q75) | Chromium decode ms, median | p95 |\n|---|---|---:|---:|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        latency = [latency_row(browser, args.folder, colour) for colour in ("off", "jpeg")]
        print("\n| --colour | capture → screen ms, median | p95 |\n|---|---:|---:|")
        for row in latency:
            print("| " + " | ".join(row) + " |")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
