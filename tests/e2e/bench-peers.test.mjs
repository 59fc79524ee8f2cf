// Issue #6: the benchmark peers (bench/peers) start, serve and scale out over one Redis, so the
// side-by-side runs cannot rot. Real processes through bench/peers/start.sh on free ports: two
// Socket.IO 4 instances with the Redis adapter, and two nginx + Nchan instances with
// nchan_redis_pass. A peer that is not installed fails here with what to run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import WebSocket from 'ws';
import { ROOT, onCleanup, startBinary, unique, waitFor } from './server.mjs';
import { startRedis } from './redis.mjs';
import { bench, benchRefusal } from './bench.mjs';

const START = path.join(ROOT, 'bench/peers/start.sh');
const SOCKETIO_DIR = path.join(ROOT, 'bench/peers/socketio');
const NCHAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const TIMEOUT = 10_000;
const INSTALL_HINT = 'run scripts/install-deps --test (or bench/peers/install.sh)';

/** Starts a peer through start.sh; stopped by the cleanup of `scope`. A peer ends itself after a minute. */
async function peerFor(scope, peer, redisUrl) {
  const server = await startBinary(START, [peer, '--redis', redisUrl, '--max-seconds', '60'], {
    readyTimeoutMs: 15_000,
  });
  onCleanup(scope, async () => {
    const { forced } = await server.stop(10_000);
    assert.equal(forced, false, `${peer} did not stop on SIGTERM`);
  });
  return server;
}

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.destroy();
});

// Checked inside each test, not in a hook: a missing peer must count as a failed test.
function socketIoClient() {
  const require = createRequire(path.join(SOCKETIO_DIR, 'package.json'));
  try {
    return require('socket.io-client').io;
  } catch (error) {
    return assert.fail(`socket.io-client is not installed in bench/peers/socketio: ${INSTALL_HINT} (${error.message})`);
  }
}

describe('Socket.IO peer', () => {
  /** A connected client recording every event it receives as [name, ...args]. */
  async function clientFor(t, url, user) {
    const socket = socketIoClient()(url, { transports: ['websocket'], auth: { user }, reconnection: false });
    const events = [];
    socket.onAny((name, ...args) => events.push([name, ...args]));
    t.after(() => socket.close());
    await waitFor(() => socket.connected, TIMEOUT, { message: `${user} to connect to ${url}` });
    const received = (name, predicate = () => true) => waitFor(
      () => events.find(([event, ...args]) => event === name && predicate(args)),
      TIMEOUT,
      { message: () => `${user} to receive '${name}'; received ${JSON.stringify(events)}` },
    );
    const request = (name, ...args) => new Promise((resolve) => socket.emit(name, ...args, resolve));
    return { socket, events, received, request };
  }

  test('two instances on one Redis: broadcast, group, direct and echo cross instances', async (t) => {
    socketIoClient();
    const [a, b] = [await peerFor(t, 'socketio', redis.url), await peerFor(t, 'socketio', redis.url)];
    assert.notEqual(a.url, b.url);
    const alice = await clientFor(t, a.url, unique('alice'));
    const bob = await clientFor(t, b.url, unique('bob'));

    const hello = unique('hello');
    alice.socket.emit('broadcast', hello);
    await bob.received('broadcast', ([, text]) => text === hello);
    await alice.received('broadcast', ([, text]) => text === hello);

    const group = unique('group');
    await alice.request('group join', group);
    await bob.request('group join', group);
    const toGroup = unique('to-group');
    bob.socket.emit('group send', group, toGroup);
    const [, name, , text] = await alice.received('group', ([, , message]) => message === toGroup);
    assert.deepEqual([name, text], [group, toGroup]);

    const direct = unique('direct');
    bob.socket.emit('direct', alice.socket.auth.user, direct);
    await alice.received('direct', ([from, message]) => message === direct && from === bob.socket.auth.user);

    alice.socket.emit('echo', { sent: 42 });
    await alice.received('echo', ([payload]) => payload.sent === 42);
    assert.ok(!bob.events.some(([event]) => event === 'echo'), 'echo reaches the sender only');
  });
});

describe('Nchan peer', () => {
  /** A WebSocket subscriber of `channel` recording every text message. */
  async function subscriberFor(t, url, channel) {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/sub/${channel}`);
    const messages = [];
    ws.on('message', (data) => messages.push(data.toString()));
    t.after(() => ws.terminate());
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return { ws, messages };
  }

  test('two instances on one Redis: an HTTP publish on one reaches a WebSocket subscriber of the other', async (t) => {
    assert.ok(fs.existsSync(NCHAN_MODULE), `${NCHAN_MODULE} is missing: ${INSTALL_HINT}`);
    const [a, b] = [await peerFor(t, 'nchan', redis.url), await peerFor(t, 'nchan', redis.url)];
    const channel = unique('room');
    const subscriber = await subscriberFor(t, a.url, channel);

    // The subscription reaches Redis after the WebSocket opened: wait until instance b counts it.
    await waitFor(async () => {
      const response = await fetch(`${b.url}/pub/${channel}`, { headers: { accept: 'text/json' } });
      const body = await response.text();
      return response.ok && /"subscribers"\s*:\s*"?1/.test(body);
    }, TIMEOUT, { interval: 20, message: `instance b to see the subscriber of ${channel}` });

    const message = unique('across');
    const published = await fetch(`${b.url}/pub/${channel}`, { method: 'POST', body: message });
    assert.ok(published.ok, `publish answered ${published.status}`);
    await waitFor(() => subscriber.messages.includes(message), TIMEOUT, {
      message: () => `the subscriber on a to receive ${message}; got ${JSON.stringify(subscriber.messages)}`,
    });
  });
});

// `switchboard bench --target` drives the peers with the same scenarios as Switchboard: a two-second
// broadcast against each (one instance) delivers everything. Never asserts on speed.
describe('switchboard bench against the peers', () => {
  for (const peer of ['socketio', 'nchan']) {
    test(`bench broadcast --target ${peer}: 30 connections for 2 s deliver everything`, async (t) => {
      if (peer === 'socketio') socketIoClient();
      else assert.ok(fs.existsSync(NCHAN_MODULE), `${NCHAN_MODULE} is missing: ${INSTALL_HINT}`);
      const server = await peerFor(t, peer, redis.url);
      const { report } = await bench(t, ['broadcast', '--target', peer, '--url', server.url,
        '--connections', '30', '--rate', '5', '--duration', '2s',
        '--server-pid', String(server.process.pid)]);
      assert.equal(report.target, peer);
      assert.equal(report.connected, 30);
      assert.equal(report.closed_by_server, 0);
      assert.ok(report.received > 0, 'messages were delivered');
      assert.equal(report.lost, 0);
      assert.equal(report.received, report.expected);
      assert.ok(report.server.cpu_seconds >= 0);
    });
  }

  test('bench refuses a scenario a peer cannot run before any load', async () => {
    const { code, stderr } = await benchRefusal(['echo', '--target', 'nchan', '--url', 'http://127.0.0.1:9']);
    assert.equal(code, 2);
    assert.match(stderr, /cannot run echo/);
  });
});
