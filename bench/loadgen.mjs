// Load generator for bench/relay.py: K WebSocket viewers in one node process.
//
//   node bench/loadgen.mjs --url ws://127.0.0.1:9000/view/bench --viewers 500
//
// Opens the viewers (at most --concurrency handshakes at a time), prints one JSON line
// {"event":"connected",...} once every handshake has ended, then waits for lines on stdin:
// "start" opens the measuring window, "stop" closes it, prints {"event":"result",...} and exits.
// Only frames received inside the window count, so catch-up frames sent at connect and the
// connection ramp are left out.
//
// Per frame it reads three header fields and nothing else (codec/FORMAT.md): flags (offset 6),
// sequence (offset 8, u32 LE) and capture_time_us (offset 12, u64 LE, µs since the Unix epoch).
// Latency = receipt time − capture time on the same machine clock.
//
// --client raw (default) is a minimal RFC 6455 client on node:net that keeps only those first 20
// bytes of each message and never copies a payload; --client ws uses the `ws` package, as a check
// on the raw one. The generator shares the machine's cores with the relay, so it is kept cheap.
//
// Result: per-viewer frame counts, a latency histogram (LATENCY_BUCKET_US wide buckets, sparse
// [bucket, count] pairs), sequence gaps, this process's event-loop utilization (near 1 means the
// generator itself was the bottleneck) and viewers that closed during the run.

import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';

const LATENCY_BUCKET_US = 100;
const LATENCY_BUCKETS = 100_000; // 10 s; later frames land in the last bucket
const FLAG_CATCHUP = 0x02; // FORMAT.md, flags bit 1
// Bytes of a message's header the generator reads: flags (6), sequence (8), capture_time_us (12-19).
const HEAD_BYTES = 20;

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    viewers: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    'handshake-timeout-ms': { type: 'string', default: '30000' },
    client: { type: 'string', default: 'raw' },
  },
});
if (!options.url) {
  process.stderr.write('usage: node loadgen.mjs --url ws://host:port/view/<name> --viewers K\n');
  process.exit(2);
}
const viewerCount = Number(options.viewers);
const concurrency = Number(options.concurrency);
const handshakeTimeoutMs = Number(options['handshake-timeout-ms']);
const targetUrl = new URL(options.url);
if (!['raw', 'ws'].includes(options.client)) {
  process.stderr.write('--client is raw (default) or ws\n');
  process.exit(2);
}

const framesInWindow = new Uint32Array(viewerCount);
const gapsInWindow = new Uint32Array(viewerCount);
const lastSequence = new Float64Array(viewerCount).fill(-1);
const latencyHistogram = new Uint32Array(LATENCY_BUCKETS + 1);
const sockets = new Array(viewerCount).fill(null);
let measuring = false;
let opened = 0;
let failed = 0;
let closedEarly = 0;
let nextToOpen = 0;
let inFlight = 0;
let stopping = false;
const errors = new Map(); // message -> count, so that 1000 identical errors print once

// performance.timeOrigin is the wall clock at process start; with the monotonic now() it gives
// sub-millisecond wall time without Date.now()'s 1 ms steps.
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

function noteError(message) {
  errors.set(message, (errors.get(message) ?? 0) + 1);
}

function onMessage(index, data) {
  if (data.length < HEAD_BYTES) return;
  const sequence = data.readUInt32LE(8);
  if (measuring) {
    framesInWindow[index] += 1;
    const capturedUs = data.readUInt32LE(16) * 4294967296 + data.readUInt32LE(12);
    let bucket = Math.floor((nowUs() - capturedUs) / LATENCY_BUCKET_US);
    if (bucket < 0) bucket = 0;
    else if (bucket > LATENCY_BUCKETS) bucket = LATENCY_BUCKETS;
    latencyHistogram[bucket] += 1;
    const previous = lastSequence[index];
    if (previous >= 0 && sequence !== ((previous + 1) >>> 0) && !(data[6] & FLAG_CATCHUP)) {
      gapsInWindow[index] += 1;
    }
  }
  lastSequence[index] = sequence;
}

// The `ws` client: the reference, dearer per message (it copies every payload into a Buffer).
function openWsViewer(index, handlers) {
  const socket = new WebSocket(options.url, {
    perMessageDeflate: false,
    skipUTF8Validation: true,
    handshakeTimeout: handshakeTimeoutMs,
  });
  socket.binaryType = 'nodebuffer';
  socket.on('open', handlers.open);
  socket.on('message', (data) => onMessage(index, data));
  socket.on('error', (error) => handlers.failed(error.message));
  socket.on('unexpected-response', (request, response) => {
    request.destroy();
    handlers.failed(`HTTP ${response.statusCode}`);
  });
  socket.on('close', (code) => handlers.closed(`closed by relay: ${code}`));
  return { terminate: () => socket.terminate() };
}

// The raw client: an RFC 6455 client reduced to what a viewer of this relay needs. It keeps the
// first HEAD_BYTES of each binary message in one reused buffer and skips the rest of the payload
// without copying it; it answers pings (relays ping idle viewers) and nothing else.
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const MAX_CONTROL_PAYLOAD = 125;

