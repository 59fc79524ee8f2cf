// Test helpers: spawn the switchboard server, poll for conditions, build SignalR clients.
//
// Every helper here is deliberately free of fixed sleeps: conditions are polled with a deadline.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HubConnectionBuilder,
  HttpTransportType,
  LogLevel,
} from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import WebSocket from 'ws';

/** Every transport x protocol pair the official clients use (MessagePack never rides SSE). */
export const VARIANTS = [
  { name: 'WebSockets/JSON', transport: HttpTransportType.WebSockets, messagepack: false },
  { name: 'ServerSentEvents/JSON', transport: HttpTransportType.ServerSentEvents, messagepack: false },
  { name: 'LongPolling/JSON', transport: HttpTransportType.LongPolling, messagepack: false },
  { name: 'WebSockets/MessagePack', transport: HttpTransportType.WebSockets, messagepack: true },
  { name: 'LongPolling/MessagePack', transport: HttpTransportType.LongPolling, messagepack: true },
];

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RS = '\u001e';

/** Every event the chat hub sends to clients. */
export const CHAT_EVENTS = [
  'ReceiveMessage',
  'ReceiveDirectMessage',
  'ReceiveGroupMessage',
  'UserJoinedGroup',
  'UserLeftGroup',
  'UserConnected',
  'UserDisconnected',
  'UserOnline',
  'UserOffline',
];

const READY_PATTERN = /listening on (https?:\/\/[^\s]+)/;
const MAX_LOG_CHARS = 64 * 1024;
const verbose = Boolean(process.env.SWITCHBOARD_TEST_VERBOSE);

// Safety net: if a test file dies without running its after() hooks, do not leave servers behind.
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

function appendBounded(log, chunk) {
  const next = log + chunk;
  return next.length > MAX_LOG_CHARS ? next.slice(next.length - MAX_LOG_CHARS) : next;
}

function exitDescription(code, signal) {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/**
 * Spawns `switchboard serve` and resolves once it printed its listening line.
 *
 * @param {string[]} args extra command-line arguments
 * @param {{port?: number, staticDir?: string, readyTimeoutMs?: number}} options
 * @returns {Promise<{url: string, port: number, process: import('node:child_process').ChildProcess,
 *   stdout: () => string, stderr: () => string, exited: Promise<{code: number|null, signal: string|null}>,
 *   stop: (timeoutMs?: number) => Promise<{code: number|null, signal: string|null, forced: boolean}>}>}
 */
export function startServer(args = [], { port, staticDir = 'web', readyTimeoutMs = 10_000 } = {}) {
  const bin = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');
  const argv = ['serve', '--listen', `127.0.0.1:${port ?? 0}`, '--static-dir', staticDir, ...args];
  return startBinary(bin, argv, { readyTimeoutMs });
}

/**
 * Spawns any server binary that prints "listening on http(s)://HOST:PORT" (the switchboard binary, the
 * conformance app) and resolves like startServer once it did.
 *
 * @param {string} bin path of the executable
 * @param {string[]} argv its arguments
 * @param {{readyTimeoutMs?: number}} options
 */
export function startBinary(bin, argv, { readyTimeoutMs = 10_000 } = {}) {
  const child = spawn(bin, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);

  let stdout = '';
  let stderr = '';
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      liveChildren.delete(child);
      resolve(exitInfo);
    });
  });
  // 'close' comes after 'exit' once both pipes are drained: wait for it (briefly) before reporting logs.
  const drained = new Promise((resolve) => child.once('close', resolve));

  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  // Keep draining both pipes for the whole lifetime of the process, or the server blocks on a full pipe.
  child.stderr.on('data', (chunk) => {
    stderr = appendBounded(stderr, chunk);
    if (verbose) process.stderr.write(`[switchboard:${child.pid}] ${chunk}`);
  });

  const command = `${path.relative(ROOT, bin) || bin} ${argv.join(' ')}`;

  return new Promise((resolve, reject) => {
    let settled = false;
    let pending = '';

    const fail = (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!exitInfo) child.kill('SIGKILL');
      // Collect the last of stdout/stderr before reporting (the exit event may precede the last data).
      withTimeout(drained, 1_000).then(() => reject(new Error(`${reason}\ncommand: ${command}\nstdout:\n${stdout}\nstderr:\n${stderr}`)));
    };

    const timer = setTimeout(() => fail(`switchboard did not report "listening on" within ${readyTimeoutMs} ms`), readyTimeoutMs);

    child.once('error', (error) => fail(`could not spawn switchboard: ${error.message}`));
    child.once('exit', (code, signal) => fail(`switchboard exited with ${exitDescription(code, signal)} before listening`));

    child.stdout.on('data', (chunk) => {
      stdout = appendBounded(stdout, chunk);
      if (verbose) process.stderr.write(`[switchboard:${child.pid}] ${chunk}`);
      if (settled) return;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const match = READY_PATTERN.exec(line);
        if (!match) continue;
        settled = true;
        clearTimeout(timer);
        const url = match[1].replace(/\/+$/, '');
        const stop = async (timeoutMs = 5_000) => {
          if (exitInfo) return { ...exitInfo, forced: false };
          child.kill('SIGTERM');
          const graceful = await withTimeout(exited, timeoutMs);
          if (graceful) return { ...graceful, forced: false };
          child.kill('SIGKILL');
          return { ...(await exited), forced: true };
        };
        resolve({
          url,
          port: Number(new URL(url).port),
          process: child,
          stdout: () => stdout,
          stderr: () => stderr,
          exited,
          stop,
        });
        return;
      }
    });
  });
}

