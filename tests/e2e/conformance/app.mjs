// Helpers for the conformance suite: start the functional-test server app (switchboard-conformance)
// and build official SignalR clients for a transport × protocol pair.

import path from 'node:path';
import {
  HttpTransportType,
  HubConnectionBuilder,
  JsonHubProtocol,
  LogLevel,
} from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import EventSource from 'eventsource';
import { ROOT, RS, onCleanup, rawSocket, startBinary, waitFor, withTimeout } from '../server.mjs';

export const TRANSPORTS = ['WebSockets', 'ServerSentEvents', 'LongPolling'];

/** The transport × protocol pairs the JS functional tests run in Node (MessagePack never uses SSE). */
export const PAIRS = [
  { transport: 'WebSockets', protocol: 'json' },
  { transport: 'ServerSentEvents', protocol: 'json' },
  { transport: 'LongPolling', protocol: 'json' },
  { transport: 'WebSockets', protocol: 'messagepack' },
  { transport: 'LongPolling', protocol: 'messagepack' },
];

/**
 * The Node client's EventSource (the `eventsource` package), remembered so tests can close them all.
 * The SignalR client never closes an EventSource that failed before opening (e.g. a reconnect attempt
 * while the server is down), and the package then retries every second for ever, keeping Node alive.
 */
const eventSources = new Set();
export class TrackedEventSource extends EventSource {
  constructor(url, init) {
    super(url, init);
    eventSources.add(this);
  }
}

/** Closes every EventSource the clients opened (call when a file's tests are done). */
export function closeEventSources() {
  for (const source of eventSources) source.close();
  eventSources.clear();
}

/** Spawns build/switchboard-conformance (SWITCHBOARD_CONFORMANCE_BIN overrides) on `port` (0: any). */
export function startConformanceServer({ port = 0, readyTimeoutMs } = {}) {
  const bin = path.resolve(ROOT, process.env.SWITCHBOARD_CONFORMANCE_BIN ?? 'build/switchboard-conformance');
  return startBinary(bin, ['--listen', `127.0.0.1:${port}`], { readyTimeoutMs });
}

/** Starts the app and registers its stop() as cleanup on `scope` (node:test `t` or `after`). */
export async function conformanceServerFor(scope, options) {
  const server = await startConformanceServer(options);
  onCleanup(scope, () => server.stop());
  return server;
}

export function makeProtocol(name) {
  return name === 'messagepack' ? new MessagePackHubProtocol() : new JsonHubProtocol();
}

/**
 * Builds (does not start) a HubConnection to `${baseUrl}${hubPath}`.
 *
 * options: transport (name), protocol ('json' | 'messagepack'), headers, accessTokenFactory,
 *          skipNegotiation, reconnect (delays array for withAutomaticReconnect)
 */
export function buildConnection(baseUrl, hubPath, options = {}) {
  const { transport, protocol = 'json', reconnect, ...rest } = options;
  const httpOptions = { EventSource: TrackedEventSource, ...rest };
  if (transport) httpOptions.transport = HttpTransportType[transport];
  let builder = new HubConnectionBuilder()
    .withUrl(new URL(hubPath, baseUrl).href, httpOptions)
    .withHubProtocol(makeProtocol(protocol))
    .configureLogging(process.env.SIGNALR_LOG ? LogLevel.Debug : LogLevel.None);
  if (reconnect) builder = builder.withAutomaticReconnect(reconnect);
  return builder.build();
}

/** Builds, starts and registers stop() as cleanup. */
export async function connectionFor(scope, baseUrl, hubPath, options) {
  const connection = buildConnection(baseUrl, hubPath, options);
  onCleanup(scope, () => connection.stop());
  await connection.start();
  return connection;
}

/** Records the arguments of every call of `name` the server makes on `connection`. */
export function record(connection, name) {
  const calls = [];
  connection.on(name, (...args) => calls.push(args));
  return calls;
}

/** Subscribes to a client stream; resolves with its items on completion, rejects with its error. */
export function collectStream(stream, timeoutMs = 5_000) {
  const items = [];
  const done = new Promise((resolve, reject) => {
    stream.subscribe({
      next: (item) => items.push(item),
      complete: () => resolve(items),
      error: (error) => reject(error),
    });
  });
  const timedOut = Symbol('timed out');
  return withTimeout(done, timeoutMs, timedOut).then((result) => {
    if (result === timedOut) throw new Error(`stream did not end within ${timeoutMs} ms; items so far: ${JSON.stringify(items)}`);
    return result;
  });
}

/**
 * Whether the server accepts the MessagePack hub protocol: null when it does, else the reason it refused
 * (asked with a real handshake on a WebSocket, so nothing is assumed about the server's build).
 */
export async function messagePackRefusal(baseUrl) {
  const socket = rawSocket(`${baseUrl.replace(/^http/, 'ws')}/testhub`);
  try {
    await socket.opened;
    await socket.send(JSON.stringify({ protocol: 'messagepack', version: 1 }) + RS);
    await waitFor(() => socket.frames.length > 0 || socket.isClosed, 5_000, { message: 'a MessagePack handshake answer' });
    const first = socket.frames[0];
    if (!first) return 'the server closed the connection at the MessagePack handshake';
    const text = first.isBinary ? first.data.toString('utf8') : first.data;
    const answer = JSON.parse(text.split(RS)[0]);
    return answer.error ? `the server refuses the MessagePack protocol: ${answer.error}` : null;
  } finally {
    await socket.close();
  }
}

/** A string with letters in random case, e.g. "mEsSaGe": client handlers match case-insensitively. */
export function randomCase(text) {
  return [...text].map((c) => (Math.random() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
}
