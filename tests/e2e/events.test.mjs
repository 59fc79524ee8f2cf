// Event streams (docs/events.md): plain EventSource subscribers (npm `eventsource`), publishing over REST,
// resume with Last-Event-ID on the same and on other instances (a real Redis between them), refusals,
// slow subscribers and keep-alive comments.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import EventSource from 'eventsource';
import { onCleanup, serverFor, startServer, unique, waitFor } from './server.mjs';
import { redisAvailable } from './redis.mjs';
import { startCluster, suiteScope } from './scaleout/cluster.mjs';

const KEY = 'events-e2e-publish-key';
const SECRET = 'switchboard-e2e-secret-0123456789abcdef';
const TIMEOUT = 10_000; // cross-instance deliveries on a loaded 2-core machine
const ID = /^\d+-\d+$/;

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An HS256 token for `claims`, valid for an hour. */
function jwt(claims) {
  const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/** POST /api/events[/<channel>] → { status, body } (body parsed as JSON when it is). */
async function publish(server, { channel, body, auth = KEY }) {
  const url = channel === undefined ? `${server.url}/api/events` : `${server.url}/api/events/${encodeURIComponent(channel)}`;
  const headers = { 'Content-Type': 'application/json' };
  if (auth) headers.Authorization = `Bearer ${auth}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a text body
  }
  return { status: response.status, body: parsed };
}

/** Publishes `{type, data}` to `channel` and returns its id. */
async function publishOne(server, channel, type, data) {
  const { status, body } = await publish(server, { channel, body: { type, data } });
  assert.equal(status, 202, JSON.stringify(body));
  assert.match(body.ids[channel], ID);
  return body.ids[channel];
}

/**
 * An EventSource on `path` that records every event of `types` (EventSource dispatches by type name)
 * as { type, id, channel, data }.
 */
function subscribe(scope, server, path, { types = ['T', 'reset'], headers } = {}) {
  const source = new EventSource(`${server.url}${path}`, { headers });
  const events = [];
  const errors = [];
  for (const type of types) {
    source.addEventListener(type, (e) => {
      const payload = JSON.parse(e.data);
      events.push({ type, id: e.lastEventId, channel: payload.channel, data: payload.data, reason: payload.reason });
    });
  }
  source.onerror = (e) => errors.push(e);
  const opened = new Promise((resolve) => { source.onopen = resolve; });
  onCleanup(scope, () => source.close());
  return { source, events, errors, opened };
}

/** GET `path` and the raw status + response text so far (the body of an SSE stream keeps growing). */
function rawGet(scope, server, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.get(`${server.url}${path}`, { headers }, (response) => {
      const state = { status: response.statusCode, headers: response.headers, text: '', ended: false, response };
      response.setEncoding('utf8');
      response.on('data', (chunk) => { state.text += chunk; });
      response.on('end', () => { state.ended = true; });
      response.on('error', () => { state.ended = true; });
      response.on('close', () => { state.ended = true; });
      resolve(state);
    });
    request.on('error', reject);
    onCleanup(scope, () => request.destroy());
  });
}

async function diagnostics(server) {
  const response = await fetch(`${server.url}/api/events/diagnostics`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(response.status, 200);
  return response.json();
}

async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

const datas = (sub) => sub.events.filter((e) => e.type !== 'reset').map((e) => e.data);

describe('event streams on one instance', () => {
  let server;
  before(async () => {
    server = await startServer(['--events-publish-key', KEY, '--events-retain', 'state:*']);
  });
  after(() => server.stop());

  test('subscribers receive every event once, in order, named by its type', async (t) => {
    const channel = unique('game');
    const other = unique('other');
    const path = `/events?channel=${channel}&channel=${other}`;
    const a = subscribe(t, server, path, { types: ['Joined', 'Left'] });
    const b = subscribe(t, server, `/events/${channel}`, { types: ['Joined', 'Left'] });
    await Promise.all([a.opened, b.opened]);
    await waitFor(async () => (await diagnostics(server)).local.some((c) => c.channel === channel && c.subscribers === 2));
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(await publishOne(server, channel, i % 2 ? 'Left' : 'Joined', { i }));
    const multi = await publish(server, { body: { channels: [other, channel], type: 'Joined', data: 'both' } });
    assert.equal(multi.status, 202);
    ids.push(multi.body.ids[channel]);
    for (const sub of [a, b]) {
      await waitFor(() => sub.events.filter((e) => e.channel === channel).length === 6, TIMEOUT);
    }
    await waitFor(() => a.events.length === 7, TIMEOUT);
    const expected = [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }, 'both'];
    for (const sub of [a, b]) {
      const mine = sub.events.filter((e) => e.channel === channel);
      assert.deepEqual(mine.map((e) => e.data), expected);
      assert.deepEqual(mine.map((e) => e.type), ['Joined', 'Left', 'Joined', 'Left', 'Joined', 'Joined']);
      assert.deepEqual(mine.map((e) => e.id), ids);
    }
    assert.deepEqual(a.events.filter((e) => e.channel === other).map((e) => e.data), ['both']);
  });

  test('the response head and the retry preamble', async (t) => {
    const stream = await rawGet(t, server, `/events/${unique('c')}`, { Origin: 'http://example.test' });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream');
    assert.equal(stream.headers['cache-control'], 'no-cache');
    assert.equal(stream.headers['x-accel-buffering'], 'no');
    await waitFor(() => stream.text.startsWith('retry: 3000\n\n'));
  });

  test('a reconnect with Last-Event-ID resumes without gap or duplicate', async (t) => {
    const channel = unique('resume');
    const first = subscribe(t, server, `/events/${channel}`);
    await first.opened;
    await waitFor(async () => (await diagnostics(server)).local.some((c) => c.channel === channel));
    for (let i = 1; i <= 3; i += 1) await publishOne(server, channel, 'T', i);
    await waitFor(() => first.events.length === 3);
    first.source.close();
    await waitFor(async () => !(await diagnostics(server)).local.some((c) => c.channel === channel));
    for (let i = 4; i <= 5; i += 1) await publishOne(server, channel, 'T', i);
    const resumedBefore = await metric(server, 'switchboard_events_resumed_total');
    const again = subscribe(t, server, `/events/${channel}`, { headers: { 'Last-Event-ID': first.events[2].id } });
    await waitFor(() => again.events.length === 2);
    await publishOne(server, channel, 'T', 6);
    await waitFor(() => again.events.length === 3);
    assert.deepEqual(datas(again), [4, 5, 6]);
    assert.equal(await metric(server, 'switchboard_events_resumed_total'), resumedBefore + 1);
    // The query form of the same, from the first id.
    const query = subscribe(t, server, `/events/${channel}?lastEventId=${first.events[0].id}`);
    await waitFor(() => query.events.length === 5);
    assert.deepEqual(datas(query), [2, 3, 4, 5, 6]);
  });

  test('an id older than the history gets a reset, then live events', async (t) => {
    const channel = unique('old');
    await publishOne(server, channel, 'T', 1);
    const sub = subscribe(t, server, `/events/${channel}`, { headers: { 'Last-Event-ID': '1-0' } });
    await waitFor(() => sub.events.length === 1);
    assert.deepEqual(sub.events[0], { type: 'reset', id: '1-0', channel, data: undefined, reason: 'history' });
    await publishOne(server, channel, 'T', 2);
    await waitFor(() => sub.events.length === 2);
    assert.deepEqual(datas(sub), [2]);
  });

  test('a retained channel starts with its last event', async (t) => {
    const channel = unique('state:x');
    await publishOne(server, channel, 'T', 'old');
    const last = await publishOne(server, channel, 'T', 'current');
    const sub = subscribe(t, server, `/events/${channel}`);
    await waitFor(() => sub.events.length === 1);
    assert.equal(sub.events[0].id, last);
    assert.equal(sub.events[0].data, 'current');
  });

  test('refusals: bad names, too many channels, malformed ids, bad bodies, credentials', async () => {
    const get = async (path, headers) => {
      const response = await fetch(`${server.url}${path}`, { headers });
      return { status: response.status, text: await response.text() };
    };
    let r = await get(`/events/${'x'.repeat(10 * 1024)}`);
    assert.equal(r.status, 400);
    assert.match(r.text, /channel name/);
    r = await get(`/events?${Array.from({ length: 257 }, (_, i) => `channel=c${i}`).join('&')}`);
    assert.equal(r.status, 400);
    assert.match(r.text, /64 channels/);
    assert.equal((await get('/events')).status, 400);
    assert.equal((await get('/events/a%20b')).status, 400);
    r = await get('/events/c', { 'Last-Event-ID': 'yesterday' });
    assert.equal(r.status, 400);
    assert.match(r.text, /Last-Event-ID/);
    assert.equal((await get('/events/c?lastEventId=1-2-3')).status, 400);

    r = await publish(server, { channel: 'c', body: { type: 'T', data: 1 }, auth: null });
    assert.equal(r.status, 401);
    assert.match(r.body, /Bearer/);
    assert.equal((await publish(server, { channel: 'c', body: { type: 'T' }, auth: 'wrong' })).status, 401);
    assert.equal((await publish(server, { channel: 'c', body: { type: 'bad type' } })).status, 400);
    assert.equal((await publish(server, { channel: 'c', body: { data: 1 } })).status, 400);
    assert.equal((await publish(server, { channel: 'a b', body: { type: 'T' } })).status, 400);
    assert.equal((await publish(server, { body: { type: 'T' } })).status, 400);
    assert.equal((await publish(server, { body: { channels: ['ok', 'not ok'], type: 'T' } })).status, 400);
    assert.equal((await publish(server, { body: 'not an object' })).status, 400);
    const diag = await fetch(`${server.url}/api/events/diagnostics`);
    assert.equal(diag.status, 401);
  });

  test('diagnostics list the local channels', async (t) => {
    const channel = unique('diag');
    const sub = subscribe(t, server, `/events/${channel}`);
    await sub.opened;
    await waitFor(async () => (await diagnostics(server)).local.some((c) => c.channel === channel && c.subscribers === 1));
    const report = await diagnostics(server);
    assert.equal(typeof report.instance, 'string');
    assert.ok(report.channels >= 1);
    assert.ok(report.subscribers >= 1);
  });

  test('all: true reaches every channel with subscribers here', async (t) => {
    const one = unique('all');
    const two = unique('all');
    const sub = subscribe(t, server, `/events?channel=${one}&channel=${two}`, { types: ['Broadcast'] });
    await sub.opened;
    await waitFor(async () => (await diagnostics(server)).local.filter((c) => c.channel === one || c.channel === two).length === 2);
    const r = await publish(server, { body: { all: true, type: 'Broadcast', data: 'hi' } });
    assert.equal(r.status, 202);
    assert.match(r.body.ids[one], ID);
    assert.match(r.body.ids[two], ID);
    await waitFor(() => sub.events.length === 2);
  });
});

describe('event stream authorization', () => {
  let server;
  before(async () => {
    server = await startServer([
      '--jwt-secret', SECRET, '--events-channel', 'public:*', '--events-channel', 'user:{user}:*',
    ]);
  });
  after(() => server.stop());

  const status = async (path, token) => {
    const controller = new AbortController();
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const response = await fetch(`${server.url}${path}`, { headers, signal: controller.signal });
    const code = response.status;
    controller.abort();
    return code;
  };

  test('subscribing needs a token when JWT is configured, and a channel the patterns allow', async () => {
    const alice = jwt({ sub: 'alice' });
    assert.equal(await status('/events/public:news'), 401);
    assert.equal(await status('/events/public:news', alice), 200);
    assert.equal(await status('/events/user:alice:inbox', alice), 200);
    assert.equal(await status(`/events/user:alice:inbox?access_token=${alice}`), 200);
    assert.equal(await status('/events/user:bob:inbox', alice), 403);
    assert.equal(await status('/events?channel=public:news&channel=private:x', alice), 403);
  });

  test('publishing needs a JWT with the role events:publish', async () => {
    const body = { type: 'T', data: 1 };
    assert.equal((await publish(server, { channel: 'public:news', body, auth: null })).status, 401);
    assert.equal((await publish(server, { channel: 'public:news', body, auth: jwt({ sub: 'alice' }) })).status, 403);
    const worker = jwt({ sub: 'worker', role: 'events:publish' });
    assert.equal((await publish(server, { channel: 'public:news', body, auth: worker })).status, 202);
  });

  test('without key or JWT, publishing is refused unless --events-open', async (t) => {
    const closed = await serverFor(t, []);
    const r = await publish(closed, { channel: 'c', body: { type: 'T' }, auth: null });
    assert.equal(r.status, 403);
    assert.match(r.body, /--events-open/);
    const open = await serverFor(t, ['--events-open']);
    assert.equal((await publish(open, { channel: 'c', body: { type: 'T' }, auth: null })).status, 202);
  });
});

describe('keep-alive and slow subscribers', () => {
  test('a quiet stream gets keep-alive comments', async (t) => {
    const server = await serverFor(t, ['--events-open', '--events-keep-alive', '200ms']);
    const stream = await rawGet(t, server, `/events/${unique('quiet')}`);
    await waitFor(() => stream.text.includes('\n: keep-alive\n\n'), TIMEOUT);
  });

  test('a subscriber that stops reading is dropped while others keep receiving', async (t) => {
    const server = await serverFor(t, ['--events-open', '--send-queue-limit', '65536', '--max-body-size', '1048576']);
    const channel = unique('firehose');
    const good = subscribe(t, server, `/events/${channel}`);
    // A raw socket that sends the request and never reads: its kernel buffers fill, then our queue.
    const stalled = net.connect(server.port, '127.0.0.1');
    onCleanup(t, () => stalled.destroy());
    stalled.write(`GET /events/${channel} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    stalled.pause();
    await good.opened;
    await waitFor(async () => {
      const response = await fetch(`${server.url}/api/events/diagnostics`);
      const report = await response.json();
      return report.local.some((c) => c.channel === channel && c.subscribers === 2);
    });
    const big = 'x'.repeat(200 * 1024);
    let sent = 0;
    await waitFor(async () => {
      await publishOne(server, channel, 'T', { n: sent, big });
      sent += 1;
      return (await metric(server, 'switchboard_events_dropped_total')) >= 1;
    }, 60_000, { interval: 0, message: 'the stalled subscriber to be dropped' });
    await publishOne(server, channel, 'T', { n: sent, last: true });
    sent += 1;
    await waitFor(() => good.events.length === sent, 30_000, { message: () => `${sent} events (have ${good.events.length})` });
    assert.deepEqual(good.events.map((e) => e.data.n), Array.from({ length: sent }, (_, i) => i));
    assert.equal(good.source.readyState, EventSource.OPEN);
  });
});

