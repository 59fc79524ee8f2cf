// Durable mode (issue 20, docs/reliability.md): a stateful connection whose socket dropped resumes on
// another instance with its token. Spoken at the protocol level (raw WebSockets, JSON hub protocol), so
// every message's sequence number is checked: the new instance numbers each message as the old one did,
// the client's missed ones arrive once, in order, and only the connection's owner can take it over.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { clientFor, onCleanup, startServer, unique, waitFor } from '../server.mjs';
import { natsAvailable, natsFor } from '../nats.mjs';
import { redisAvailable, redisFor } from '../redis.mjs';
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
