// Durable mode (issue 20, docs/reliability.md): a stateful connection whose socket dropped resumes on
// another instance with its token. Spoken at the protocol level (raw WebSockets, JSON hub protocol), so
// every message's sequence number is checked: the new instance numbers each message as the old one did,
// the client's missed ones arrive once, in order, and only the connection's owner can take it over.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { clientFor, onCleanup, startServer, unique, waitFor } from '../server.mjs';
import { natsAvailable, natsFor } from '../nats.mjs';
import { redisAvailable, redisConnection, redisFor } from '../redis.mjs';
import { postgresAvailable, postgresFor } from '../postgres.mjs';
import { suiteScope, waitForReady } from './cluster.mjs';

/** The buses that keep a log: `start(scope)` runs one and resolves with its --backplane value. */
const DURABLE_BUSES = [
  {
    name: 'Redis',
    skip: redisAvailable() ? false : 'redis-server is not installed',
    start: async (scope) => (await redisFor(scope)).url,
  },
  {
    name: 'PostgreSQL',
    skip: postgresAvailable() ? false : 'PostgreSQL server binaries are not installed',
    start: async (scope) => (await postgresFor(scope)).url,
  },
  {
    name: 'NATS JetStream',
    skip: natsAvailable() ? false : 'nats-server is not installed',
    start: async (scope) => (await natsFor(scope)).url,
  },
];

const SECRET = 'switchboard-e2e-durable-secret-0123456789';
const RS = '\u001e';

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
function tokenFor(user, lifetimeSeconds = 3600) {
  const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: user, exp: Math.floor(Date.now() / 1000) + lifetimeSeconds })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/** A raw WebSocket to `hubUrl` with `?id=`: { status, ws, messages } (messages: parsed JSON hub messages). */
