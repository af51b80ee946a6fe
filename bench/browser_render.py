"""Viewer cost per frame for each profile: the real page in headless Chromium, fed by a live source.

    python bench/browser_render.py [--seconds S] [--screenshot-dir DIR] [SOURCE ARGS ...]

Starts ``python -m depthcam.source serve --profile P`` for each profile (extra arguments, such as
``--device fakenect:DIR --loop``, go to every source), opens its page in Debian's Chromium through
Playwright and samples, for each frame drawn, ``window.depthcam.decodeMs`` less ``updateMs`` (the
decode, and the follow camera's few steps), ``updateMs`` (PointCloud.update), ``renderMs`` (the
render call, the upload to the GPU included), all on the main thread, and the time between
animation frames. Prints one Markdown table of medians and p95s, in ms. WebGL runs on SwiftShader
here, so the frame interval mostly measures the emulated GPU; the JS columns are what a laptop's
main thread would spend. Compare on the same machine only.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PROFILES = ["classic", "fine", "lossless"]
STARTUP_TIMEOUT_S = 30
WARMUP_FRAMES = 10  # frames drawn before sampling starts (JIT, shader compile, first upload)
URL_LINE = re.compile(r"open (http://\S+?:(\d+)/)")
SAMPLER = """
window.renderSamples = { decode: [], update: [], render: [], interval: [] };
let lastDrawn = window.depthcam.framesDrawn, lastTime = null;
const sample = ( time ) => {
	const status = window.depthcam;
	if ( lastTime !== null ) window.renderSamples.interval.push( time - lastTime );
	lastTime = time;
	if ( status.framesDrawn !== lastDrawn ) {
		lastDrawn = status.framesDrawn;
		window.renderSamples.decode.push( status.decodeMs - status.updateMs );
		window.renderSamples.update.push( status.updateMs );
		window.renderSamples.render.push( status.renderMs );
	}
	requestAnimationFrame( sample );
};
requestAnimationFrame( sample );
"""


def start_source(profile, extra_args):
    process = subprocess.Popen(
        [sys.executable, "-m", "depthcam.source", "serve", "--port", "0", "--profile", profile, *extra_args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if match := URL_LINE.search(line):
            return process, match.group(1)
    process.kill()
    raise SystemExit(f"the {profile} source did not print its URL")


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(browser, url, seconds, screenshot):
    page = browser.new_page(viewport={"width": 800, "height": 600})
    page.goto(url)
    page.wait_for_function(f"() => window.depthcam && window.depthcam.framesDrawn >= {WARMUP_FRAMES}", timeout=60000)
    page.evaluate(SAMPLER)
    page.wait_for_timeout(seconds * 1000)
    samples = page.evaluate("window.renderSamples")
    status = page.evaluate("window.depthcam")
    if screenshot is not None:
        page.screenshot(path=str(screenshot))
    page.close()
    return samples, status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="sampling time per profile, seconds (default: 10)")
    parser.add_argument("--screenshot-dir", type=Path, help="save one screenshot per profile here (PNG)")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated (default: all)")
    args, source_args = parser.parse_known_args()

    print("| profile | frame | points | decode ms (median / p95) | cloud update ms (median / p95) "
          "| render call ms (median / p95) | frame interval ms (median / p95) | frames sampled |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for profile in args.profiles.split(","):
            process, url = start_source(profile, source_args)
            try:
                screenshot = args.screenshot_dir / f"{profile}.png" if args.screenshot_dir else None
                samples, status = measure(browser, url, args.seconds, screenshot)
            finally:
                process.terminate()
                process.wait(timeout=10)
            cells = [
                f"{statistics.median(samples[key]):.2f} / {percentile(samples[key], 0.95):.2f}"
                for key in ("decode", "update", "render", "interval")
            ]
            print(f"| {profile} | {status['frameWidth']}×{status['frameHeight']} | {status['points']} | "
                  + " | ".join(cells) + f" | {len(samples['decode'])} |", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
