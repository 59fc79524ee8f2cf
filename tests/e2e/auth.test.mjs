// JWT bearer authentication (issue #5): a server started with --jwt-secret, the official client with
// accessTokenFactory over every transport and protocol, refused tokens, and requests for another user's connection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { ROOT, VARIANTS, clientFor, serverFor, startServer, unique, waitFor, waitForEvent } from './server.mjs';

const SECRET = 'switchboard-e2e-secret-0123456789abcdef';
const OTHER_SECRET = 'another-secret-of-enough-length-0123456789';
const BIN = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');

const b64url = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 token for `claims` (exp one hour ahead unless given), signed with `secret`. */
function token(claims, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const body = `${b64url(header)}.${b64url({ exp: now() + 3600, ...claims })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
const tokenFor = (user) => token({ sub: user });

describe('JWT authentication', () => {
  let server;
  before(async () => {
    server = await startServer(['--jwt-secret', SECRET]);
  });
  after(() => server?.stop());

  /** A chat client authenticated as `user` (no ?user= unless `queryUser`). */
  const authed = (t, user, variant = VARIANTS[0], { queryUser, tokenValue } = {}) =>
    clientFor(t, server.url, queryUser, { ...variant, accessTokenFactory: () => tokenValue ?? tokenFor(user) });

  const rejects401 = async (t, accessToken) => {
    const client = await clientFor(t, server.url, undefined, {
      start: false,
      ...(accessToken === undefined ? {} : { accessTokenFactory: () => accessToken }),
    });
    await assert.rejects(client.start(), (error) => {
      assert.match(String(error.message), /401/);
      return true;
    });
  };

  for (const variant of VARIANTS) {
    test(`over ${variant.name} the user id comes from sub`, async (t) => {
      const alice = unique('alice');
      const bob = unique('bob');
      const a = await authed(t, alice, variant);
      const b = await authed(t, bob, variant);
      const text = unique('direct');
      // Delivered to alice's connections by her user id, and from bob by his.
      await b.connection.invoke('SendToUser', alice, text);
      await waitForEvent(a, 'ReceiveDirectMessage', ([from, m]) => from === bob && m === text);
    });
  }

  test('without a token start() fails with 401', async (t) => {
    await rejects401(t, undefined);
  });

  test('an expired token is refused with 401', async (t) => {
    await rejects401(t, token({ sub: unique('late'), exp: now() - 3600 }));
  });

  test('a token signed with another secret is refused with 401', async (t) => {
    await rejects401(t, token({ sub: unique('mallory') }, { secret: OTHER_SECRET }));
  });

  test('an unsigned token (alg none) is refused with 401', async (t) => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: unique('mallory'), exp: now() + 3600 })}.`;
    await rejects401(t, unsigned);
  });

  test('?user= is ignored when a token names the user', async (t) => {
    const alice = unique('alice');
    const forged = await authed(t, alice, VARIANTS[0], { queryUser: unique('bob') });
    const text = unique('who');
    await forged.connection.invoke('SendMessage', text);
    await waitForEvent(forged, 'ReceiveMessage', ([user, m]) => user === alice && m === text);
  });

  test('a token from `switchboard token` connects as its user', async (t) => {
    const user = unique('cli');
    const { stdout } = await promisify(execFile)(BIN, ['token', '--user', user, '--role', 'admin', '--jwt-secret', SECRET]);
    const client = await authed(t, user, VARIANTS[0], { tokenValue: stdout.trim() });
    const text = unique('cli-msg');
    await client.connection.invoke('SendMessage', text);
    await waitForEvent(client, 'ReceiveMessage', ([from, m]) => from === user && m === text);
  });

  describe("another user's token on a connection gets 403", () => {
    const alice = unique('alice');
    const aliceToken = tokenFor(alice);
    const bobToken = tokenFor(unique('bob'));
    const auth = (t) => ({ Authorization: `Bearer ${t}` });
    const hub = () => new URL('/hubs/chat', server.url).href;

    async function negotiate() {
      const res = await fetch(`${hub()}/negotiate?negotiateVersion=1`, { method: 'POST', headers: auth(aliceToken) });
      assert.equal(res.status, 200);
      return (await res.json()).connectionToken;
    }

    test('long polling: GET, POST and DELETE', async () => {
      const id = await negotiate();
      const url = `${hub()}?id=${encodeURIComponent(id)}`;
      // Refused before the first poll, which still works for alice afterwards.
      assert.equal((await fetch(url, { headers: auth(bobToken) })).status, 403);
      assert.equal((await fetch(url, { headers: auth(aliceToken) })).status, 200);
      assert.equal((await fetch(url, { headers: auth(bobToken) })).status, 403);
      const handshake = '{"protocol":"json","version":1}\u001e';
      assert.equal((await fetch(url, { method: 'POST', headers: auth(bobToken), body: handshake })).status, 403);
      assert.equal((await fetch(url, { method: 'DELETE', headers: auth(bobToken) })).status, 403);
      // Bob's handshake was not delivered: alice's own one is the first, and answered once.
      assert.equal((await fetch(url, { method: 'POST', headers: auth(aliceToken), body: handshake })).status, 200);
      const poll = await fetch(url, { headers: auth(aliceToken) });
      assert.equal(poll.status, 200);
      assert.equal(await poll.text(), '{}\u001e');
      assert.equal((await fetch(url, { method: 'DELETE', headers: auth(aliceToken) })).status, 202);
    });

    test('Server-Sent Events: GET and POST', async () => {
      const id = await negotiate();
      const url = `${hub()}?id=${encodeURIComponent(id)}`;
      const sse = (t) => ({ ...auth(t), Accept: 'text/event-stream' });
      assert.equal((await fetch(url, { headers: sse(bobToken) })).status, 403);
      const controller = new AbortController();
      const stream = await fetch(url, { headers: sse(aliceToken), signal: controller.signal });
      try {
        assert.equal(stream.status, 200);
        const handshake = '{"protocol":"json","version":1}\u001e';
        assert.equal((await fetch(url, { method: 'POST', headers: auth(bobToken), body: handshake })).status, 403);
      } finally {
        controller.abort();
      }
    });

    test('WebSockets: connect with the id negotiated by another user', async () => {
      const id = await negotiate();
      const wsUrl = `${hub().replace(/^http/, 'ws')}?id=${encodeURIComponent(id)}&access_token=${bobToken}`;
      const status = await new Promise((resolve) => {
        const ws = new WebSocket(wsUrl);
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode);
          ws.terminate();
        });
        ws.on('open', () => {
          resolve('open');
          ws.close();
        });
        ws.on('error', () => {});
      });
      assert.equal(status, 403);
      // The token is still alice's to use.
      const ok = await new Promise((resolve) => {
        const ws = new WebSocket(`${hub().replace(/^http/, 'ws')}?id=${encodeURIComponent(id)}&access_token=${aliceToken}`);
        ws.on('open', () => {
          resolve(true);
          ws.close();
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.on('error', () => {});
      });
      assert.equal(ok, true);
    });

    // Stateful reconnect's tokens (issue 20): a dropped connection waits for its owner only.
    test('WebSockets, stateful reconnect: a paused connection resumes for its owner, not for another user, a forged id or after it ended', async () => {
      const res = await fetch(`${hub()}/negotiate?negotiateVersion=1&useStatefulReconnect=true`, { method: 'POST', headers: auth(aliceToken) });
      const negotiated = await res.json();
      assert.equal(negotiated.useStatefulReconnect, true);
      const open = (id, accessToken) => new Promise((resolve) => {
        const ws = new WebSocket(`${hub().replace(/^http/, 'ws')}?id=${encodeURIComponent(id)}&access_token=${accessToken}`);
        const frames = [];
        ws.on('message', (data) => frames.push(String(data)));
        ws.on('open', () => resolve({ status: 101, ws, frames }));
        ws.on('unexpected-response', (_req, r) => { resolve({ status: r.statusCode }); ws.terminate(); });
        ws.on('error', () => {});
      });
      const first = await open(negotiated.connectionToken, aliceToken);
      assert.equal(first.status, 101);
      first.ws.send('{"protocol":"json","version":2}\u001e');
      await waitFor(() => first.frames.length > 0, 5_000, { message: 'the handshake answer' });
      first.ws._socket.destroy(); // dropped without a close frame: the connection pauses
      assert.equal((await open(negotiated.connectionToken, bobToken)).status, 403, "another user's token");
      assert.equal((await open('AAAAAAAAAAAAAAAAAAAAAA', aliceToken)).status, 404, 'a forged id');
      const resumed = await open(negotiated.connectionToken, aliceToken);
      assert.equal(resumed.status, 101, 'its owner resumes it');
      // The resume starts with the server's Sequence message (no new handshake).
      await waitFor(() => resumed.frames.some((f) => f.startsWith('{"type":9')), 5_000, { message: 'the Sequence message' });
      // A clean close ends the connection (the server closes the socket): its id resumes nothing after.
      const closed = new Promise((resolve) => { resumed.ws.on('close', resolve); });
      resumed.ws.send('{"type":7}\u001e');
      await closed;
      assert.equal((await open(negotiated.connectionToken, aliceToken)).status, 404, 'an ended connection');
    });
  });
});

