// A minimal node.js `ws` broadcast relay, as the 2012 original was: the baseline for bench/relay.py.
//
//   node bench/node_relay.mjs --port 9001 [--host 127.0.0.1]
//
// A source sends to ws://host:port/source/<name>; every message is sent as it is to every open
// viewer of ws://host:port/view/<name>. Like the original it has no authentication, no catch-up
// for late joiners (they wait for the next keyframe) and no per-viewer policy beyond skipping a
// viewer whose socket buffer is over SKIP_BUFFERED_BYTES, which breaks that viewer's delta chain.
// It reads nothing of a frame. Ends cleanly on SIGTERM / SIGINT.

import { parseArgs } from 'node:util';
import { WebSocketServer, WebSocket } from 'ws';

// The original skipped a viewer whose unsent data was over 256 KB.
const SKIP_BUFFERED_BYTES = 256 * 1024;
// Largest message taken from a source (a classic frame is a few KB).
const MAX_SOURCE_MESSAGE_BYTES = 4 * 1024 * 1024 + 40;

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: '9001' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const viewersByStream = new Map(); // stream name -> Set of viewer sockets
let framesIn = 0;
let framesSkipped = 0;

function viewersOf(name) {
  let viewers = viewersByStream.get(name);
  if (viewers === undefined) {
    viewers = new Set();
    viewersByStream.set(name, viewers);
  }
  return viewers;
}

function broadcast(viewers, data) {
  framesIn += 1;
  for (const viewer of viewers) {
    if (viewer.readyState !== WebSocket.OPEN) continue;
    if (viewer.bufferedAmount > SKIP_BUFFERED_BYTES) {
      framesSkipped += 1;
      continue;
    }
    viewer.send(data, { binary: true });
  }
}

const server = new WebSocketServer({
  host: options.host,
  port: Number(options.port),
  perMessageDeflate: false,
  maxPayload: MAX_SOURCE_MESSAGE_BYTES,
  backlog: 1024,
});

server.on('connection', (socket, request) => {
  const path = new URL(request.url, 'http://relay').pathname;
  const match = /^\/(source|view)\/([^/]+)$/.exec(path);
  if (match === null) {
    socket.close(1008, 'use /source/<name> or /view/<name>');
    return;
  }
  const [, role, name] = match;
  const viewers = viewersOf(name);
  if (role === 'source') {
    socket.on('message', (data, isBinary) => {
      if (isBinary) broadcast(viewers, data);
    });
  } else {
    viewers.add(socket);
    socket.on('close', () => viewers.delete(socket));
    socket.on('message', () => {}); // viewers' control messages are ignored here
  }
  socket.on('error', () => socket.terminate());
});

server.on('listening', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});

function stop() {
  const viewers = [...viewersByStream.values()].reduce((n, set) => n + set.size, 0);
  process.stderr.write(
    `${JSON.stringify({ event: 'stopped', framesIn, framesSkipped, viewers })}\n`,
  );
  for (const client of server.clients) client.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