/** Resolves with `promise`'s value, or with `fallback` after `ms` (the timer is cleared either way). */
export function withTimeout(promise, ms, fallback = null) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `predicate` (sync or async) until it returns a truthy value, which is returned.
 * Throws after `timeoutMs` with `message` (a string or a function producing one, for diagnostics).
 */
export async function waitFor(predicate, timeoutMs = 5_000, { interval = 10, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const text = typeof message === 'function' ? message() : message;
      const cause = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${text}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Builds (and by default starts) a HubConnection to `${baseUrl}${hub}?user=<user>` over WebSockets with
 * negotiation, recording everything it receives.
 *
 * options:
 *   hub                              hub path (default '/hubs/chat')
 *   reconnect                        true | number[] | IRetryPolicy → withAutomaticReconnect(...)
 *   serverTimeoutInMilliseconds, keepAliveIntervalInMilliseconds
 *   start                            false to only build (default true)
 *   transport, messagepack           transport (default WebSockets) and hub protocol (default JSON)
 *   logLevel                         signalR LogLevel (default None; SIGNALR_LOG=debug|info|warn for more)
 *   stateful                         withStatefulReconnect(): a dropped socket resumes the same connection
 *
 * Returns { connection, user, events, closes, reconnecting, reconnected, start(), stop() } where
 * events[name] is an array of argument arrays, one per received invocation of that event.
 */
export async function connect(baseUrl, user, options = {}) {
  const {
    hub = '/hubs/chat',
    reconnect,
    serverTimeoutInMilliseconds,
    keepAliveIntervalInMilliseconds,
    start = true,
    logLevel = logLevelFromEnv(),
    transport = HttpTransportType.WebSockets,
    messagepack = false,
    accessTokenFactory,
    stateful = false,
  } = options;

  const url = new URL(hub, baseUrl);
  if (user !== undefined && user !== null) url.searchParams.set('user', user);

  let builder = new HubConnectionBuilder()
    .withUrl(url.href, { transport, skipNegotiation: false, ...(accessTokenFactory ? { accessTokenFactory } : {}) })
    .configureLogging(logLevel);
  if (messagepack) builder = builder.withHubProtocol(new MessagePackHubProtocol());
  if (reconnect === true) builder = builder.withAutomaticReconnect();
  else if (reconnect) builder = builder.withAutomaticReconnect(reconnect);
  if (stateful) builder = builder.withStatefulReconnect();
  const connection = builder.build();
  if (serverTimeoutInMilliseconds !== undefined) connection.serverTimeoutInMilliseconds = serverTimeoutInMilliseconds;
  if (keepAliveIntervalInMilliseconds !== undefined) connection.keepAliveIntervalInMilliseconds = keepAliveIntervalInMilliseconds;

  const events = Object.fromEntries(CHAT_EVENTS.map((name) => [name, []]));
  for (const name of CHAT_EVENTS) connection.on(name, (...args) => events[name].push(args));
  const closes = [];
  const reconnecting = [];
  const reconnected = [];
  connection.onclose((error) => closes.push(error ?? null));
  connection.onreconnecting((error) => reconnecting.push(error ?? null));
  connection.onreconnected((connectionId) => reconnected.push(connectionId));

  const client = {
    connection,
    user,
    url: url.href,
    events,
    closes,
    reconnecting,
    reconnected,
    start: () => connection.start(),
    stop: () => connection.stop(),
  };
  if (start) await connection.start();
  return client;
}

function logLevelFromEnv() {
  switch ((process.env.SIGNALR_LOG ?? '').toLowerCase()) {
    case 'trace': return LogLevel.Trace;
    case 'debug': return LogLevel.Debug;
    case 'info': return LogLevel.Information;
    case 'warn': return LogLevel.Warning;
    case 'error': return LogLevel.Error;
    default: return LogLevel.None;
  }
}

/** Registers `fn` as cleanup on `scope`: a node:test TestContext (t.after) or a hook function (after). */
export function onCleanup(scope, fn) {
  if (typeof scope?.after === 'function') scope.after(fn);
  else scope(fn);
}

/** Starts a server and registers its stop() as cleanup on `scope` (node:test `t` or `after`). */
export async function serverFor(scope, args = [], options = {}) {
  const server = await startServer(args, options);
  onCleanup(scope, () => server.stop());
  return server;
}

/** Connects (unless options.start === false) and registers client.stop() as cleanup on `scope`. */
export async function clientFor(scope, baseUrl, user, options = {}) {
  const client = await connect(baseUrl, user, { ...options, start: false });
  onCleanup(scope, () => client.stop());
  if (options.start !== false) await client.start();
  return client;
}

/** Waits until `client` received event `name` with arguments matching `predicate`; returns those arguments. */
export function waitForEvent(client, name, predicate = () => true, timeoutMs = 5_000) {
  return waitFor(() => client.events[name].find((args) => predicate(args)), timeoutMs, {
    message: () => `${client.user ?? 'client'} to receive ${name} matching ${predicate}; received ${JSON.stringify(client.events[name])}`,
  });
}

/** How many `name` events matching `predicate` the client received so far. */
export function countEvents(client, name, predicate = () => true) {
  return client.events[name].filter((args) => predicate(args)).length;
}

let uniqueCounter = 0;
/** A short name unique within this process (tests share servers, so names and messages must not collide). */
export function unique(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}-${Math.random().toString(36).slice(2, 7)}`;
}

/**
 * A raw WebSocket (npm `ws`) to a hub, for protocol-level tests. Records every frame and splits text frames
 * into 0x1E-terminated messages.
 *
 * Returns { ws, frames, messages, opened, closed, send(data, {binary}), handshake(), waitForMessage(pred), close() }:
 *   frames   [{ data: string|Buffer, isBinary }]
 *   messages [string] record-separated payloads (without the separator) from text frames, in order
 *   closed   Promise<{ code, reason }> (resolves when the socket closed, for whatever reason)
 */
export function rawSocket(url, { headers } = {}) {
  const ws = new WebSocket(url, { headers });
  const frames = [];
  const messages = [];
  const errors = [];
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString('utf8');
    frames.push({ data: isBinary ? data : text, isBinary });
    if (text !== null) {
      const parts = text.split(RS);
      parts.pop(); // '' when the frame ends with RS, an incomplete tail otherwise (frames[] keeps the evidence)
      messages.push(...parts);
    }
  });
  ws.on('error', (error) => errors.push(error));
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  opened.catch(() => {});
  const closed = new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
  });
  let isClosed = false;
  closed.then(() => { isClosed = true; });

  const socket = {
    ws,
    frames,
    messages,
    errors,
    opened,
    closed,
    get isClosed() { return isClosed; },
    async send(data, { binary = false } = {}) {
      await opened;
      await new Promise((resolve, reject) => ws.send(binary ? Buffer.from(data) : data, { binary }, (e) => (e ? reject(e) : resolve())));
    },
    /** Sends the JSON handshake and waits for the server's answer (the first message). */
    async handshake(request = { protocol: 'json', version: 1 }) {
      await socket.send(JSON.stringify(request) + RS);
      return waitFor(() => messages.length > 0 && messages[0], 5_000, { message: 'handshake response' });
    },
    /** Waits for a message (after the handshake response) whose parsed JSON matches `predicate`. */
    waitForMessage(predicate, timeoutMs = 5_000) {
      return waitFor(() => socket.parsed().find(predicate), timeoutMs, {
        message: () => `a matching message; received ${JSON.stringify(messages)}`,
      });
    },
    /** Hub messages after the handshake response, parsed. */
    parsed() {
      return messages.slice(1).map((m) => JSON.parse(m));
    },
    async close() {
      if (ws.readyState === WebSocket.CONNECTING) {
        ws.terminate();
      } else if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000);
      }
      const result = await withTimeout(closed, 2_000);
      if (!result) ws.terminate();
    },
  };
  return socket;
}