// Each way a token can be wrong, against a server that also checks issuer and audience.
describe('token validation', () => {
  let server;
  const valid = () => ({ sub: unique('v'), iss: 'https://issuer.test', aud: 'switchboard-e2e' });
  before(async () => {
    server = await startServer(['--jwt-secret', SECRET, '--jwt-issuer', 'https://issuer.test',
      '--jwt-audience', 'switchboard-e2e', '--jwt-clock-skew', '0s']);
  });
  after(() => server?.stop());

  const attempt = async (t, accessToken) => {
    const client = await clientFor(t, server.url, undefined, { start: false, accessTokenFactory: () => accessToken });
    return client.start().then(() => 'connected', (error) => String(error.message));
  };
  const tamper = (jwt) => {
    const [header, , signature] = jwt.split('.');
    return `${header}.${b64url({ ...valid(), sub: 'admin' })}.${signature}`;
  };
  const cases = {
    'not yet valid (nbf ahead)': () => token({ ...valid(), nbf: now() + 3600 }),
    'a wrong issuer': () => token({ ...valid(), iss: 'https://evil.test' }),
    'a wrong audience': () => token({ ...valid(), aud: 'another-app' }),
    'a tampered payload': () => tamper(token(valid())),
    'a key of the wrong type (RS256 header, HMAC signature)': () => token(valid(), { header: { alg: 'RS256', typ: 'JWT' } }),
    'no user claim': () => token({ iss: 'https://issuer.test', aud: 'switchboard-e2e' }),
    'garbage': () => 'not-a-jwt',
  };

  test('a token with the right issuer and audience connects', async (t) => {
    assert.equal(await attempt(t, token(valid())), 'connected');
  });
  for (const [name, make] of Object.entries(cases)) {
    test(`${name} is refused with 401`, async (t) => {
      assert.match(await attempt(t, make()), /401/);
    });
  }
});