class RawViewer {
  constructor(index, url, handlers) {
    this.index = index;
    this.handlers = handlers;
    this.upgraded = false;
    this.response = '';
    this.header = Buffer.alloc(14);
    this.headerFill = 0;
    this.headerNeed = 2;
    this.inPayload = false;
    this.opcode = 0;
    this.remaining = 0;
    this.head = Buffer.alloc(MAX_CONTROL_PAYLOAD);
    this.headFill = 0;
    const key = randomBytes(16).toString('base64');
    this.socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
      this.socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n`
        + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(handshakeTimeoutMs, () => this.fail('handshake timed out'));
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (error) => this.fail(error.message));
    this.socket.on('close', () => handlers.closed('closed by relay'));
  }

  fail(reason) {
    this.handlers.failed(reason);
    this.socket.destroy();
  }

  terminate() {
    this.socket.destroy();
  }

  onData(chunk) {
    let position = 0;
    if (!this.upgraded) {
      this.response += chunk.toString('latin1');
      const end = this.response.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.response.slice(0, this.response.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        this.fail(status.replace(/^HTTP\/1\.1 /, 'HTTP '));
        return;
      }
      // Frames may follow the 101 in the same chunk (a relay's catch-up, say).
      position = chunk.length - (this.response.length - (end + 4));
      this.response = '';
      this.upgraded = true;
      this.socket.setTimeout(0);
      this.handlers.open();
    }
    this.onFrames(chunk, position);
  }

  onFrames(chunk, start) {
    const length = chunk.length;
    let position = start;
    while (position < length) {
      if (!this.inPayload) {
        while (this.headerFill < this.headerNeed && position < length) {
          this.header[this.headerFill++] = chunk[position++];
        }
        if (this.headerFill < this.headerNeed) return;
        const length7 = this.header[1] & 0x7f;
        if (this.headerFill === 2) {
          const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
          const maskBytes = this.header[1] & 0x80 ? 4 : 0; // servers do not mask, but be tolerant
          this.headerNeed = 2 + extended + maskBytes;
          if (this.headerNeed > 2) continue;
        }
        if (length7 === 126) this.remaining = this.header.readUInt16BE(2);
        else if (length7 === 127) this.remaining = this.header.readUInt32BE(2) * 4294967296 + this.header.readUInt32BE(6);
        else this.remaining = length7;
        this.opcode = this.header[0] & 0x0f;
        this.headerFill = 0;
        this.headerNeed = 2;
        this.headFill = 0;
        this.inPayload = true;
        if (this.remaining === 0) {
          this.endFrame();
          continue;
        }
      }
      const take = Math.min(this.remaining, length - position);
      const keep = Math.min(take, (this.opcode >= OPCODE_CLOSE ? MAX_CONTROL_PAYLOAD : HEAD_BYTES) - this.headFill);
      if (keep > 0) {
        chunk.copy(this.head, this.headFill, position, position + keep);
        this.headFill += keep;
      }
      position += take;
      this.remaining -= take;
      if (this.remaining === 0) this.endFrame();
    }
  }

  endFrame() {
    this.inPayload = false;
    if (this.opcode === OPCODE_BINARY) {
      if (this.headFill >= HEAD_BYTES) onMessage(this.index, this.head);
    } else if (this.opcode === OPCODE_PING) {
      // A client's frames are masked; a zero mask leaves the payload as it is.
      const pong = Buffer.alloc(6 + this.headFill);
      pong[0] = 0x8a;
      pong[1] = 0x80 | this.headFill;
      this.head.copy(pong, 6, 0, this.headFill);
      this.socket.write(pong);
    } else if (this.opcode === OPCODE_CLOSE) {
      this.socket.end();
    }
  }
}

function openNext() {
  while (inFlight < concurrency && nextToOpen < viewerCount) {
    const index = nextToOpen++;
    inFlight += 1;
    let settled = false;
    let isOpen = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      isOpen = ok;
      inFlight -= 1;
      if (ok) opened += 1;
      else failed += 1;
      openNext();
      if (opened + failed === viewerCount) reportConnected();
    };
    const handlers = {
      open: () => settle(true),
      failed: (reason) => {
        if (!settled) noteError(reason);
        settle(false);
      },
      closed: (reason) => {
        if (!settled) settle(false);
        else if (isOpen && !stopping) {
          closedEarly += 1;
          noteError(reason);
        }
      },
    };
    sockets[index] = options.client === 'ws'
      ? openWsViewer(index, handlers)
      : new RawViewer(index, targetUrl, handlers);
  }
}

const startedAt = performance.now();
let connectedReported = false;
function reportConnected() {
  if (connectedReported) return;
  connectedReported = true;
  const line = {
    event: 'connected',
    opened,
    failed,
    rampMs: Math.round(performance.now() - startedAt),
    errors: Object.fromEntries(errors),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

let windowStart = 0;
let eluStart = null;

function start() {
  framesInWindow.fill(0);
  gapsInWindow.fill(0);
  latencyHistogram.fill(0);
  windowStart = performance.now();
  eluStart = performance.eventLoopUtilization();
  measuring = true;
}

function stop() {
  measuring = false;
  stopping = true;
  const windowS = (performance.now() - windowStart) / 1000;
  const elu = eluStart ? performance.eventLoopUtilization(eluStart).utilization : null;
  const histogram = [];
  for (let bucket = 0; bucket <= LATENCY_BUCKETS; bucket += 1) {
    if (latencyHistogram[bucket] !== 0) histogram.push([bucket, latencyHistogram[bucket]]);
  }
  const result = {
    event: 'result',
    viewers: viewerCount,
    opened,
    failed,
    closedEarly,
    windowS,
    framesPerViewer: Array.from(framesInWindow),
    gapsPerViewer: Array.from(gapsInWindow),
    latencyBucketUs: LATENCY_BUCKET_US,
    latencyHistogram: histogram,
    eventLoopUtilization: elu,
    errors: Object.fromEntries(errors),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => {
    for (const socket of sockets) socket?.terminate();
    process.exit(0);
  });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'start') start();
  else if (command === 'stop') stop();
});
process.stdin.on('end', () => {
  if (!stopping) {
    for (const socket of sockets) socket?.terminate();
    process.exit(0);
  }
});
process.on('SIGTERM', () => process.exit(0));

if (viewerCount === 0) reportConnected();
openNext();
