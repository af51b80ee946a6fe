// Measures npm LZMA decoders on depthcam's classic payloads; the winner is pinned in client/package.json.
//
//   cd bench && npm install && node lzma_js.mjs [--runs N] [--payloads DIR]
//
// The payloads are the ".lzma" (LZMA alone) streams of FORMAT.md's classic profile: the shared test
// vectors' frames, and ClassicEncoder output on the real recording in ../shared/data/kinect1-raw-walkin
// (keyframes and deltas at 160 x 120, plus full-sensor 640 x 480 keyframes as a stress case). Python
// writes them, with the bytes each must decompress to, into a temporary folder (or DIR) first, so
// both sides use the codec's own encoder. Each candidate decodes every payload once for correctness
// (byte for byte, and garbage must throw rather than return), then RUNS times per payload for speed.
// The table gives the median ms per payload over all runs of each set.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");
const require = createRequire(import.meta.url);

// Runs per payload for the timing; the median hides GC pauses and JIT warm-up.
const DEFAULT_RUNS = 30;
// Untimed decodes of each payload before timing, so every candidate is measured warm.
const WARMUP_RUNS = 3;

const GENERATE_PAYLOADS_PY = String.raw`
import base64, json, lzma, sys
from pathlib import Path
import numpy as np
from depthcam.codec import compression
from depthcam.codec.classic import ClassicEncoder
from depthcam.codec.frame import DepthFrame, DepthUnits
from depthcam.codec.header import HEADER_SIZE
from depthcam.codec.quantization import InverseDepthQuantizer
from depthcam.codec.units import raw_to_mm

out = Path(sys.argv[1]); root = Path(sys.argv[2])

def write(set_name, index, payload):
    folder = out / set_name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{index:04d}.lzma").write_bytes(bytes(payload))
    (folder / f"{index:04d}.raw").write_bytes(lzma.decompress(bytes(payload), format=lzma.FORMAT_ALONE))

vectors = json.loads((root / "tests/vectors/classic.json").read_text())
index = 0
for stream in vectors["streams"]:
    if stream["name"] not in ("keyframes-and-deltas", "late-join"):
        continue
    for frame in stream["frames"]:
        write("vectors 160x120", index, base64.b64decode(frame["message"])[HEADER_SIZE:])
        index += 1

recording = root.parent / "shared/data/kinect1-raw-walkin"
files = sorted(recording.glob("*.pgm"))
if files:
    encoder = ClassicEncoder(keyframe_interval=60)
    quantizer = InverseDepthQuantizer()
    for index, path in enumerate(files):
        raw = np.frombuffer(path.read_bytes()[17:], "<u2").reshape(480, 640)
        message = encoder.encode(DepthFrame(raw.copy(), DepthUnits.RAW_DISPARITY, 1.5e9 + index / 30))
        kind = "keyframe" if message[6] & 1 else "delta"
        write(f"walk-in 160x120 {kind}", index, message[HEADER_SIZE:])
        if index % 45 == 0:
            write("walk-in 640x480 keyframe", index, compression.compress(quantizer.to_codes(raw_to_mm(raw)).tobytes()))
`;

function generatePayloads(folder) {
  const python = join(ROOT, ".venv", "bin", "python");
  execFileSync(python, ["-c", GENERATE_PAYLOADS_PY, folder, ROOT], { stdio: "inherit" });
}

function loadSets(folder) {
  const sets = [];
  for (const name of readdirSync(folder).sort()) {
    const files = readdirSync(join(folder, name)).filter((f) => f.endsWith(".lzma")).sort();
    sets.push({
      name,
      payloads: files.map((f) => ({
        packed: new Uint8Array(readFileSync(join(folder, name, f))),
        expected: new Uint8Array(readFileSync(join(folder, name, f.replace(/\.lzma$/, ".raw")))),
      })),
    });
  }
  return sets;
}

function packageVersion(name) {
  return JSON.parse(readFileSync(join(HERE, "node_modules", name, "package.json"), "utf8")).version;
}

// LZMA-JS and its forks return signed bytes, or a *string* when the output happens to be valid
// UTF-8 without a NUL: a depth frame can be both, so the adapter must turn either back into bytes.
function lzmaJsOutputToBytes(output) {
  if (typeof output === "string") return new TextEncoder().encode(output);
  return Uint8Array.from(output, (b) => b & 0xff);
}

function lzmaAloneHeader(packed) {
  return { properties: packed.subarray(0, 5), body: packed.subarray(13) };
}

// Our encoder writes "size unknown" and an end marker. Writing the expected size + 1 into a copy of
// the header bounds the work on a corrupt payload: a good stream still stops at its end marker after
// exactly the expected size, a bad one stops one byte later and is rejected (decoder.js does this).
function withSizeBound(packed, expectedSize) {
  const bounded = packed.slice();
  new DataView(bounded.buffer, bounded.byteOffset).setBigUint64(5, BigInt(expectedSize + 1), true);
  return bounded;
}

