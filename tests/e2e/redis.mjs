// Test helpers for the Redis backplane: a real redis-server on a free loopback port, and a raw RESP client
// (node `net`) to PUBLISH hand-built payloads and SUBSCRIBE to what the servers publish.
//
// The server runs in a temp dir with no persistence (`--save '' --appendonly no`); it can be stopped and
// started again on the same port (a Redis restart under running switchboard instances). The temp dir and
// the process are always cleaned up: by stop(), by the registered test cleanup, and by a process 'exit'
// safety net. No fixed sleeps: readiness is polled with a deadline.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { onCleanup, waitFor, withTimeout } from './server.mjs';
import { startService } from './service.mjs';

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';

const tempDirs = new Set();
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** True when redis-server can be run here (tests skip otherwise). */
export function redisAvailable() {
  const result = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
  return result.status === 0;
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// RESP

/** Encodes a command (strings or Buffers) as a RESP array of bulk strings. */
export function encodeCommand(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) || arg instanceof Uint8Array ? Buffer.from(arg) : Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A RESP error reply. */
export class RedisError extends Error {}

/**
 * Incremental RESP2 parser: push(chunk) returns the complete replies so far. Bulk strings are Buffers
 * (binary safe), simple strings are strings, errors are RedisError instances, integers numbers.
 */
export class RespParser {
  #buffer = Buffer.alloc(0);

  push(chunk) {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const replies = [];
    for (;;) {
      const parsed = this.#parse(0);
      if (!parsed) break;
      replies.push(parsed.value);
      this.#buffer = this.#buffer.subarray(parsed.end);
    }
    return replies;
  }

  #line(offset) {
    const end = this.#buffer.indexOf('\r\n', offset);
    return end < 0 ? null : { text: this.#buffer.toString('utf8', offset + 1, end), next: end + 2 };
  }

  #parse(offset) {
    if (offset >= this.#buffer.length) return null;
    const type = String.fromCharCode(this.#buffer[offset]);
    const line = this.#line(offset);
    if (!line) return null;
    switch (type) {
      case '+': return { value: line.text, end: line.next };
      case '-': return { value: new RedisError(line.text), end: line.next };
      case ':': return { value: Number(line.text), end: line.next };
      case '$': {
        const length = Number(line.text);
        if (length < 0) return { value: null, end: line.next };
        if (this.#buffer.length < line.next + length + 2) return null;
        return { value: Buffer.from(this.#buffer.subarray(line.next, line.next + length)), end: line.next + length + 2 };
      }
      case '*': {
        const count = Number(line.text);
        if (count < 0) return { value: null, end: line.next };
        const items = [];
        let next = line.next;
        for (let i = 0; i < count; i += 1) {
          const item = this.#parse(next);
          if (!item) return null;
          items.push(item.value);
          next = item.end;
        }
        return { value: items, end: next };
      }
      default:
        throw new Error(`unexpected RESP type byte 0x${this.#buffer[offset].toString(16)}`);
    }
  }
}

const asText = (value) => (Buffer.isBuffer(value) ? value.toString('utf8') : value);

/**
 * A raw RESP connection. command(...args) resolves with the reply (rejects on an error reply). After
 * subscribe(channel) the connection is in pub/sub mode: published messages are recorded in `messages` as
 * { channel: string, payload: Buffer } in arrival order.
 */
export async function redisConnection(port, { host = '127.0.0.1', timeoutMs = 5_000 } = {}) {
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`could not connect to Redis on ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); resolve(); });
    socket.once('error', (error) => { clearTimeout(timer); reject(error); });
  });

  const parser = new RespParser();
  const pending = [];
  const messages = [];
  const waiters = new Set();
  let closed = false;
  let subscribed = false;

  const failAll = (error) => {
    closed = true;
    for (const p of pending.splice(0)) p.reject(error);
  };
  socket.on('error', (error) => failAll(error));
  socket.on('close', () => failAll(new Error('Redis connection closed')));
  socket.on('data', (chunk) => {
    for (const reply of parser.push(chunk)) {
      if (subscribed && Array.isArray(reply) && asText(reply[0]) === 'message') {
        messages.push({ channel: asText(reply[1]), payload: reply[2] });
        for (const waiter of waiters) waiter();
        continue;
      }
      const next = pending.shift();
      if (!next) continue;
      if (reply instanceof RedisError) next.reject(reply);
      else next.resolve(reply);
    }
  });

  const connection = {
    socket,
    messages,
    get closed() { return closed; },
    command(...args) {
      if (closed) return Promise.reject(new Error('Redis connection closed'));
      return new Promise((resolve, reject) => {
        pending.push({ resolve, reject });
        socket.write(encodeCommand(args));
      });
    },
    /** SUBSCRIBEs (one channel per call) and resolves once Redis confirmed it. */
    async subscribe(channel) {
      subscribed = true;
      const reply = await connection.command('SUBSCRIBE', channel);
      if (asText(reply[0]) !== 'subscribe') throw new Error(`unexpected SUBSCRIBE reply ${JSON.stringify(reply)}`);
      return reply;
    },
    /** Waits for a message matching `predicate` ({channel, payload}); returns it. */
    waitForMessage(predicate, timeoutMs = 5_000, what = 'a matching Redis message') {
      return waitFor(() => messages.find(predicate), timeoutMs, {
        message: () => `${what}; got ${messages.length} message(s) on ${[...new Set(messages.map((m) => m.channel))].join(', ') || 'no channel'}`,
      });
    },
    async close() {
      if (closed) return;
      const done = new Promise((resolve) => socket.once('close', resolve));
      socket.end();
      if (!(await withTimeout(done, 1_000, false))) socket.destroy();
    },
  };
  return connection;
}

/** PING once on a fresh connection; true when Redis answered PONG. */
async function pingOnce(port) {
  let connection;
  try {
    connection = await redisConnection(port, { timeoutMs: 1_000 });
    const reply = await withTimeout(connection.command('PING'), 1_000);
    return reply === 'PONG';
  } catch {
    return false;
  } finally {
    connection?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// redis-server

/**
 * Starts redis-server on 127.0.0.1 (a free port unless `port` is given) and resolves once it answers PING.
 *
 * Returns { host, port, url, dir, running, start(), stop(), restart(), connect(), publish(channel, payload),
 *   numsub(channel), log() }:
 *   url         redis://127.0.0.1:PORT (for --backplane)
 *   pid         the redis-server process id
 *   stop()      stops the process (SIGTERM, SIGKILL after a deadline); start() runs it again on the same port
 *   connect()   a raw RESP connection (see redisConnection), closed by stop() of this handle's owner
 *   destroy()   stop() and remove the temp dir (what the registered cleanup does)
 */
export async function startRedis({ port, readyTimeoutMs = 10_000, extraArgs = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-redis-'));
  tempDirs.add(dir);
  let service = null;
  const connections = new Set();

  let chosenPort = port ?? (await freePort());

  async function spawnOnce() {
    const argv = [
      '--port', String(chosenPort),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--daemonize', 'no',
      '--protected-mode', 'no',
      '--logfile', '',
      ...extraArgs,
    ];
    service = await startService('redis', REDIS_SERVER, argv,
      { spawnOptions: { cwd: dir }, ready: () => pingOnce(chosenPort), readyTimeoutMs });
  }

  const handle = {
    host: '127.0.0.1',
    port: chosenPort,
    url: `redis://127.0.0.1:${chosenPort}`,
    dir,
    get running() { return Boolean(service?.running); },
    /** The redis-server process id (for CPU figures), while it runs. */
    get pid() { return service?.pid; },
    log: () => service?.log() ?? '',
    async start() {
      if (handle.running) return;
      await spawnOnce();
    },
    stop: (timeoutMs) => service?.stop('SIGTERM', timeoutMs) ?? null,
    async restart() {
      await handle.stop();
      await handle.start();
    },
    async connect() {
      const connection = await redisConnection(chosenPort);
      connections.add(connection);
      return connection;
    },
    /** PUBLISH on a fresh short-lived connection; resolves with the number of receivers. */
    async publish(channel, payload) {
      const connection = await redisConnection(chosenPort);
      try {
        return await connection.command('PUBLISH', channel, payload);
      } finally {
        await connection.close();
      }
    },
    /** How many SUBSCRIBE-ers `channel` has now (PUBSUB NUMSUB). */
    async numsub(channel) {
      const connection = await redisConnection(chosenPort);
      try {
        const reply = await connection.command('PUBSUB', 'NUMSUB', channel);
        return Number(reply[1]);
      } finally {
        await connection.close();
      }
    },
    /** Waits until `channel` has at least `count` subscribers. */
    waitForSubscribers(channel, count, timeoutMs = 10_000) {
      let last = -1;
      return waitFor(async () => {
        last = await handle.numsub(channel);
        return last >= count;
      }, timeoutMs, { interval: 20, message: () => `${count} subscriber(s) on ${channel} (have ${last})` });
    },
    async destroy() {
      await Promise.all([...connections].map((c) => c.close()));
      connections.clear();
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };

  // A port picked by freePort() can be taken by someone else before redis-server binds it: try another.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await spawnOnce();
      return handle;
    } catch (error) {
      await handle.stop();
      if (port !== undefined || attempt >= 3 || handle.running) {
        await handle.destroy();
        throw error;
      }
      chosenPort = await freePort();
      handle.port = chosenPort;
      handle.url = `redis://127.0.0.1:${chosenPort}`;
    }
  }
}

/** startRedis() with destroy() registered as cleanup on `scope` (node:test `t` or a hook like `after`). */
export async function redisFor(scope, options = {}) {
  const redis = await startRedis(options);
  onCleanup(scope, () => redis.destroy());
  return redis;
}
