"""Browser decode time per profile: client/decoder.js in Chromium and Firefox on real recordings' frames.

    python bench/browser_decode.py [DIR ...] [--browsers chromium,firefox]

Encodes each recording (default: every one in ../shared/data/) with each profile in Python, serves
the messages and client/ on a loopback port, and has each browser decode each stream in order,
several rounds, timing each ``StreamDecoder.decode`` with performance.now(): Debian's Chromium
headless (Playwright), Debian's firefox-esr headful on Xvfb (puppeteer-core, tests/client/firefox.py).
The classic profile (classic-cm) is decoded by the C coder compiled to WebAssembly
(client/contextmodel.wasm). (Until the classic-cm model changed, the pure-JavaScript
ContextModel.js it replaced ran beside it as a baseline; that model no longer decodes today's
format, so the baseline is gone: its last figures are in README.) Prints one Markdown table per
browser: median and p95 ms per frame. Compare on the same machine only.
"""

import argparse
import functools
import http.server
import os
import statistics
import struct
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from depthcam.codec.profiles import PROFILE_NAMES, make_encoder
from depthcam.source.recordings import read_recording_dir

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
FRAMES_PER_STREAM = 60
ROUNDS = 5  # each stream decoded this many times in order; the first round warms the JIT and is dropped
PAGE = """<!doctype html><meta charset="utf-8"><script type="importmap">
{"imports": {"node-liblzma/wasm": "/client/node_modules/node-liblzma/lib/wasm/index.js",
             "zstddec": "/client/node_modules/zstddec/dist/zstddec.mjs"}}
</script><script type="module">
import { StreamDecoder } from '/client/decoder.js';
window.measure = async ( [ name, rounds ] ) => {
	const data = new Uint8Array( await ( await fetch( `/messages/${name}` ) ).arrayBuffer() );
	const messages = [];
	for ( let offset = 0; offset < data.length; ) {
		const length = new DataView( data.buffer, offset, 4 ).getUint32( 0, true );
		messages.push( data.slice( offset + 4, offset + 4 + length ).buffer );
		offset += 4 + length;
	}
	const times = [];
	for ( let round = 0; round < rounds; round ++ ) {
		const decoder = new StreamDecoder();
		for ( const message of messages ) {
			const start = performance.now();
			decoder.decode( message );
			if ( round > 0 ) times.push( performance.now() - start );
		}
	}
	return times;
};
window.ready = true;
</script>"""


class BenchHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the repository, the bench page and the encoded streams (from memory)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def __init__(self, *args, streams, **kwargs):
        self.streams = streams
        super().__init__(*args, directory=str(REPO), **kwargs)

    def do_GET(self):
        if self.path == "/bench.html":
            return self._send(PAGE.encode(), "text/html")
        if self.path.startswith("/messages/"):
            return self._send(self.streams[self.path.rsplit("/", 1)[1]], "application/octet-stream")
        return super().do_GET()

    def _send(self, body, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def encode_streams(folders):
    """{"recording/profile": length-prefixed messages} for every recording and profile."""
    streams = {}
    for folder in folders:
        frames = read_recording_dir(folder)[:FRAMES_PER_STREAM]
        for profile in PROFILE_NAMES:
            encoder = make_encoder(profile, keyframe_interval=60)
            messages = [encoder.encode(frame) for frame in frames]
            streams[f"{Path(folder).name}.{profile}"] = b"".join(struct.pack("<I", len(m)) + m for m in messages)
    return streams


def measure_page(page, streams):
    """Table rows for every stream on a page showing bench.html."""
    page.wait_for_function("window.ready === true")
    rows = []
    for name in streams:
        recording, profile = name.rsplit(".", 1)
        times = sorted(page.evaluate("(args) => window.measure(args)", [name, ROUNDS]))
        label = f"{profile} (WebAssembly)" if profile == "classic" else profile
        rows.append([recording, label, f"{statistics.median(times):.2f}",
                     f"{times[int(len(times) * 0.95)]:.2f}", str(len(times))])
    return rows


def chromium_rows(url, streams):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        rows = measure_page(page, streams)
        version = f"Chromium {browser.version}, headless"
        browser.close()
    return version, rows


def firefox_rows(url, streams):
    sys.path.insert(0, str(REPO))
    from tests.client.firefox import FirefoxBrowser, firefox_missing

    if firefox_missing():
        raise SystemExit(firefox_missing())
    browser = FirefoxBrowser()
    try:
        page = browser.new_page({"width": 800, "height": 600})
        page.goto(url)
        return f"Firefox {browser.version}, headful on Xvfb", measure_page(page, streams)
    finally:
        browser.close()


BROWSERS = {"chromium": chromium_rows, "firefox": firefox_rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", help="recording folders (default: ../shared/data/*)")
    parser.add_argument("--browsers", default="chromium,firefox",
                        help="comma-separated browsers to measure: chromium, firefox (default: both)")
    args = parser.parse_args(argv)
    folders = args.folders or sorted(str(p) for p in SHARED_DATA.iterdir() if p.is_dir())
    browsers = [name.strip() for name in args.browsers.split(",") if name.strip()]
    unknown = set(browsers) - set(BROWSERS)
    if unknown:
        parser.error(f"unknown browser(s): {', '.join(sorted(unknown))}")
    streams = encode_streams(folders)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(BenchHandler, streams=streams))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for browser in browsers:
            version, rows = BROWSERS[browser](f"http://127.0.0.1:{server.server_port}/bench.html", streams)
            print(f"\n### browser decode ({version}; {FRAMES_PER_STREAM} frames × {ROUNDS - 1} rounds)\n")
            print("| recording | profile | median ms/frame | p95 ms/frame | decodes |")
            print("|---|---|---:|---:|---:|")
            for row in rows:
                print("| " + " | ".join(row) + " |")
            sys.stdout.flush()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
