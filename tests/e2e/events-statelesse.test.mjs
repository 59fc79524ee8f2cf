// StateleSSE.Backplane.Redis compatibility of event streams (docs/events.md): two switchboard instances
// with --events-statelesse-prefix on a real Redis, a raw RESP client standing in for a StateleSSE server
// (PUBLISHing its exact JSON into `{prefix}:events` and SUBSCRIBEd to it).
import { describe, before, test } from 'node:test';
import assert from 'node:assert/strict';
import EventSource from 'eventsource';
import { onCleanup, unique, waitFor } from './server.mjs';
import { redisAvailable } from './redis.mjs';
import { startCluster, suiteScope } from './scaleout/cluster.mjs';

const KEY = 'events-statelesse-e2e-key';
const PREFIX = 'backplane'; // StateleSSE's default ChannelPrefix
const CHANNEL = `${PREFIX}:events`;
const TIMEOUT = 10_000; // cross-instance deliveries on a loaded 2-core machine
const DOTNET_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/;

/** An EventSource on `/events/<channel>` recording every event of `types` as { type, id, channel, data }. */
function subscribe(scope, server, channel, types) {
  const source = new EventSource(`${server.url}/events/${encodeURIComponent(channel)}`);
  const events = [];
  for (const type of types) {
    source.addEventListener(type, (e) => {
      const payload = JSON.parse(e.data);
      events.push({ type, id: e.lastEventId, channel: payload.channel, data: payload.data });
    });
  }
  const opened = new Promise((resolve) => { source.onopen = resolve; });
  onCleanup(scope, () => source.close());
  return { source, events, opened };
}