function open(hubUrl, id, accessToken) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${hubUrl.replace(/^http/, 'ws')}?id=${encodeURIComponent(id)}&access_token=${accessToken}`);
    const messages = [];
    ws.on('message', (data) => {
      for (const record of String(data).split(RS)) if (record) messages.push(JSON.parse(record));
    });
    ws.on('open', () => resolve({ status: 101, ws, messages }));
    ws.on('unexpected-response', (_req, res) => { resolve({ status: res.statusCode }); ws.terminate(); });
    ws.on('error', () => {});
  });
}

/** The texts of the ReceiveMessage invocations in `messages`, numbered as the client numbers them. */
function numbered(messages, first = 1) {
  const out = new Map();
  let id = first;
  for (const m of messages) {
    if (m.type === 9) id = m.sequenceId;
    else if (m.type === 1) {
      if (m.target === 'ReceiveMessage') out.set(id, m.arguments[1]);
      id += 1;
    }
  }
  return out;
}

for (const bus of DURABLE_BUSES) {
  describe(`durable mode on ${bus.name}: a stateful connection resumes on another instance`, { skip: bus.skip }, () => {
    const scope = suiteScope();
    let servers;
    before(async () => {
      const backplane = await bus.start(scope);
      servers = [];
      for (let i = 0; i < 2; i += 1) {
        const server = await startServer(['--backplane', backplane, '--server-name', unique(`durable${i}`),
          '--durable-window', '30s', '--jwt-secret', SECRET]);
        onCleanup(scope, () => server.stop());
        servers.push(server);
      }
      await waitForReady(servers);
    });
    const hub = (i) => `${servers[i].url}/hubs/chat`;

    test('taken over by its owner only; every message numbered as the first instance did, once, in order', async (t) => {
      const alice = unique('alice');
      const aliceToken = tokenFor(alice);
      const headers = { Authorization: `Bearer ${aliceToken}` };
      const negotiated = await (await fetch(`${hub(0)}/negotiate?negotiateVersion=1&useStatefulReconnect=true`,
        { method: 'POST', headers })).json();
      assert.equal(negotiated.useStatefulReconnect, true);
      const first = await open(hub(0), negotiated.connectionToken, aliceToken);
      assert.equal(first.status, 101);
      first.ws.send(`{"protocol":"json","version":2}${RS}`);
      await waitFor(() => first.messages.length > 0, 5_000, { message: 'the handshake answer' });

      // One token: the factory runs for the negotiate and again for the WebSocket, and both must name
      // the same user.
      const senderToken = tokenFor(unique('sender'));
      const sender = await clientFor(t, servers[1].url, undefined, { accessTokenFactory: () => senderToken });
      const tag = unique('m');
      const send = async (from, to) => {
        for (let i = from; i <= to; i += 1) await sender.connection.invoke('SendMessage', `${tag}-${i}`);
      };
      await send(1, 3);
      await waitFor(() => numbered(first.messages).size === 3, 5_000, { message: 'three messages on the first instance' });
      first.ws.send(`{"type":8,"sequenceId":2}${RS}`); // the client acks two of them
      first.ws._socket.destroy(); // dropped without a close frame: the connection pauses
      await send(4, 5);

      assert.equal((await open(hub(1), negotiated.connectionToken, tokenFor(unique('bob')))).status, 403, "another user's token");
      assert.equal((await open(hub(1), 'AAAAAAAAAAAAAAAAAAAAAA', aliceToken)).status, 404, 'a forged id');
      assert.equal((await open(hub(1), negotiated.connectionToken, tokenFor(alice, -600))).status, 401, "the owner's expired token (past the 60 s clock skew)");
      const forged = `${aliceToken.slice(0, aliceToken.lastIndexOf('.'))}.${'A'.repeat(43)}`;
      assert.equal((await open(hub(1), negotiated.connectionToken, forged)).status, 401, "the owner's name under a forged signature");

      const resumed = await open(hub(1), negotiated.connectionToken, aliceToken);
      assert.equal(resumed.status, 101, 'its owner resumes it on the other instance');
      // The client resends its own Sequence; nothing of the handshake again.
      resumed.ws.send(`{"type":9,"sequenceId":1}${RS}`);
      const texts = (map) => [...map.values()];
      await waitFor(() => texts(numbered(resumed.messages)).includes(`${tag}-5`), 10_000,
        { message: () => `the missed messages (${JSON.stringify(resumed.messages)})` });
      assert.equal(resumed.messages[0].type, 9, 'Sequence comes first');
      const before = numbered(first.messages);
      assert.ok(resumed.messages[0].sequenceId <= Math.max(...before.keys()) + 1,
        `replay starts at or before the first message the client missed (${resumed.messages[0].sequenceId})`);
      await send(6, 6);
      await waitFor(() => texts(numbered(resumed.messages)).includes(`${tag}-6`), 5_000, { message: 'a live message after the resume' });
      const after = numbered(resumed.messages);
      // What both instances sent under one number is the same message: the client drops the copies.
      for (const [id, text] of after) if (before.has(id)) assert.equal(text, before.get(id), `message ${id} keeps its number`);
      // What the client keeps (everything new, by number) is every message once, in order.
      const kept = new Map([...before, ...after]);
      const order = [...kept.keys()].sort((a, b) => a - b).map((id) => kept.get(id));
      assert.deepEqual(order, [1, 2, 3, 4, 5, 6].map((i) => `${tag}-${i}`));

      // A clean close ends it everywhere: the token resumes nothing after.
      const closed = new Promise((resolve) => { resumed.ws.on('close', resolve); });
      resumed.ws.send(`{"type":7}${RS}`);
      await closed;
      // The first instance learns of the end from the log: a loaded machine can take seconds (PostgreSQL).
      await waitFor(async () => {
        const attempt = await open(hub(0), negotiated.connectionToken, aliceToken);
        attempt.ws?.terminate();
        return attempt.status === 404;
      }, 10_000,
        { message: 'an ended connection refused on the first instance' });
      assert.equal((await open(hub(1), negotiated.connectionToken, aliceToken)).status, 404, 'and on the second');
    });
  });
}

/** Two instances on `backplane` with `extra` options; a stateful connection of `user` opened on the first. */
async function statefulOnFirst(scope, backplane, extra, user) {
  const servers = [];
  for (let i = 0; i < 2; i += 1) {
    const server = await startServer(['--backplane', backplane, '--server-name', unique(`beyond${i}`),
      '--jwt-secret', SECRET, ...extra]);
    onCleanup(scope, () => server.stop());
    servers.push(server);
  }
  await waitForReady(servers);
  const accessToken = tokenFor(user);
  const negotiated = await (await fetch(`${servers[0].url}/hubs/chat/negotiate?negotiateVersion=1&useStatefulReconnect=true`,
    { method: 'POST', headers: { Authorization: `Bearer ${accessToken}` } })).json();
  const first = await open(`${servers[0].url}/hubs/chat`, negotiated.connectionToken, accessToken);
  assert.equal(first.status, 101);
  first.ws.send(`{"protocol":"json","version":2}${RS}`);
  await waitFor(() => first.messages.length > 0, 5_000, { message: 'the handshake answer' });
  return { servers, accessToken, token: negotiated.connectionToken, first };
}

// docs/reliability.md, "Beyond the window": never a silent gap. Redis only: the test reads the
// record and the log's length straight from it (the behaviour is the sessions', the same on every bus).
describe('durable mode on Redis beyond the window', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  test('a connection whose record expired with the window is refused with 404 on takeover', async (t) => {
    const redis = await redisFor(t);
    const db = await redisConnection(redis.port);
    onCleanup(t, () => db.close());
    const alice = unique('alice');
    const { servers, accessToken, token } = await statefulOnFirst(t, redis.url, ['--durable-window', '2s'], alice);
    const key = `switchboard:record:${createHash('sha256').update(token).digest('hex')}`;
    await waitFor(async () => (await db.command('EXISTS', key)) === 1, 5_000, { message: 'the record is written' });
    // Its instance dies: nobody refreshes the record any more.
    servers[0].process.kill('SIGKILL');
    await servers[0].exited;
    await waitFor(async () => (await db.command('EXISTS', key)) === 0, 10_000, { message: 'the record expires with the 2 s window' });
    assert.equal((await open(`${servers[1].url}/hubs/chat`, token, accessToken)).status, 404,
      'the client starts a new connection');
  });

  test('a takeover whose checkpoint was trimmed from the log is refused (404), not resumed with a gap', async (t) => {
    const redis = await redisFor(t);
    const db = await redisConnection(redis.port);
    onCleanup(t, () => db.close());
    const alice = unique('alice');
    const { servers, accessToken, token, first } = await statefulOnFirst(t, redis.url,
      ['--durable-window', '30s', '--durable-max-entries', '10'], alice);
    const senderToken = tokenFor(unique('sender'));
    const sender = await clientFor(t, servers[1].url, undefined, { accessTokenFactory: () => senderToken });
    // The client acks none: its checkpoint stays where it connected while the cap trims past it
    // (MAXLEN ~ drops whole nodes of 100 entries).
    const count = 250;
    for (let i = 1; i <= count; i += 1) await sender.connection.invoke('SendMessage', `m-${i}`);
    await waitFor(() => numbered(first.messages).size === count, 10_000, { message: 'every message on the first instance' });
    await waitFor(async () => (await db.command('XLEN', 'switchboard:log')) < 200, 10_000, { message: 'the cap trims the log' });
    first.ws._socket.destroy();

    // Refused before a socket is accepted: the client starts a new connection.
    const resumed = await open(`${servers[1].url}/hubs/chat`, token, accessToken);
    assert.equal(resumed.status, 404, 'no resume with a gap');
    assert.equal((await open(`${servers[1].url}/hubs/chat`, token, accessToken)).status, 404, 'nothing left to resume');
  });

  test('on its own instance a paused connection resumes only while its record names it', async (t) => {
    const redis = await redisFor(t);
    const db = await redisConnection(redis.port);
    onCleanup(t, () => db.close());
    const alice = unique('alice');
    const { servers, accessToken, token, first } = await statefulOnFirst(t, redis.url, ['--durable-window', '30s'], alice);
    const hub = `${servers[0].url}/hubs/chat`;
    const key = `switchboard:record:${createHash('sha256').update(token).digest('hex')}`;
    await waitFor(async () => (await db.command('EXISTS', key)) === 1, 5_000, { message: 'the record is written' });
    first.ws._socket.destroy();
    const again = await open(hub, token, accessToken);
    assert.equal(again.status, 101, 'resumed where it was');
    again.ws._socket.destroy();

    // A takeover elsewhere that this instance has not read yet looks like this: the record names
    // another owner. The paused copy must not resume (two instances would serve one connection):
    // it ends, and the request is a takeover from the record, as on any other instance.
    const record = JSON.parse(await db.command('GET', key));
    await db.command('SET', key, JSON.stringify({ ...record, epoch: record.epoch + 1, instance: 'elsewhere' }));
    const takeover = await open(hub, token, accessToken);
    assert.equal(takeover.status, 101, 'taken over from the record');
    const after = JSON.parse(await db.command('GET', key));
    assert.equal(after.epoch, record.epoch + 2, 'a new epoch: a takeover, not a resume of the old copy');
    assert.equal(after.instance, record.instance);
    takeover.ws._socket.destroy();

    // Redis lost the record: the connection cannot resume, here or anywhere.
    await db.command('DEL', key);
    assert.equal((await open(hub, token, accessToken)).status, 404, 'a vanished record: 404');
  });
});

// docs/reliability.md: a takeover's catch-up is paced by the connection's send queue, so a client
// that merely missed more than the queue holds is not dropped as a slow consumer.
describe('durable mode on Redis: a catch-up larger than the send queue', { skip: redisAvailable() ? false : 'redis-server is not installed' }, () => {
  test('arrives complete, in order, without a 1008 close', async (t) => {
    const redis = await redisFor(t);
    const db = await redisConnection(redis.port);
    onCleanup(t, () => db.close());
    const alice = unique('alice');
    // Each message is one rate-limit token for the sender: 600 in a burst need no limit.
    const { servers, accessToken, token } = await statefulOnFirst(t, redis.url,
      ['--durable-window', '60s', '--max-messages-per-second', '0'], alice);
    const key = `switchboard:record:${createHash('sha256').update(token).digest('hex')}`;
    await waitFor(async () => (await db.command('EXISTS', key)) === 1, 5_000, { message: 'the record is written' });
    // Its instance dies; the cluster goes on sending to everyone.
    servers[0].process.kill('SIGKILL');
    await servers[0].exited;
    const senderToken = tokenFor(unique('sender'));
    const sender = await clientFor(t, servers[1].url, undefined, { accessTokenFactory: () => senderToken });
    // 600 x 4 KB, one log entry each: more than twice the default 1 MiB send queue, and more than
    // one 512-entry read (SendToUser would write two entries a message, one per user).
    const count = 600;
    const filler = 'x'.repeat(4000);
    for (let i = 1; i <= count; i += 1) await sender.connection.invoke('SendMessage', `${i}:${filler}`);

    const resumed = await open(`${servers[1].url}/hubs/chat`, token, accessToken);
    assert.equal(resumed.status, 101, 'its owner resumes it on the other instance');
    let closeCode;
    resumed.ws.on('close', (code) => { closeCode = code; });
    resumed.ws.send(`{"type":9,"sequenceId":1}${RS}`);
    const received = () => numbered(resumed.messages);
    await waitFor(() => received().size === count || closeCode !== undefined, 30_000,
      { message: () => `the catch-up (${received().size} of ${count} messages)` });
    assert.equal(closeCode, undefined, `closed with ${closeCode} after ${received().size} of ${count} messages`);
    assert.equal(resumed.messages[0].type, 9, 'Sequence comes first');
    assert.equal(resumed.messages[0].sequenceId, 1, 'nothing was acked: the catch-up starts at 1');
    const texts = [...received().entries()];
    assert.deepEqual(texts.map(([, text]) => Number(text.slice(0, text.indexOf(':')))),
      Array.from({ length: count }, (_, i) => i + 1), 'every message once, in order');
    assert.ok(texts.every(([, text]) => text.endsWith(filler)), 'whole messages');
    resumed.ws.terminate();
  });
});