// Each candidate: how to load it, how to decode one payload (expected size known, as in decoder.js),
// and whether it loads in a browser as an ES module from node_modules through an import map, with
// no build step (checked in Chromium 156: lzma1, @blu3r4y/lzma and node-liblzma/wasm import and
// decode; lzma, js-lzma and xz-compat fail to import; the others are CommonJS, AMD or UMD).
const CANDIDATES = [
  {
    name: "lzma1",
    readsSizeField: true,
    browserEsm: "yes (lib/index.js and relative .js imports)",
    async load() {
      const { decompress } = await import("lzma1");
      return (packed) => decompress(packed);
    },
  },
  {
    name: "lzma",
    readsSizeField: true,
    browserEsm: "no (script that sets this.LZMA: fails as a module)",
    async load() {
      const { decompress } = require("lzma/src/lzma-d-min.js").LZMA;
      return (packed) => lzmaJsOutputToBytes(decompress(packed));
    },
  },
  {
    name: "@blu3r4y/lzma",
    readsSizeField: true,
    browserEsm: "yes (index.mjs, src/lzma-algo.mjs)",
    async load() {
      const { decompress } = await import("@blu3r4y/lzma");
      return (packed) => lzmaJsOutputToBytes(decompress(packed));
    },
  },
  {
    name: "lzma-web",
    readsSizeField: true,
    browserEsm: "no (CommonJS bundle)",
    async load() {
      const LzmaWeb = require("lzma-web").default;
      const { decompress } = new LzmaWeb().cb;
      return (packed) => lzmaJsOutputToBytes(decompress(packed));
    },
  },
  {
    name: "js-lzma",
    readsSizeField: true,
    browserEsm: "no (CommonJS)",
    async load() {
      const LZMA = require("js-lzma");
      return (packed, expectedSize) => {
        const output = new Uint8Array(expectedSize);
        const outStream = { size: 0, writeByte(b) { output[this.size++] = b; } };
        const inStream = { data: packed, offset: 0, readByte() { return this.data[this.offset++]; } };
        LZMA.decompressFile(inStream, outStream);
        if (outStream.size !== expectedSize) throw new Error(`got ${outStream.size} bytes`);
        return output;
      };
    },
  },
  {
    name: "lzma-purejs",
    browserEsm: "no (AMD/CommonJS via amdefine)",
    async load() {
      const { decompressFile } = require("lzma-purejs");
      return (packed) => new Uint8Array(decompressFile(Buffer.from(packed)));
    },
  },
  {
    name: "xz-compat",
    browserEsm: "no (imports Node's module, path, url and Buffer packages)",
    async load() {
      const { decodeLzma } = await import("xz-compat");
      return (packed, expectedSize) => {
        const { properties, body } = lzmaAloneHeader(packed);
        return new Uint8Array(decodeLzma(Buffer.from(body), Buffer.from(properties), expectedSize));
      };
    },
  },
  {
    name: "node-liblzma",
    browserEsm: "yes: node-liblzma/wasm (lib/wasm/index.js) fetches liblzma.wasm beside itself; async init",
    // As client/decoder.js uses it: the auto decoder reads .lzma alone, and an output buffer one
    // byte over the frame bounds a corrupt stream (liblzma refuses a patched size field instead).
    async load() {
      const wasm = await import("node-liblzma/wasm");
      const module = await wasm.initModule();
      return (packed, expectedSize) => {
        const stream = new wasm.WasmLzmaStream(module);
        const input = module._malloc(packed.length);
        const output = module._malloc(expectedSize + 1);
        try {
          module.HEAPU8.set(packed, input);
          wasm.autoDecoderInit(stream, 32 * 1024 * 1024);
          stream.setInput(input, packed.length);
          stream.setOutput(output, expectedSize + 1);
          let status;
          do status = wasm.code(stream, wasm.LZMA_FINISH);
          while (status === wasm.LZMA_OK && stream.availOut > 0);
          if (status !== wasm.LZMA_STREAM_END || stream.availOut !== 1) throw new Error(`liblzma status ${status}`);
          return module.HEAPU8.slice(output, output + expectedSize);
        } finally {
          wasm.end(stream);
          stream.free();
          module._free(input);
          module._free(output);
        }
      };
    },
  },
  {
    name: "xz-decompress",
    browserEsm: "no (UMD; and it reads .xz only)",
    async load() {
      const { XzReadableStream } = require("xz-decompress");
      return async (packed) => {
        const source = new Blob([packed]).stream();
        return new Uint8Array(await new Response(new XzReadableStream(source)).arrayBuffer());
      };
    },
  },
];