async function publishRest(server, channel, type, data) {
  const response = await fetch(`${server.url}/api/events/${encodeURIComponent(channel)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ type, data }),
  });
  const body = await response.json();
  assert.equal(response.status, 202, JSON.stringify(body));
  return body.ids[channel];
}

/** The JSON System.Text.Json writes for StateleSSE's envelope (PascalCase, this order). */
function envelope(groupId, payload) {
  return JSON.stringify({ GroupId: groupId, Payload: payload, PublishedAt: new Date().toISOString().replace('Z', '0000Z') });
}

async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

describe('StateleSSE compatibility on Redis', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope, {
      instances: 2,
      args: ['--events-publish-key', KEY, '--events-statelesse-prefix', PREFIX],
    });
    // Every instance hears every envelope, whether or not it has subscribers.
    await cluster.redis.waitForSubscribers(CHANNEL, 2);
  });

  /** Subscribers on `channel` at each server in `servers`, once both instances listen to it. */
  async function subscribers(t, servers, channel, types) {
    const subs = servers.map((server) => subscribe(t, server, channel, types));
    await Promise.all(subs.map((s) => s.opened));
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, new Set(servers).size);
    return subs;
  }

  test('a raw StateleSSE envelope reaches its group on both instances, "*" every channel', async (t) => {
    const [a, b] = cluster.servers;
    const group = `game:${unique('g')}:PlayerJoinedEvent`;
    const other = `system:${unique('s')}`;
    const joined = await subscribers(t, [a, b], group, ['PlayerJoinedEvent', 'message']);
    const [system] = await subscribers(t, [b], other, ['message']);

    const receivers = await cluster.redis.publish(CHANNEL, envelope(group, { gameId: '42', playerName: 'ann' }));
    assert.ok(receivers >= 2);
    for (const sub of joined) {
      await waitFor(() => sub.events.length === 1, TIMEOUT, { message: () => JSON.stringify(sub.events) });
      assert.equal(sub.events[0].type, 'PlayerJoinedEvent'); // the GroupId's last segment
      assert.equal(sub.events[0].channel, group);
      assert.deepEqual(sub.events[0].data, { gameId: '42', playerName: 'ann' });
      assert.match(sub.events[0].id, /^\d+-\d+$/);
    }
    assert.equal(system.events.length, 0);

    // PublishToAll: any property order, extra properties and no PublishedAt are fine.
    await cluster.redis.publish(CHANNEL, JSON.stringify({ Extra: true, Payload: 'maintenance', GroupId: '*' }));
    for (const sub of [...joined, system]) {
      await waitFor(() => sub.events.some((e) => e.data === 'maintenance'), TIMEOUT, { message: () => JSON.stringify(sub.events) });
      assert.equal(sub.events.at(-1).type, 'message');
    }

    // Malformed envelopes are counted and dropped; the instances carry on.
    const before = await metric(a, 'switchboard_backplane_rejected_messages_total');
    await cluster.redis.publish(CHANNEL, '{"GroupId": 5}');
    await waitFor(async () => (await metric(a, 'switchboard_backplane_rejected_messages_total')) === before + 1, TIMEOUT);
    await cluster.redis.publish(CHANNEL, envelope(group, 'after'));
    for (const sub of joined) await waitFor(() => sub.events.some((e) => e.data === 'after'), TIMEOUT);
  });

  test('an event published over REST appears on the StateleSSE channel as a valid envelope', async () => {
    const [a] = cluster.servers;
    const listener = await cluster.redis.connect();
    await listener.subscribe(CHANNEL);
    const group = `game:${unique('g')}:ScoreEvent`;
    const data = { score: 3, players: ['ann', 'bo'], nested: { ok: true } };
    const started = Date.now();
    const id = await publishRest(a, group, 'ScoreEvent', data);
    const message = await listener.waitForMessage((m) => JSON.parse(m.payload.toString()).GroupId === group, TIMEOUT);
    const parsed = JSON.parse(message.payload.toString());
    assert.equal(parsed.GroupId, group);
    assert.deepEqual(parsed.Payload, data);
    assert.match(parsed.PublishedAt, DOTNET_UTC);
    const at = Date.parse(parsed.PublishedAt);
    assert.ok(Math.abs(at - started) < 60_000, `${parsed.PublishedAt} is about now`);
    // What other Switchboard deployments read (StateleSSE ignores it).
    assert.deepEqual(parsed.Switchboard, { prefix: '', type: 'ScoreEvent', id });
    // One envelope per publication.
    assert.equal(listener.messages.filter((m) => JSON.parse(m.payload.toString()).GroupId === group).length, 1);
    await listener.close();
  });

  test('with two instances in compat mode every subscriber gets every event exactly once', async (t) => {
    const [a, b] = cluster.servers;
    const group = `game:${unique('g')}:MoveEvent`;
    const subs = await subscribers(t, [a, b, a, b], group, ['MoveEvent', 'message']);
    const expected = [];
    for (let i = 0; i < 5; i += 1) {
      await publishRest(a, group, 'MoveEvent', `a${i}`);
      await publishRest(b, group, 'MoveEvent', `b${i}`);
      await cluster.redis.publish(CHANNEL, envelope(group, `s${i}`));
      expected.push(`a${i}`, `b${i}`, `s${i}`);
    }
    // Markers last from each source: Redis keeps each publisher's order across channels to one
    // subscriber, so a duplicate of an earlier event would have arrived before them.
    await publishRest(a, group, 'MoveEvent', 'end-a');
    await publishRest(b, group, 'MoveEvent', 'end-b');
    await cluster.redis.publish(CHANNEL, envelope(group, 'end-s'));
    expected.push('end-a', 'end-b', 'end-s');
    for (const sub of subs) {
      await waitFor(() => ['end-a', 'end-b', 'end-s'].every((m) => sub.events.some((e) => e.data === m)), TIMEOUT,
        { message: () => JSON.stringify(sub.events) });
      assert.deepEqual(sub.events.map((e) => e.data).sort(), [...expected].sort());
      assert.ok(sub.events.every((e) => e.type === 'MoveEvent'));
      assert.equal(new Set(sub.events.map((e) => e.id)).size, sub.events.length);
    }
  });
});