describe('event streams across instances on Redis, histories per instance', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope, { args: ['--events-publish-key', KEY, '--events-shared-history', 'false'] });
  });

  test('subscribers on A and B get what C publishes; resume on B and on A (lingering), reset on C', async (t) => {
    const [a, b, c] = cluster.servers;
    const channel = unique('game');
    const onA = subscribe(t, a, `/events/${channel}`);
    const onB = subscribe(t, b, `/events/${channel}`);
    await Promise.all([onA.opened, onB.opened]);
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 2);
    const ids = [];
    for (let i = 1; i <= 5; i += 1) ids.push(await publishOne(c, channel, 'T', i));
    for (const sub of [onA, onB]) {
      await waitFor(() => sub.events.length === 5, TIMEOUT, { message: () => JSON.stringify(sub.events) });
      assert.deepEqual(datas(sub), [1, 2, 3, 4, 5]);
      assert.deepEqual(sub.events.map((e) => e.id), ids);
    }

    // A's subscriber leaves; A keeps listening for --events-linger (30 s by default).
    onA.source.close();
    await waitFor(async () => !(await diagnostics(a)).local.some((x) => x.channel === channel));
    const lastSeen = onA.events[4].id;
    for (let i = 6; i <= 8; i += 1) await publishOne(c, channel, 'T', i);
    await waitFor(() => onB.events.length === 8, TIMEOUT);

    // B listened throughout and A lingered: both have everything after the id.
    for (const server of [b, a]) {
      const again = subscribe(t, server, `/events/${channel}`, { headers: { 'Last-Event-ID': lastSeen } });
      await waitFor(() => again.events.length === 3, TIMEOUT, { message: () => JSON.stringify(again.events) });
      assert.deepEqual(datas(again), [6, 7, 8]);
    }

    // C only published (it never listened to the bus for the channel): reset, then live events.
    const onC = subscribe(t, c, `/events/${channel}`, { headers: { 'Last-Event-ID': lastSeen } });
    await waitFor(() => onC.events.length === 1, TIMEOUT);
    assert.equal(onC.events[0].type, 'reset');
    assert.equal(onC.events[0].channel, channel);
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 3);
    const id9 = await publishOne(a, channel, 'T', 9);
    assert.ok(id9.localeCompare(ids[4], undefined, { numeric: true }) > 0);
    await waitFor(() => onB.events.length === 9 && onC.events.length === 2, TIMEOUT);
    assert.deepEqual(datas(onB).slice(-1), [9]);
  });

  test('all: true reaches every channel with subscribers on any instance, once', async (t) => {
    const [a, b, c] = cluster.servers;
    const x = unique('all-x');
    const y = unique('all-y');
    const onA = subscribe(t, a, `/events/${x}`, { types: ['Broadcast', 'T'] });
    const onB = subscribe(t, b, `/events/${y}`, { types: ['Broadcast', 'T'] });
    const onC = subscribe(t, c, `/events/${x}`, { types: ['Broadcast', 'T'] });
    await Promise.all([onA.opened, onB.opened, onC.opened]);
    await cluster.redis.waitForSubscribers(`switchboard:events:${x}`, 2);
    await cluster.redis.waitForSubscribers(`switchboard:events:${y}`, 1);
    await cluster.redis.waitForSubscribers('switchboard:events-all', 3);
    const r = await publish(c, { body: { all: true, type: 'Broadcast', data: 'everyone' } });
    assert.equal(r.status, 202);
    // C answers for its own channels; B assigns ids to its own.
    assert.match(r.body.ids[x], ID);
    assert.equal(r.body.ids[y], undefined);
    // A marker after it on each channel: once it is there, a duplicate would have been too.
    await publishOne(c, x, 'T', 'marker');
    await publishOne(c, y, 'T', 'marker');
    for (const sub of [onA, onB, onC]) {
      await waitFor(() => sub.events.some((e) => e.data === 'marker'), TIMEOUT, { message: () => JSON.stringify(sub.events) });
      assert.deepEqual(sub.events.map((e) => e.data), ['everyone', 'marker']);
    }
  });
});