function sameBytes(a, b) {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function firstLine(error) {
  return String((error && error.message) || error).split("\n")[0].slice(0, 50);
}

async function loadDecoder(candidate) {
  const decode = await candidate.load();
  if (!candidate.readsSizeField) return decode;
  return (packed, expectedSize) => decode(withSizeBound(packed, expectedSize), expectedSize);
}

// Runs in a child process per candidate: a decoder that V8 kills on bad input (LZMA-JS grows an
// array past V8's limit on a truncated stream) must not take the whole table with it.
async function measureInChild(name, folder, runs) {
  const candidate = CANDIDATES.find((c) => c.name === name);
  const sets = loadSets(folder);
  const row = { correct: "no", ms: {} };
  let decode;
  try {
    decode = await loadDecoder(candidate);
  } catch (error) {
    row.correct = `load failed: ${firstLine(error)}`;
    return row;
  }
  for (const set of sets) {
    for (const { packed, expected } of set.payloads) {
      let output;
      try {
        output = await decode(packed, expected.length);
      } catch (error) {
        row.correct = `throws: ${firstLine(error)}`;
        return row;
      }
      if (!sameBytes(output, expected)) {
        row.correct = `wrong bytes (${set.name})`;
        return row;
      }
    }
  }
  row.correct = "yes";
  for (const set of sets) {
    const times = [];
    for (const { packed, expected } of set.payloads) {
      for (let i = 0; i < WARMUP_RUNS; i++) await decode(packed, expected.length);
      for (let i = 0; i < runs; i++) {
        const start = process.hrtime.bigint();
        await decode(packed, expected.length);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
    row.ms[set.name] = median(times);
  }
  return row;
}

// Garbage after the header, then a stream cut in half: both must throw (or come back the wrong
// size) quickly; anything else would pass a corrupt frame off as depth, or freeze the page.
async function garbageInChild(name, folder) {
  const candidate = CANDIDATES.find((c) => c.name === name);
  const { packed, expected } = loadSets(folder)[0].payloads[0];
  const decode = await loadDecoder(candidate);
  const garbage = packed.slice();
  garbage.fill(0x5a, 13);
  const results = [];
  for (const [label, input] of [["garbage", garbage], ["truncated", packed.subarray(0, packed.length >> 1)]]) {
    try {
      const output = await decode(input, expected.length);
      results.push(output && output.length === expected.length ? `${label} RETURNS DATA` : null);
    } catch {
      results.push(null);
    }
  }
  return results.filter(Boolean).join(", ") || "throws";
}

// Seconds a candidate may take on two bad payloads before it counts as hanging.
const GARBAGE_TIMEOUT_S = 20;
const MEASURE_TIMEOUT_S = 600;

function runChild(mode, name, folder, runs, timeoutS) {
  const script = fileURLToPath(import.meta.url);
  try {
    const stdout = execFileSync(process.execPath, [script, mode, name, "--payloads", folder, "--runs", String(runs)],
      { timeout: timeoutS * 1000, stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 20 });
    return JSON.parse(stdout.toString());
  } catch (error) {
    if (error.signal === "SIGTERM") return { failed: `hangs > ${timeoutS} s` };
    return { failed: `process dies (exit ${error.status ?? error.signal})` };
  }
}

function printTable(rows, sets) {
  const sizes = sets.map((set) => {
    const bytes = set.payloads.reduce((sum, p) => sum + p.packed.length, 0) / set.payloads.length;
    return `${set.name} (${set.payloads.length} x ~${(bytes / 1024).toFixed(1)} KiB) ms`;
  });
  const header = ["library", "version", "correct", "bad input", ...sizes, "browser ES module"];
  const lines = [header, header.map(() => "---")];
  for (const row of rows) {
    lines.push([row.name, row.version, row.correct, row.garbage,
      ...sets.map((set) => (set.name in row.ms ? row.ms[set.name].toFixed(3) : "-")), row.browserEsm]);
  }
  for (const line of lines) process.stdout.write(`| ${line.join(" | ")} |\n`);
}

async function main() {
  const args = process.argv.slice(2);
  const option = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
  const runs = Number(option("--runs", DEFAULT_RUNS));
  let folder = option("--payloads", null);
  if (args[0] === "--measure") {
    process.stdout.write(JSON.stringify(await measureInChild(args[1], folder, runs)));
    return;
  }
  if (args[0] === "--bad-input") {
    process.stdout.write(JSON.stringify(await garbageInChild(args[1], folder)));
    return;
  }
  if (!folder) {
    folder = mkdtempSync(join(tmpdir(), "depthcam-lzma-js-"));
    generatePayloads(folder);
  } else if (!existsSync(folder) || readdirSync(folder).length === 0) {
    generatePayloads(folder);
  }
  const sets = loadSets(folder);
  process.stdout.write(`node ${process.version}, ${runs} timed runs per payload (median), payloads in ${folder}\n\n`);
  const rows = [];
  for (const candidate of CANDIDATES) {
    const row = { name: candidate.name, version: packageVersion(candidate.name), browserEsm: candidate.browserEsm };
    const measured = runChild("--measure", candidate.name, folder, runs, MEASURE_TIMEOUT_S);
    Object.assign(row, measured.failed ? { correct: measured.failed, ms: {} } : measured);
    const garbage = row.correct === "yes" ? runChild("--bad-input", candidate.name, folder, runs, GARBAGE_TIMEOUT_S) : "-";
    row.garbage = garbage.failed || garbage;
    rows.push(row);
  }
  printTable(rows, sets);
}

await main();
