// clients/events against a real server: typed handlers, resume across a server restart (an
// explicit reset when the history is gone), `switchboard publish-event`, and the client's
// requests checked against docs/openapi/events.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import EventSource from 'eventsource';
import { EventStream, publishEvent, subscriptionUrl } from '../../clients/events/index.js';
import { ROOT, serverFor, startServer, unique, waitFor } from './server.mjs';

const openapi = JSON.parse(readFileSync(path.join(ROOT, 'docs/openapi/events.json'), 'utf8'));
const KEY = 'test-publish-key';
const BIN = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');

function schema(name) {
  return openapi.components.schemas[name];
}

// Enough of JSON Schema for these documents: required properties present, no unknown ones.
function conforms(body, name) {
  const { required = [], properties = {} } = schema(name);
  return required.every((key) => key in body) && Object.keys(body).every((key) => key in properties);
}

function streamOf(t, url, channels, options = {}) {
  const stream = new EventStream(url, { channels, EventSource, ...options });
  t.after(() => stream.close());
  return stream;
}

test('the client speaks the OpenAPI document', async () => {
  const sent = [];
  const fetch = async (url, init) => {
    sent.push({ url: String(url), body: JSON.parse(init.body) });
    return new Response(JSON.stringify({ ids: {} }), { status: 202 });
  };
  await publishEvent('http://h', { channel: 'a:b', type: 'T', data: 1 }, { fetch });
  await publishEvent('http://h', { channels: ['a', 'b'], type: 'T' }, { fetch });
  await publishEvent('http://h', { all: true, type: 'T' }, { fetch });
  assert.equal(new URL(sent[0].url).pathname, '/api/events/a%3Ab');
  assert.ok(openapi.paths['/api/events/{channel}'].post);
  assert.ok(conforms(sent[0].body, 'PublishOne'), JSON.stringify(sent[0].body));
  assert.ok(conforms(sent[1].body, 'PublishMany'), JSON.stringify(sent[1].body));
  assert.ok(conforms(sent[2].body, 'PublishMany'), JSON.stringify(sent[2].body));

  const url = new URL(subscriptionUrl('http://h/base', ['x', 'y'], { lastEventId: '5-0', accessToken: 't' }));
  assert.equal(url.pathname, '/base/events');
  const documented = openapi.paths['/events'].get.parameters.map((p) =>
    p.$ref ? openapi.components.parameters[p.$ref.split('/').pop()] : p);
  const queryNames = documented.filter((p) => p.in === 'query').map((p) => p.name);
  for (const name of url.searchParams.keys()) assert.ok(queryNames.includes(name), `${name} is documented`);
  assert.deepEqual(url.searchParams.getAll('channel'), ['x', 'y']);
});

test('typed handlers get every event in order; publish-event publishes', async (t) => {
  const server = await serverFor(t, ['--events-publish-key', KEY]);
  const channel = unique('game');
  const seen = [];
  const stream = streamOf(t, server.url, [channel]);
  stream.on('PlayerJoined', (data, meta) => seen.push({ ...meta, data }));
  const opened = new Promise((resolve) => stream.onState((s) => s === 'open' && resolve()));
  await opened;

  for (let i = 0; i < 5; i++) {
    await publishEvent(server.url, { channel, type: 'PlayerJoined', data: { i } }, { token: KEY });
  }
  const cli = spawnSync(BIN, ['publish-event', '--url', server.url, '--token', KEY, '--channel', channel,
    'PlayerJoined', '{"i":5}'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`^${channel} \\d+-\\d+$`, 'm'));

  const served = await fetch(`${server.url}/api/events/openapi.json`);
  assert.equal(served.status, 200);
  assert.deepEqual(await served.json(), openapi, 'the server serves docs/openapi/events.json');

  await waitFor(() => seen.length === 6, 10_000, { message: () => `6 events; got ${seen.length}` });
  assert.deepEqual(seen.map((e) => e.data.i), [0, 1, 2, 3, 4, 5]);
  assert.ok(seen.every((e) => e.channel === channel && e.type === 'PlayerJoined'));
  assert.equal(stream.lastEventId, seen[5].id);

  const refused = spawnSync(BIN, ['publish-event', '--url', server.url, '--token', 'wrong', '--channel', channel,
    'PlayerJoined'], { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /40[13]/);
});

test('after a restart the client reopens, resumes, and is told when history is gone', async (t) => {
  let server = await startServer(['--events-publish-key', KEY]);
  const port = server.port;
  t.after(() => server.stop());
  const channel = unique('feed');
  const seen = [];
  const resets = [];
  const stream = streamOf(t, server.url, [channel]);
  stream.on('Tick', (data) => seen.push(data));
  stream.onReset((name) => resets.push(name));
  await new Promise((resolve) => stream.onState((s) => s === 'open' && resolve()));
  await publishEvent(server.url, { channel, type: 'Tick', data: 1 }, { token: KEY });
  await waitFor(() => seen.length === 1);

  // The instance goes away with its in-memory history: the reopened stream cannot resume and
  // says so with a reset rather than a silent gap, then goes on live.
  await server.stop();
  server = await startServer(['--events-publish-key', KEY], { port });
  await waitFor(() => resets.length === 1, 20_000, { message: () => `a reset; got ${resets.length}` });
  assert.deepEqual(resets, [channel]);
  await waitFor(async () => {
    await publishEvent(server.url, { channel, type: 'Tick', data: 2 }, { token: KEY });
    return seen.includes(2);
  }, 10_000, { interval: 200 });
  assert.equal(seen[0], 1);
});