describe('shutdown', () => {
  test('SIGTERM ends the event streams at once and the server exits 0', async () => {
    const server = await startServer(['--events-publish-key', KEY, '--drain-timeout', '20s']);
    const ended = new Promise((resolve, reject) => {
      http.get(`${server.url}/events/${unique('drain')}`, (response) => {
        response.resume();
        response.once('close', resolve);
      }).once('error', reject);
    });
    // The stream is open once its retry preamble could be read; a subscription is registered by then.
    await waitFor(async () => (await (await fetch(`${server.url}/api/events/diagnostics`, {
      headers: { Authorization: `Bearer ${KEY}` },
    })).json()).subscribers === 1);
    const started = Date.now();
    const stopped = server.stop(20_000);
    await ended;
    const exit = await stopped;
    assert.equal(exit.code, 0);
    assert.equal(exit.forced, false);
    assert.ok(Date.now() - started < 10_000, `drained in ${Date.now() - started} ms`);
  });
});

describe('event streams across instances without linger', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope, {
      instances: 2, args: ['--events-publish-key', KEY, '--events-linger', '0', '--events-shared-history', 'false'],
    });
  });

  test('an instance that stopped listening answers a resume with reset', async (t) => {
    const [a, b] = cluster.servers;
    const channel = unique('quiet');
    const onA = subscribe(t, a, `/events/${channel}`);
    await onA.opened;
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 1);
    await publishOne(b, channel, 'T', 1);
    await waitFor(() => onA.events.length === 1, TIMEOUT);
    onA.source.close();
    await waitFor(async () => (await cluster.redis.numsub(`switchboard:events:${channel}`)) === 0, TIMEOUT);
    await publishOne(b, channel, 'T', 2);
    const again = subscribe(t, a, `/events/${channel}`, { headers: { 'Last-Event-ID': onA.events[0].id } });
    await waitFor(() => again.events.length === 1, TIMEOUT);
    assert.equal(again.events[0].type, 'reset');
  });
});