// --authorize rules for the hub and its methods, the chat group policy, token expiry.
describe('authorization', () => {
  let server;
  before(async () => {
    server = await startServer(['--jwt-secret', SECRET,
      '--authorize', 'chat.SendMessage=role:writer,role:admin',
      '--authorize', 'chat.SendToUser=claim:scope=dm',
      '--chat-group-policy', 'patterns', '--chat-group-pattern', 'team-*,dm-{user}-*',
      '--close-on-token-expiry']);
  });
  after(() => server?.stop());

  const as = (t, claims, variant = VARIANTS[0]) =>
    clientFor(t, server.url, undefined, { ...variant, accessTokenFactory: () => token(claims) });
  const unauthorized = (method) => new RegExp(`Failed to invoke '${method}' because user is unauthorized`);

  for (const variant of [VARIANTS[0], VARIANTS.at(-1)]) {
    test(`methods need their roles (${variant.name})`, async (t) => {
      const writer = await as(t, { sub: unique('w'), role: 'writer' }, variant);
      const reader = await as(t, { sub: unique('r'), role: ['reader'] }, variant);
      await assert.rejects(reader.connection.invoke('SendMessage', 'hi'), unauthorized('SendMessage'));
      const text = unique('allowed');
      await writer.connection.invoke('SendMessage', text);
      await waitForEvent(reader, 'ReceiveMessage', ([, m]) => m === text);
      // The refused call changed nothing and the connection stays usable.
      assert.equal(reader.connection.state, 'Connected');
      await reader.connection.invoke('JoinGroup', 'team-a');
    });
  }

  test('a claim requirement', async (t) => {
    const bob = unique('bob');
    const target = await as(t, { sub: bob });
    const withScope = await as(t, { sub: unique('a'), scope: ['read', 'dm'] });
    const without = await as(t, { sub: unique('c'), scope: 'read' });
    await assert.rejects(without.connection.invoke('SendToUser', bob, 'x'), unauthorized('SendToUser'));
    await withScope.connection.invoke('SendToUser', bob, 'psst');
    await waitForEvent(target, 'ReceiveDirectMessage', ([, m]) => m === 'psst');
  });

  test('the group policy refuses names outside its patterns', async (t) => {
    const alice = unique('alice');
    const client = await as(t, { sub: alice });
    await client.connection.invoke('JoinGroup', 'team-red');
    await client.connection.invoke('JoinGroup', `dm-${alice}-x`);
    await assert.rejects(client.connection.invoke('JoinGroup', 'admins'), /Not allowed to join group 'admins'\./);
    await assert.rejects(client.connection.invoke('JoinGroup', 'dm-someone-else-x'), /Not allowed to join group/);
    await assert.rejects(client.connection.invoke('SendToGroup', 'admins', 'x'), /Not allowed to send to group 'admins'\./);
  });

  test('a connection closes when its token expires', async (t) => {
    const brief = token({ sub: unique('brief'), exp: now() + 1 });
    const client = await clientFor(t, server.url, undefined, { accessTokenFactory: () => brief });
    await waitFor(() => client.closes.length > 0, 5_000, { message: 'the expired connection to close' });
    assert.match(String(client.closes[0]?.message), /The access token expired\./);
  });
});

