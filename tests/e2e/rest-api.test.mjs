// The REST API in Azure SignalR Service's data-plane shape (docs/rest-api.md): two instances on a real
// Redis, official @microsoft/signalr clients receiving, every operation and status code, access-key
// tokens accepted and refused, a call sequence exactly as the .NET Management SDK sends it, and bad
// input. No sleeps: everything is polled with a deadline.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { encode } from '@msgpack/msgpack';
import { RS, clientFor, serverFor, startServer, unique, waitFor } from './server.mjs';
import { redisAvailable } from './redis.mjs';
import { startCluster, suiteScope } from './scaleout/cluster.mjs';

// 44 characters, like a real access key (and the emulator's).
const KEY = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH';
const OTHER_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvuts';
const VERSION = 'api-version=2022-06-01';
const TIMEOUT = 10_000; // cross-instance deliveries on a loaded 2-core machine

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A token as the Management SDK mints it (specs §2): kid, nameid, nbf, exp, iat, aud in that order. */
function sdkToken(aud, { key = KEY, exp = now() + 3600 } = {}) {
  const header = b64url({ alg: 'HS256', typ: 'JWT', kid: '-1234567' });
  const payload = b64url({ nameid: `host_${unique('n')}`, nbf: now(), exp, iat: now(), aud });
  const body = `${header}.${payload}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/**
 * One REST call: `path` starts with /api; the token's audience is `audHost` + path + the SDK's query
 * (api-version, never excluded/ttl/reason), unless `token` is given ('' for none).
 */
async function call(server, method, path, { body, query = '', token, audHost = 'http://localhost', headers = {} } = {}) {
  const url = `${server.url}${path}?${VERSION}${query ? `&${query}` : ''}`;
  const bearer = token ?? sdkToken(`${audHost}${path}?${VERSION}`);
  const allHeaders = { ...headers };
  if (bearer) allHeaders.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) allHeaders['Content-Type'] ??= 'application/json; charset=utf-8';
  const response = await fetch(url, {
    method,
    headers: allHeaders,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, text, json, code: response.headers.get('x-ms-error-code') };
}

/** A raw HTTP/1.1 exchange (the 2 MB body: the server answers 413 and closes before reading it all). */
function rawHttp(port, head, body) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      socket.write(body, () => {});
    });
    let response = '';
    let failure = null;
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { response += chunk; });
    // The server answers 413 and closes while the body is still being written (EPIPE, ECONNRESET):
    // what it said before that is the answer.
    socket.on('error', (error) => { failure = error; });
    socket.on('close', () => (response ? resolve(response) : reject(failure ?? new Error('no response'))));
  });
}

/** A client of /hubs/chat as `user` that records every `Notify` it receives and how it closed. */
async function listener(scope, server, user) {
  const client = await clientFor(scope, server.url, user, { start: false });
  client.notes = [];
  client.connection.on('Notify', (...args) => client.notes.push(args));
  await client.start();
  client.id = client.connection.connectionId;
  return client;
}

const got = (client, marker) => client.notes.some(([m]) => m === marker);
const waitGot = (client, marker) =>
  waitFor(() => got(client, marker), TIMEOUT, { message: () => `${client.user} to receive ${marker}; has ${JSON.stringify(client.notes)}` });

describe('REST API off without a key', () => {
  test('404 with a clear code; the OpenAPI document is still served', async (t) => {
    const server = await serverFor(t, [], { staticDir: '' });
    const r = await call(server, 'POST', '/api/hubs/chat/:send', { body: { target: 'x' } });
    assert.equal(r.status, 404);
    assert.equal(r.code, 'Error.RestApi.Disabled');
    assert.match(r.json.message, /--access-key/);
    const doc = await fetch(`${server.url}/api/openapi.json`);
    assert.equal(doc.status, 200);
    const openapi = await doc.json();
    assert.ok(openapi.paths['/api/hubs/{hub}/:send'].post);
    assert.ok(openapi.paths['/api/hubs/{hub}/users/{user}/groups/{group}'].put);
  });

  test('a key shorter than 32 bytes stops startup with a clear message', async (t) => {
    await assert.rejects(serverFor(t, ['--access-key', 'short'], { staticDir: '' }), /access key/);
  });
});

describe('REST API with --access-key: the audience host is the Host header\'s', () => {
  const scope = suiteScope();
  let server;
  before(async () => {
    server = await serverFor(scope, ['--access-key', KEY], { staticDir: '' });
  });

  test('aud naming the host the request went to (port dropped) is accepted, another host refused', async () => {
    assert.equal((await call(server, 'POST', '/api/hubs/chat/:send', { body: { target: 'x' }, audHost: 'http://127.0.0.1' })).status, 202);
    assert.equal((await call(server, 'POST', '/api/hubs/chat/:send', { body: { target: 'x' }, audHost: 'http://127.0.0.1:9' })).status, 202);
    assert.equal((await call(server, 'POST', '/api/hubs/chat/:send', { body: { target: 'x' }, audHost: 'http://evil.example' })).status, 401);
  });
});

describe('REST API on two instances over Redis', { skip: !redisAvailable() && 'redis-server not installed' }, () => {
  const scope = suiteScope();
  let a;
  let b;
  let cluster;
  const ARGS = ['--connection-string', `Endpoint=http://localhost;AccessKey=${KEY};Version=1.0;`,
    '--group-ack-timeout', '1s', '--rest-query-timeout', '300ms'];
  before(async () => {
    cluster = await startCluster(scope, { instances: 2, args: ARGS });
    [a, b] = cluster.servers;
    await cluster.redis.waitForSubscribers('switchboard:rest:all', 2);
  });

  test('health: HEAD and GET without a token, v1 too', async () => {
    assert.equal((await call(a, 'HEAD', '/api/health', { token: '' })).status, 200);
    assert.equal((await call(a, 'GET', '/api/health', { token: '' })).status, 200);
    assert.equal((await call(a, 'HEAD', '/api/v1/health', { token: '' })).status, 200);
  });

  test('auth: none, expired, wrong audience, wrong key, wrong host are 401; SDK and v1 audiences pass', async () => {
    const path = '/api/hubs/chat/:send';
    const body = { target: 'Notify', arguments: ['auth'] };
    const none = await call(a, 'POST', path, { body, token: '' });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
    assert.equal(none.json.code, 'Error.Unauthorized');
    const expired = await call(a, 'POST', path, { body, token: sdkToken(`http://localhost${path}?${VERSION}`, { exp: now() - 3600 }) });
    assert.equal(expired.status, 401);
    const otherPath = await call(a, 'POST', path, { body, token: sdkToken(`http://localhost/api/hubs/chat/users/x/:send?${VERSION}`) });
    assert.equal(otherPath.status, 401);
    assert.match(otherPath.headers.get('www-authenticate'), /The audience is invalid/);
    const otherHub = await call(a, 'POST', path, { body, token: sdkToken(`http://localhost/api/hubs/other/:send?${VERSION}`) });
    assert.equal(otherHub.status, 401);
    const wrongKey = await call(a, 'POST', path, { body, token: sdkToken(`http://localhost${path}?${VERSION}`, { key: OTHER_KEY }) });
    assert.equal(wrongKey.status, 401);
    // The connection string's Endpoint names the audience host, not the Host header (127.0.0.1:port).
    const hostHeader = await call(a, 'POST', path, { body, audHost: 'http://127.0.0.1' });
    assert.equal(hostHeader.status, 401);
    const garbage = await call(a, 'POST', path, { body, token: 'not-a-jwt' });
    assert.equal(garbage.status, 401);
    // Older SDKs: no query in aud, v1 path; a port in aud is ignored.
    assert.equal((await call(a, 'POST', path, { body, token: sdkToken(`http://localhost:8080${path}`) })).status, 202);
    assert.equal((await call(a, 'POST', '/api/v1/hubs/chat', { body, token: sdkToken('http://localhost/api/v1/hubs/chat') })).status, 202);
  });

  test('broadcast with excluded reaches every instance but the excluded connection', async (t) => {
    const c1 = await listener(t, a, unique('u'));
    const c2 = await listener(t, b, unique('u'));
    const c3 = await listener(t, b, unique('u'));
    const first = unique('all');
    const r = await call(a, 'POST', '/api/hubs/chat/:send', { body: { target: 'Notify', arguments: [first] }, query: `excluded=${c3.id}` });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
    await waitGot(c1, first);
    await waitGot(c2, first);
    // Publications of one instance arrive in order: once c3 has the second, it would have had the first.
    const second = unique('all');
    await call(a, 'POST', '/api/hubs/chat/:send', { body: { Target: 'Notify', Arguments: [second] } });
    await waitGot(c3, second);
    assert.equal(got(c3, first), false);
  });

  test('send to a user (PascalCase body) and to a connection, on the other instance', async (t) => {
    const user = unique('alice');
    const tab1 = await listener(t, b, user);
    const tab2 = await listener(t, b, user);
    const other = await listener(t, b, unique('bob'));
    const marker = unique('user');
    assert.equal((await call(a, 'POST', `/api/hubs/chat/users/${user}/:send`, { body: { Target: 'Notify', Arguments: [marker, { n: 1 }] } })).status, 202);
    await waitGot(tab1, marker);
    await waitGot(tab2, marker);
    assert.deepEqual(tab1.notes.find(([m]) => m === marker), [marker, { n: 1 }]);
    const direct = unique('conn');
    assert.equal((await call(a, 'POST', `/api/hubs/chat/connections/${tab2.id}/:send`, { body: { target: 'Notify', arguments: [direct] } })).status, 202);
    await waitGot(tab2, direct);
    // Sends to nobody are accepted, as the service does.
    assert.equal((await call(a, 'POST', '/api/hubs/chat/connections/nobody/:send', { body: { target: 'Notify' } })).status, 202);
    const last = unique('all');
    await call(b, 'POST', '/api/hubs/chat/:send', { body: { target: 'Notify', arguments: [last] } });
    await waitGot(other, last);
    await waitGot(tab1, last);
    assert.equal(got(other, marker) || got(other, direct) || got(tab1, direct), false);
  });

  test('connection group membership across instances, group send with excluded, existence, leave all', async (t) => {
    const group = unique('g/1 x'); // an encoded '/' stays in the name
    const g = encodeURIComponent(group);
    const m1 = await listener(t, b, unique('u'));
    const m2 = await listener(t, a, unique('u'));
    const outsider = await listener(t, b, unique('u'));
    assert.equal((await call(a, 'HEAD', `/api/hubs/chat/groups/${g}`)).code, 'Warning.Group.NotExisted');
    assert.equal((await call(a, 'PUT', `/api/hubs/chat/groups/${g}/connections/${m1.id}`)).status, 200);
    assert.equal((await call(b, 'PUT', `/api/hubs/chat/groups/${g}/connections/${m2.id}`)).status, 200);
    assert.equal((await call(a, 'HEAD', `/api/hubs/chat/groups/${g}`)).status, 200);
    const marker = unique('grp');
    assert.equal((await call(a, 'POST', `/api/hubs/chat/groups/${g}/:send`, { body: { target: 'Notify', arguments: [marker] }, query: `excluded=${m2.id}` })).status, 202);
    await waitGot(m1, marker);
    const all = unique('all');
    await call(a, 'POST', '/api/hubs/chat/:send', { body: { target: 'Notify', arguments: [all] } });
    await waitGot(m2, all);
    await waitGot(outsider, all);
    assert.equal(got(m2, marker) || got(outsider, marker), false);

    assert.equal((await call(a, 'DELETE', `/api/hubs/chat/groups/${g}/connections/${m1.id}`)).status, 200);
    assert.equal((await call(a, 'DELETE', `/api/hubs/chat/groups/${g}/connections/${m1.id}`)).status, 200); // idempotent
    assert.equal((await call(a, 'DELETE', `/api/hubs/chat/connections/${m2.id}/groups`)).status, 200);
    const gone = await call(a, 'HEAD', `/api/hubs/chat/groups/${g}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.code, 'Warning.Group.NotExisted');
    // An unknown connection: no instance acknowledges, 404 with the code the SDK swallows.
    const unknown = await call(a, 'PUT', `/api/hubs/chat/groups/${g}/connections/nobody-${unique('c')}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, 'Error.Connection.NotExisted');
  });

  test('user-group membership: current connections everywhere, later connections, TTL, removal', async (t) => {
    const user = unique('carol');
    const group = unique('team');
    const tab1 = await listener(t, b, user);
    const tab2 = await listener(t, a, user);
    assert.equal((await call(a, 'GET', `/api/hubs/chat/users/${user}/groups/${group}`)).code, 'Info.User.NotInGroup');
    assert.equal((await call(a, 'PUT', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 200);
    // The membership reaches instance b through the bus: send until both tabs have one.
    await waitFor(async () => {
      await call(a, 'POST', `/api/hubs/chat/groups/${group}/:send`, { body: { target: 'Notify', arguments: ['hello-team'] } });
      return got(tab1, 'hello-team') && got(tab2, 'hello-team');
    }, TIMEOUT, { interval: 100, message: 'both tabs in the group' });
    assert.equal((await call(a, 'GET', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 200);
    assert.equal((await call(b, 'HEAD', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 200);
    // A connection the user opens later joins too.
    const later = await listener(t, b, user);
    const marker = unique('later');
    await call(a, 'POST', `/api/hubs/chat/groups/${group}/:send`, { body: { target: 'Notify', arguments: [marker] } });
    await waitGot(later, marker);

    assert.equal((await call(a, 'DELETE', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 204);
    await waitFor(async () => (await call(b, 'GET', `/api/hubs/chat/users/${user}/groups/${group}`)).status === 404, TIMEOUT,
      { interval: 50, message: 'membership removed on b' });
    const after1 = unique('after');
    await call(a, 'POST', `/api/hubs/chat/groups/${group}/:send`, { body: { target: 'Notify', arguments: [after1] } });
    const all = unique('all');
    await call(a, 'POST', '/api/hubs/chat/:send', { body: { target: 'Notify', arguments: [all] } });
    await waitGot(later, all);
    await waitGot(tab2, all);
    assert.equal(got(later, after1) || got(tab2, after1), false);

    // ttl: the membership ends by itself, for every tab.
    const brief = unique('brief');
    assert.equal((await call(a, 'PUT', `/api/hubs/chat/users/${user}/groups/${brief}`, { query: 'ttl=1' })).status, 200);
    assert.equal((await call(a, 'GET', `/api/hubs/chat/users/${user}/groups/${brief}`)).status, 200);
    await waitFor(async () => (await call(a, 'GET', `/api/hubs/chat/users/${user}/groups/${brief}`)).status === 404, TIMEOUT,
      { interval: 100, message: 'ttl expiry' });
    await waitFor(async () => (await call(a, 'HEAD', `/api/hubs/chat/groups/${brief}`)).status === 404, TIMEOUT,
      { interval: 100, message: 'the tabs to leave the expired group' });

    // ttl=0: current connections only, nothing remembered; remove from all groups.
    const now0 = unique('now');
    assert.equal((await call(a, 'PUT', `/api/hubs/chat/users/${user}/groups/${now0}`, { query: 'ttl=0' })).status, 200);
    await waitFor(async () => (await call(a, 'HEAD', `/api/hubs/chat/groups/${now0}`)).status === 200, TIMEOUT, { message: 'ttl=0 join' });
    assert.equal((await call(a, 'DELETE', `/api/hubs/chat/users/${user}/groups`)).status, 204);
    await waitFor(async () => (await call(a, 'HEAD', `/api/hubs/chat/groups/${now0}`)).status === 404, TIMEOUT, { message: 'left all groups' });
  });

  test('an instance that starts later learns the user-group memberships made before', async (t) => {
    const user = unique('frank'); // no connection anywhere: only the stored membership says yes
    const group = unique('late');
    assert.equal((await call(a, 'PUT', `/api/hubs/chat/users/${user}/groups/${group}`)).status, 200);
    const c = await startServer(['--backplane', cluster.redis.url, '--server-name', unique('sb-late'), ...ARGS]);
    t.after(() => c.stop());
    await waitFor(async () => (await call(c, 'GET', `/api/hubs/chat/users/${user}/groups/${group}`)).status === 200, TIMEOUT,
      { interval: 100, message: 'the late instance to learn the membership' });
    // The user's first connection, on the late instance, joins the group there.
    const tab = await listener(t, c, user);
    const marker = unique('late');
    await call(a, 'POST', `/api/hubs/chat/groups/${group}/:send`, { body: { target: 'Notify', arguments: [marker] } });
    await waitGot(tab, marker);
  });

  test('existence checks see connections and users of the other instance', async (t) => {
    const user = unique('dave');
    const c = await listener(t, b, user);
    assert.equal((await call(a, 'HEAD', `/api/hubs/chat/connections/${c.id}`)).status, 200);
    assert.equal((await call(a, 'GET', `/api/hubs/chat/connections/${c.id}`)).status, 200);
    assert.equal((await call(a, 'HEAD', `/api/hubs/chat/users/${user}`)).status, 200);
    const missing = await call(a, 'HEAD', '/api/hubs/chat/connections/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'Warning.Connection.NotExisted');
    const noUser = await call(a, 'GET', `/api/hubs/chat/users/${unique('ghost')}`);
    assert.equal(noUser.status, 404);
    assert.equal(noUser.code, 'Warning.User.NotExisted');
    assert.equal(noUser.json.code, 'Warning.User.NotExisted');
  });

  test('presence reads: online users, a user\'s connections and a group\'s members, from either instance, paged', async (t) => {
    const user = unique('erin');
    const c = await listener(t, b, user);
    const group = unique('ward');
    assert.equal((await call(a, 'PUT', `/api/hubs/chat/groups/${group}/connections/${c.id}`)).status, 200);
    await waitFor(async () => (await call(a, 'GET', '/api/hubs/chat/users', { query: 'limit=1000' })).json?.users?.includes(user), TIMEOUT);
    const connections = await call(a, 'GET', `/api/hubs/chat/users/${user}/connections`);
    assert.equal(connections.status, 200);
    assert.deepEqual(connections.json.connections.map((x) => [x.connectionId, x.userId]), [[c.id, user]]);
    assert.equal(connections.json.next, '');
    await waitFor(async () => (await call(a, 'GET', `/api/hubs/chat/groups/${group}/members`)).json?.connections?.length === 1, TIMEOUT);
    // Pages of one: every online user once, however many pages.
    const seen = [];
    let cursor = '';
    do {
      const page = await call(b, 'GET', '/api/hubs/chat/users', { query: `limit=1${cursor ? `&cursor=${cursor}` : ''}` });
      assert.equal(page.status, 200);
      seen.push(...page.json.users);
      cursor = page.json.next;
    } while (cursor);
    assert.ok(seen.includes(user));
    assert.equal(new Set(seen).size, seen.length);
    assert.equal((await call(a, 'GET', '/api/hubs/chat/users', { query: 'limit=0' })).status, 400);
    assert.equal((await call(a, 'GET', '/api/hubs/chat/users', { token: '' })).status, 401);
  });

  test('close one connection with a reason, a group\'s, a user\'s, all but excluded', async (t) => {
    const one = await listener(t, b, unique('u'));
    assert.equal((await call(a, 'DELETE', `/api/hubs/chat/connections/${one.id}`, { query: 'reason=maintenance' })).status, 200);
    await waitFor(() => one.closes.length === 1, TIMEOUT, { message: 'close' });
    assert.match(String(one.closes[0]), /maintenance/);
    assert.equal((await call(a, 'HEAD', `/api/hubs/chat/connections/${one.id}`)).status, 404);

    const group = unique('g');
    const inGroup = await listener(t, b, unique('u'));
    await call(a, 'PUT', `/api/hubs/chat/groups/${group}/connections/${inGroup.id}`);
    assert.equal((await call(a, 'POST', `/api/hubs/chat/groups/${group}/:closeConnections`)).status, 204);
    await waitFor(() => inGroup.closes.length === 1, TIMEOUT, { message: 'group close' });

    const user = unique('eve');
    const u1 = await listener(t, b, user);
    const u2 = await listener(t, a, user);
    assert.equal((await call(a, 'POST', `/api/hubs/chat/users/${user}/:closeConnections`, { query: `excluded=${u2.id}&reason=bye` })).status, 204);
    await waitFor(() => u1.closes.length === 1, TIMEOUT, { message: 'user close' });
    const still = await call(a, 'HEAD', `/api/hubs/chat/connections/${u2.id}`);
    assert.equal(still.status, 200);

    const keep = await listener(t, a, unique('u'));
    const drop = await listener(t, b, unique('u'));
    assert.equal((await call(b, 'POST', '/api/hubs/chat/:closeConnections', { query: `excluded=${keep.id}` })).status, 204);
    await waitFor(() => drop.closes.length === 1 && u2.closes.length === 1, TIMEOUT, { message: 'close all' });
    assert.equal(keep.closes.length, 0);
  });

  test('a .NET Management SDK call sequence, byte for byte as the SDK sends it', async (t) => {
    // ServiceManager with "Endpoint=http://localhost;Port=<port>;AccessKey=...": REST base 127.0.0.1:<port>,
    // audience http://localhost/api/hubs/chat/...?api-version=2022-06-01, chunked JSON bodies, no User-Agent.
    const port = Number(new URL(a.url).port);
    const sdk = (method, path, { query = '', body } = {}) => new Promise((resolve, reject) => {
      const headers = {
        Authorization: `Bearer ${sdkToken(`http://localhost/api/hubs/chat${path}?${VERSION}`)}`,
        'Asrs-User-Agent': 'Microsoft.Azure.SignalR.Management/1.25.1 (.NET 8.0.0; Linux; X64)',
        Host: `localhost:${port}`,
      };
      if (body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
      const request = http.request({ host: '127.0.0.1', port, method, path: `/api/hubs/chat${path}?${VERSION}${query}`, headers }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode, code: response.headers['x-ms-error-code'] }));
      });
      request.on('error', reject);
      if (body !== undefined) {
        // Transfer-Encoding: chunked, in two chunks (the SDK does not precompute the length).
        const text = JSON.stringify(body);
        request.write(text.slice(0, 5));
        request.write(text.slice(5));
      }
      request.end();
    });

    const user = unique('sdkuser');
    const c = await listener(t, b, user);
    const other = await listener(t, a, unique('u'));
    const group = unique('sdk group');
    const g = encodeURIComponent(group);
    const ok = (r, status) => assert.equal(r.status, status, JSON.stringify(r));
    // IsServiceHealthy: HEAD {server}api/health?api-version=... (token aud http://localhost/api/health).
    ok(await new Promise((resolve, reject) => {
      http.request({ host: '127.0.0.1', port, method: 'HEAD', path: `/api/health?${VERSION}` }, (r) => { r.resume(); resolve({ status: r.statusCode }); })
        .on('error', reject).end();
    }), 200);
    ok(await sdk('PUT', `/groups/${g}/connections/${c.id}`), 200); // Groups.AddToGroupAsync
    ok(await sdk('POST', `/groups/${g}/:send`, { body: { Target: 'Notify', Arguments: ['sdk-group'] } }), 202); // Clients.Group
    await waitGot(c, 'sdk-group');
    ok(await sdk('PUT', `/users/${user}/groups/${g}`, { query: '&ttl=60' }), 200); // UserGroups.AddToGroupAsync(u, g, ttl)
    ok(await sdk('GET', `/users/${user}/groups/${g}`), 200); // UserGroups.IsUserInGroup
    ok(await sdk('HEAD', `/connections/${c.id}`), 200); // ClientManager.ConnectionExistsAsync
    ok(await sdk('HEAD', `/users/${user}`), 200); // ClientManager.UserExistsAsync
    ok(await sdk('HEAD', `/groups/${g}`), 200); // ClientManager.GroupExistsAsync
    ok(await sdk('POST', `/users/${user}/:send`, { body: { Target: 'Notify', Arguments: ['sdk-user'] } }), 202);
    ok(await sdk('POST', `/connections/${c.id}/:send`, { body: { Target: 'Notify', Arguments: ['sdk-conn'] } }), 202);
    ok(await sdk('POST', '/:send', { query: `&excluded=${other.id}`, body: { Target: 'Notify', Arguments: ['sdk-all'] } }), 202);
    await waitGot(c, 'sdk-user');
    await waitGot(c, 'sdk-conn');
    await waitGot(c, 'sdk-all');
    ok(await sdk('DELETE', `/groups/${g}/connections/${c.id}`), 200); // Groups.RemoveFromGroupAsync
    ok(await sdk('DELETE', `/connections/${c.id}/groups`), 200); // Groups.RemoveFromAllGroupsAsync
    ok(await sdk('DELETE', `/users/${user}/groups/${g}`), 204); // UserGroups.RemoveFromGroupAsync
    ok(await sdk('DELETE', `/users/${user}/groups`), 204); // UserGroups.RemoveFromAllGroupsAsync
    const notIn = await sdk('GET', `/users/${user}/groups/${g}`);
    assert.deepEqual(notIn, { status: 404, code: 'Info.User.NotInGroup' });
    ok(await sdk('DELETE', `/connections/${c.id}`, { query: '&reason=sdk-close' }), 200); // CloseConnectionAsync
    await waitFor(() => c.closes.length === 1, TIMEOUT, { message: 'SDK close' });
    assert.equal(got(other, 'sdk-all'), false);
  });

  test('binary bodies: a MessagePack map of framed invocations, json or messagepack', async (t) => {
    const c = await listener(t, b, unique('u'));
    const post = (map) => fetch(`${a.url}/api/hubs/chat/connections/${c.id}/:send?${VERSION}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${sdkToken(`http://localhost/api/hubs/chat/connections/${c.id}/:send?${VERSION}`)}`,
        'Content-Type': 'application/octet-stream',
      },
      body: encode(map),
    }).then((r) => r.status);
    const json = (marker) => new TextEncoder().encode(JSON.stringify({ type: 1, target: 'Notify', arguments: [marker] }) + RS);
    const messagepack = (marker) => {
      const body = encode([1, {}, null, 'Notify', [marker]]);
      return Uint8Array.from([body.length, ...body]); // one-byte varint: bodies under 128 bytes
    };
    assert.equal(await post({ json: json('bin-both'), messagepack: messagepack('bin-both') }), 202);
    assert.equal(await post({ messagepack: messagepack('bin-mp') }), 202);
    await waitGot(c, 'bin-both');
    await waitGot(c, 'bin-mp');
    assert.equal(await post({ json: new TextEncoder().encode('{"type":6}' + RS) }), 400); // a Ping
    assert.equal(await post({ other: json('x') }), 400);
    assert.equal(await post(['json']), 400);
  });

  test('Expect: 100-continue (curl, bodies over 1 KiB) is answered before the body is sent', async () => {
    const port = Number(new URL(a.url).port);
    const path = '/api/hubs/chat/:send';
    const body = JSON.stringify({ target: 'Notify', arguments: ['x'.repeat(4000)] });
    const response = await new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(
        `POST ${path}?${VERSION} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${sdkToken(`http://localhost${path}?${VERSION}`)}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`));
      let text = '';
      let sent = false;
      socket.setEncoding('latin1');
      socket.on('data', (chunk) => {
        text += chunk;
        if (!sent && text.includes('100 Continue\r\n\r\n')) {
          sent = true; // only now, as curl does
          socket.write(body);
        }
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 /);
  });

  test('bad input gets a clear 4xx', async () => {
    const send = '/api/hubs/chat/:send';
    const malformed = await call(a, 'POST', send, { body: '{"target": ' });
    assert.equal(malformed.status, 400);
    assert.match(malformed.json.message, /JSON object/);
    assert.equal((await call(a, 'POST', send, { body: '[1,2]' })).status, 400);
    assert.equal((await call(a, 'POST', send, { body: { arguments: [] } })).status, 400);
    assert.equal((await call(a, 'POST', send, { body: { target: '' } })).status, 400);
    assert.equal((await call(a, 'POST', send, { body: { target: 'x', arguments: 5 } })).status, 400);
    assert.equal((await call(a, 'POST', send, { body: 'x', headers: { 'Content-Type': 'application/octet-stream' } })).status, 400);
    // Names: control characters, dot segments, bad hub names, an unknown hub, an unencoded '/'.
    const ctl = await call(a, 'POST', '/api/hubs/chat/groups/a%01b/:send', { body: { target: 'x' } });
    assert.equal(ctl.status, 400);
    assert.match(ctl.json.message, /control characters/);
    assert.equal((await call(a, 'POST', '/api/hubs/chat/users/%0A/:send', { body: { target: 'x' } })).status, 400);
    assert.equal((await call(a, 'POST', '/api/hubs/1chat/:send', { body: { target: 'x' } })).status, 400);
    assert.equal((await call(a, 'POST', '/api/hubs/ch%2Fat/:send', { body: { target: 'x' } })).status, 400);
    assert.equal((await call(a, 'POST', '/api/hubs/chat/groups/a/b/:send', { body: { target: 'x' } })).status, 404);
    const hub = await call(a, 'POST', '/api/hubs/nohub/:send', { body: { target: 'x' } });
    assert.equal(hub.status, 404);
    assert.equal(hub.code, 'Error.Hub.NotExisted');
    assert.equal((await call(a, 'PUT', '/api/hubs/chat/users/u/groups/g', { query: 'ttl=-5' })).status, 400);
    assert.equal((await call(a, 'GET', send)).status, 405);
    assert.equal((await call(a, 'POST', '/api/hubs/chat/nothing/here')).status, 404);
    // '..' as a raw path segment, plain or encoded (fetch would normalize both away).
    const port = Number(new URL(a.url).port);
    for (const dots of ['/api/hubs/chat/groups/../:send', '/api/hubs/chat/groups/%2E%2E/:send', '/api/hubs/chat/users/./:send']) {
      const raw = await rawHttp(port, `POST ${dots}?${VERSION} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${sdkToken(`http://localhost${dots}?${VERSION}`)}\r\nContent-Length: 14\r\nConnection: close\r\n\r\n`, '{"target":"x"}');
      assert.match(raw, /^HTTP\/1\.1 400 /, dots);
      assert.match(raw, /are not names/);
    }
    // 2 MB: refused at the 1 MiB limit with 413, before the token is even looked at.
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const response = await rawHttp(port, `POST ${send}?${VERSION} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`, big);
    assert.match(response, /^HTTP\/1\.1 413 /);
    // Counted for operators.
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    assert.ok(Number(metrics.match(/^switchboard_rest_requests_total (\d+)/m)[1]) > 0);
    assert.ok(Number(metrics.match(/^switchboard_rest_refused_total (\d+)/m)[1]) > 0);
    // Just under the limit is fine.
    const near = JSON.stringify({ target: 'Notify', arguments: ['x'.repeat(900 * 1024)] });
    assert.equal((await call(a, 'POST', send, { body: near })).status, 202);
  });
});