describe('event history shared through Redis Streams', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope, { args: ['--events-publish-key', KEY, '--events-history', '20'] });
  });
  const byId = (x, y) => x.localeCompare(y, undefined, { numeric: true });

  test('a gap beyond the history gets a reset, then live events', async (t) => {
    const [, b, c] = cluster.servers;
    const channel = unique('long');
    const first = await publishOne(b, channel, 'T', 0);
    for (let i = 1; i <= 25; i += 1) await publishOne(b, channel, 'T', i);
    const sub = subscribe(t, c, `/events/${channel}`, { headers: { 'Last-Event-ID': first } });
    await waitFor(() => sub.events.length === 1, TIMEOUT);
    assert.equal(sub.events[0].type, 'reset');
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 1);
    await publishOne(b, channel, 'T', 'live');
    await waitFor(() => sub.events.length === 2, TIMEOUT);
    assert.deepEqual(datas(sub), ['live']);
  });

  test('ids come from the stream: racing publishers on two instances get increasing, distinct ids', async () => {
    const [a, b] = cluster.servers;
    const channel = unique('race');
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => publishOne(i % 2 ? a : b, channel, 'T', i)));
    assert.equal(new Set(ids).size, 10);
    const connection = await cluster.redis.connect();
    const entries = await connection.command('XRANGE', `switchboard:events-history:${channel}`, '-', '+');
    assert.deepEqual(entries.map((e) => e[0].toString()), [...ids].sort(byId));
  });

  // Last: it kills the first instance.
  test('a subscriber whose instance is killed resumes on one that never served the channel: no gap, no duplicate', async (t) => {
    const [a, b, c] = cluster.servers;
    const channel = unique('game');
    const onA = subscribe(t, a, `/events/${channel}`);
    await onA.opened;
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 1);
    await publishOne(b, channel, 'T', 1);
    await publishOne(c, channel, 'T', 2);
    await waitFor(() => onA.events.length === 2, TIMEOUT);
    const lastSeen = onA.events[1].id;
    onA.source.close();
    a.process.kill('SIGKILL');
    await a.exited;

    // Two publishers racing, and an event on a channel the subscriber does not follow.
    const missed = await Promise.all([3, 4, 5, 6, 7].map((i) => publishOne(i % 2 ? b : c, channel, 'T', i)));
    await publishOne(b, unique('other'), 'T', 'elsewhere');

    const onC = subscribe(t, c, `/events/${channel}`, { headers: { 'Last-Event-ID': lastSeen } });
    await waitFor(() => onC.events.length === 5, TIMEOUT, { message: () => JSON.stringify(onC.events) });
    assert.ok(onC.events.every((e) => e.type === 'T'), JSON.stringify(onC.events));
    assert.deepEqual(onC.events.map((e) => e.id), [...missed].sort(byId));
    assert.deepEqual([...datas(onC)].sort(), [3, 4, 5, 6, 7]);

    // Live events follow, once each: a marker after the last proves no late duplicate came.
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 1);
    await publishOne(b, channel, 'T', 8);
    await publishOne(c, channel, 'T', 'marker');
    await waitFor(() => onC.events.some((e) => e.data === 'marker'), TIMEOUT);
    assert.deepEqual(datas(onC).slice(5), [8, 'marker']);
  });
});