test('a hub-wide role requirement: 401 without a token, 403 without the role', async (t) => {
  const server = await serverFor(t, ['--jwt-secret', SECRET, '--authorize', 'chat=role:member']);
  const attempt = async (accessToken) => {
    const client = await clientFor(t, server.url, undefined, {
      start: false, ...(accessToken ? { accessTokenFactory: () => accessToken } : {}),
    });
    return client.start().then(() => 'connected', (error) => String(error.message));
  };
  assert.match(await attempt(undefined), /401/);
  assert.match(await attempt(token({ sub: unique('guest') })), /403/);
  assert.equal(await attempt(token({ sub: unique('member'), role: 'member' })), 'connected');
});

test('authorization without keys is a startup error', async () => {
  const run = promisify(execFile)(BIN, ['serve', '--listen', '127.0.0.1:0', '--authorize', 'chat=authenticated']);
  await assert.rejects(run, (error) => {
    assert.notEqual(error.code, 0);
    assert.match(error.stderr + error.stdout, /need JWT authentication/);
    return true;
  });
});

// Development mode stays as it was: no keys, the user id from ?user=.
test('without keys the user id comes from ?user=', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const user = unique('dev');
  const client = await clientFor(t, server.url, user);
  const text = unique('dev-msg');
  await client.connection.invoke('SendMessage', text);
  await waitFor(() => client.events.ReceiveMessage.find(([from, m]) => from === user && m === text));
});