describe('event history while Redis is away', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope, { instances: 2, args: ['--events-publish-key', KEY] });
  });

  test('publications keep flowing with local ids; a resume nobody can vouch for is a reset', async (t) => {
    const [a, b] = cluster.servers;
    const channel = unique('outage');
    const onA = subscribe(t, a, `/events/${channel}`);
    await onA.opened;
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 1);
    const before = await publishOne(b, channel, 'T', 1);
    await waitFor(() => onA.events.length === 1, TIMEOUT);
    await cluster.redis.stop();
    await publishOne(a, channel, 'T', 2);
    await waitFor(() => onA.events.length === 2, TIMEOUT);
    // B never listened to the channel and cannot read the stream: reset, not a silent gap.
    const onB = subscribe(t, b, `/events/${channel}`, { headers: { 'Last-Event-ID': before } });
    await waitFor(() => onB.events.length === 1, TIMEOUT);
    assert.equal(onB.events[0].type, 'reset');
    await cluster.redis.start();
  });
});

describe('initial state from an upstream snapshot', () => {
  /** An upstream answering GET /state/<channel>; `hold` delays answers until released. */
  async function upstream(scope) {
    const state = { requests: [], hold: null };
    const server = http.createServer(async (req, res) => {
      state.requests.push({ url: req.url, authorization: req.headers.authorization });
      if (state.hold) await state.hold;
      if (req.url.includes('broken')) {
        res.writeHead(500).end('no');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ path: decodeURIComponent(req.url), players: ['ann'] }));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup(scope, () => server.close());
    return { state, url: `http://127.0.0.1:${server.address().port}` };
  }

  test('a new subscription starts with the snapshot; events published while it loads follow it', async (t) => {
    const up = await upstream(t);
    let release;
    up.state.hold = new Promise((resolve) => { release = resolve; });
    const server = await serverFor(t, ['--events-publish-key', KEY,
      '--events-snapshot', `game:*=${up.url}/state/{channel}`, '--events-snapshot-event', 'game_state']);
    const channel = `game:${unique('g')}`;
    const sub = subscribe(t, server, `/events/${encodeURIComponent(channel)}`, {
      types: ['T', 'game_state'], headers: { Authorization: `Bearer ${KEY}` },
    });
    await sub.opened;
    await waitFor(() => up.state.requests.length === 1, TIMEOUT);
    // Published while the snapshot is on its way: delivered after it, not lost.
    await waitFor(async () => (await diagnostics(server)).subscribers === 1, TIMEOUT);
    await publishOne(server, channel, 'T', 1);
    release();
    await waitFor(() => sub.events.length === 2, TIMEOUT, { message: () => JSON.stringify(sub.events) });
    assert.equal(sub.events[0].type, 'game_state');
    assert.deepEqual(sub.events[0].data, { path: `/state/${channel}`, players: ['ann'] });
    assert.equal(sub.events[0].channel, channel);
    assert.deepEqual([sub.events[1].type, sub.events[1].data], ['T', 1]);
    assert.equal(up.state.requests[0].authorization, `Bearer ${KEY}`, 'the subscriber\'s Authorization is forwarded');

    // A resume continues from its last event: no snapshot.
    const resumed = subscribe(t, server, `/events/${encodeURIComponent(channel)}`, {
      types: ['T', 'game_state'], headers: { 'Last-Event-ID': sub.events[1].id },
    });
    await resumed.opened;
    await publishOne(server, channel, 'T', 2);
    await waitFor(() => resumed.events.length === 1, TIMEOUT);
    assert.equal(resumed.events[0].type, 'T');
    assert.equal(up.state.requests.length, 1);
  });

  test('a failing upstream leaves the subscription without a snapshot, other channels none at all', async (t) => {
    const up = await upstream(t);
    const server = await serverFor(t, ['--events-publish-key', KEY,
      '--events-snapshot', `broken:*=${up.url}/broken/{channel}`]);
    const channel = `broken:${unique('b')}`;
    const other = unique('plain');
    const sub = subscribe(t, server, `/events?channel=${encodeURIComponent(channel)}&channel=${other}`, {
      types: ['T', 'snapshot'],
    });
    await sub.opened;
    await waitFor(() => up.state.requests.length === 1, TIMEOUT);
    await waitFor(async () => (await diagnostics(server)).subscribers >= 1, TIMEOUT);
    await publishOne(server, other, 'T', 'live');
    await waitFor(() => sub.events.length === 1, TIMEOUT);
    assert.deepEqual([sub.events[0].type, sub.events[0].data], ['T', 'live']);
  });

  test('a malformed --events-snapshot stops the server with the reason', async () => {
    await assert.rejects(startServer(['--events-snapshot', 'game:*=https://secure/{channel}']), /http:\/\//);
  });
});
