// Limits: HTTP header and body sizes get clear 4xx answers; a client that stops reading is
// dropped as a slow consumer once its bounded send queue overflows, and others are unaffected.
// Connection counts (total, per IP, per user), the negotiate rate, the message rate and the
// group count per connection refuse with a reason the client sees, and /metrics counts it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RS, clientFor, connect, rawSocket, serverFor, unique, waitFor, waitForEvent } from './server.mjs';

// A raw HTTP/1.1 exchange, so the test controls exactly what is sent.
function rawHttp(port, request) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let response = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { response += chunk; });
    socket.on('end', () => resolve(response));
    socket.on('error', (error) => (response ? resolve(response) : reject(error)));
  });
}

test('headers over --max-header-size get 431 with a reason', async (t) => {
  const server = await serverFor(t, ['--max-header-size', '1024']);
  const response = await rawHttp(server.port,
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`);
  assert.match(response, /^HTTP\/1\.1 431 /);
  assert.match(response, /Request headers exceed 1024 bytes\./);
});

test('a body over --max-body-size gets 413 with a reason', async (t) => {
  const server = await serverFor(t, ['--max-body-size', '1024']);
  const body = 'b'.repeat(5000);
  const response = await rawHttp(server.port,
    `POST /hubs/chat?id=x HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  assert.match(response, /^HTTP\/1\.1 413 /);
  assert.match(response, /Request body exceeds 1024 bytes\./);
});

test('a client that stops reading is dropped as a slow consumer; the others keep receiving', async (t) => {
  // The flood is the point here: no message rate limit.
  const server = await serverFor(t, ['--send-queue-limit', '262144', '--chat-max-message-length', '10000',
    '--max-messages-per-second', '0']);
  const slowUser = unique('slow');
  const flood = unique('flood');
  const slow = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat?user=${slowUser}`);
  t.after(() => slow.close());
  assert.equal(await slow.handshake(), '{}');
  await slow.send(JSON.stringify({ type: 1, invocationId: '1', target: 'JoinGroup', arguments: [flood] }) + RS);
  await slow.waitForMessage((m) => m.type === 3 && m.invocationId === '1');
  slow.ws._socket.pause(); // stop reading: kernel buffers fill, then the server-side queue

  // Only the slow client is in the flooded group: sender and watcher see no flood traffic.
  const sender = await clientFor(t, server.url, unique('sender'));
  const watcher = await clientFor(t, server.url, unique('watcher'));
  const chunk = 'x'.repeat(8_000);
  // Far more than loopback kernel buffers plus the 256 KiB queue hold; stops once dropped.
  const dropped = () => watcher.events.UserDisconnected.some(([user]) => user === slowUser);
  for (let i = 0; i < 5000 && !dropped(); i++) {
    await sender.connection.invoke('SendToGroup', flood, chunk);
  }
  await waitForEvent(watcher, 'UserDisconnected', ([user]) => user === slowUser, 15_000);
  assert.match(server.stdout() + server.stderr(), /slow consumer/);
  assert.equal(await metric(server, 'switchboard_slow_consumer_disconnects_total'), 1);

  const marker = unique('after');
  await sender.connection.invoke('SendMessage', marker);
  await waitForEvent(watcher, 'ReceiveMessage', ([, message]) => message === marker);
  assert.equal(watcher.closes.length, 0);
  assert.equal(sender.closes.length, 0);
});

/** GET /metrics parsed into { 'name{labels}': value }, plus the raw response. */
async function scrape(server) {
  const response = await fetch(`${server.url}/metrics`);
  const text = await response.text();
  const values = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values[line.slice(0, space)] = Number(line.slice(space + 1));
  }
  return { response, text, values };
}

async function metric(server, series) {
  const { values } = await scrape(server);
  assert.ok(series in values, `/metrics has no series ${series}`);
  return values[series];
}

/** Starts a client that a limit must refuse; returns the error start() rejected with. */
async function refusedStart(t, url, user) {
  const client = await connect(url, user, { start: false });
  t.after(() => client.stop());
  try {
    await client.start();
  } catch (error) {
    return error;
  }
  assert.fail(`the client of ${user} connected although a limit should refuse it`);
}

/** Connects `user`, retrying while the server still counts connections that are closing. */
async function eventuallyConnects(t, url, user) {
  return waitFor(async () => {
    const client = await connect(url, user, { start: false });
    try {
      await client.start();
    } catch {
      return null;
    }
    t.after(() => client.stop());
    return client;
  }, 10_000, { message: `${user} to connect again` });
}

test('--max-connections-per-ip refuses the next connection with 429 and a reason until one closes', async (t) => {
  const server = await serverFor(t, ['--max-connections-per-ip', '3']);
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await clientFor(t, server.url, unique('ip')));

  const error = await refusedStart(t, server.url, unique('ip'));
  assert.match(error.message, /Status code '429'/);
  assert.match(error.message, /Too many connections from this IP address: at most 3 per client address\./);
  // Plain HTTP sees the same: status, text body, Retry-After.
  const raw = await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
  assert.equal(raw.status, 429);
  assert.equal(raw.headers.get('retry-after'), '1');
  assert.equal(await raw.text(), 'Too many connections from this IP address: at most 3 per client address.');
  assert.ok(await metric(server, 'switchboard_limit_rejections_total{limit="connections_per_ip"}') >= 2);

  // The open connections are untouched, and a closed one gives its place back.
  const marker = unique('still-open');
  await clients[0].connection.invoke('SendMessage', marker);
  await waitForEvent(clients[2], 'ReceiveMessage', ([, m]) => m === marker);
  await clients[1].stop();
  const replacement = await eventuallyConnects(t, server.url, unique('ip'));
  assert.equal(replacement.connection.state, 'Connected');
});

test('--max-connections refuses with 503 once the server holds that many connections', async (t) => {
  const server = await serverFor(t, ['--max-connections', '2']);
  const first = await clientFor(t, server.url, unique('total'));
  await clientFor(t, server.url, unique('total'));
  const error = await refusedStart(t, server.url, unique('total'));
  assert.match(error.message, /Status code '503'/);
  assert.match(error.message, /Connection limit reached: this server accepts at most 2 connections\./);
  assert.ok(await metric(server, 'switchboard_limit_rejections_total{limit="connections"}') >= 1);

  await first.stop();
  await eventuallyConnects(t, server.url, unique('total'));
});

test('--max-connections-per-user limits one user (dev mode ?user=) and not the others', async (t) => {
  const server = await serverFor(t, ['--max-connections-per-user', '2']);
  const alice = unique('alice');
  const tabs = [await clientFor(t, server.url, alice), await clientFor(t, server.url, alice)];
  const error = await refusedStart(t, server.url, alice);
  assert.match(error.message, /Status code '429'/);
  assert.match(error.message, /Too many connections for this user: at most 2 per user\./);
  const bob = await clientFor(t, server.url, unique('bob'));
  assert.equal(bob.connection.state, 'Connected');
  // Anonymous connections have no user to count.
  await clientFor(t, server.url, null);
  await clientFor(t, server.url, null);
  await clientFor(t, server.url, null);
  assert.ok(await metric(server, 'switchboard_limit_rejections_total{limit="connections_per_user"}') >= 1);

  await tabs[0].stop();
  await eventuallyConnects(t, server.url, alice);
});

test('--negotiate-rate-per-ip answers 429 with a reason past the burst', async (t) => {
  const server = await serverFor(t, ['--negotiate-rate-per-ip', '1', '--negotiate-burst-per-ip', '3']);
  const negotiate = () => fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
  const started = Date.now();
  const statuses = [];
  let refused;
  while (!refused && statuses.length < 20) {
    const response = await negotiate();
    statuses.push(response.status);
    if (response.status === 429) refused = { body: await response.text(), retryAfter: response.headers.get('retry-after') };
    else await response.arrayBuffer();
  }
  const elapsedSeconds = (Date.now() - started) / 1000;
  assert.deepEqual(statuses.slice(0, 3), [200, 200, 200], 'the burst is admitted');
  assert.ok(refused, `no 429 in ${statuses.length} negotiates: ${statuses}`);
  // Burst plus what the rate refilled meanwhile, never more.
  assert.ok(statuses.length - 1 <= 3 + Math.ceil(elapsedSeconds), `${statuses.length - 1} admitted in ${elapsedSeconds}s`);
  assert.equal(refused.body, 'Negotiate rate limit exceeded: at most 1 requests per second per client address (burst 3).');
  assert.equal(refused.retryAfter, '1');

  // The official client reports it, and a connection without negotiate is limited the same way.
  const error = await refusedStart(t, server.url, unique('rate'));
  assert.match(error.message, /Status code '429'/);
  assert.match(error.message, /Negotiate rate limit exceeded/);
  assert.ok(await metric(server, 'switchboard_limit_rejections_total{limit="negotiate_rate_per_ip"}') >= 2);
});

test('--max-messages-per-second closes a flooding connection with a Close that says why', async (t) => {
  const server = await serverFor(t, ['--max-messages-per-second', '5', '--message-burst', '10']);
  const calm = await clientFor(t, server.url, unique('calm'));
  const flooder = await clientFor(t, server.url, unique('flooder'));
  for (let i = 0; i < 5; i++) await calm.connection.invoke('SendMessage', `calm ${i}`);

  const flood = [];
  for (let i = 0; i < 50; i++) flood.push(flooder.connection.send('SendMessage', `flood ${i}`).catch(() => {}));
  await Promise.all(flood);
  await waitFor(() => flooder.closes.length > 0, 5_000, { message: 'the flooder to be closed' });
  assert.match(String(flooder.closes[0]?.message),
    /Connection closed with an error\. Message rate limit exceeded: more than 5 messages per second\./);
  assert.equal(flooder.reconnecting.length, 0);

  assert.equal(calm.closes.length, 0);
  assert.equal(calm.connection.state, 'Connected');
  assert.equal(await metric(server, 'switchboard_limit_rejections_total{limit="messages_per_second"}'), 1);
});

test('the message rate Close reaches a raw client without reconnect permission', async (t) => {
  const server = await serverFor(t, ['--max-messages-per-second', '1', '--message-burst', '2']);
  const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat?user=${unique('raw')}`);
  t.after(() => socket.close());
  assert.equal(await socket.handshake(), '{}');
  const frame = Array.from({ length: 5 }, (_, i) =>
    JSON.stringify({ type: 1, target: 'SendMessage', arguments: [`m${i}`] }) + RS).join('');
  await socket.send(frame);
  const close = await socket.waitForMessage((m) => m.type === 7);
  assert.equal(close.error, 'Connection closed with an error. Message rate limit exceeded: more than 1 messages per second.');
  assert.notEqual(close.allowReconnect, true);
  await socket.closed;
});

test('--max-groups-per-connection fails the join with a hub error and keeps the connection', async (t) => {
  const server = await serverFor(t, ['--max-groups-per-connection', '2']);
  const client = await clientFor(t, server.url, unique('groups'));
  const [g1, g2, g3] = [unique('g1'), unique('g2'), unique('g3')];
  await client.connection.invoke('JoinGroup', g1);
  await client.connection.invoke('JoinGroup', g2);
  await assert.rejects(client.connection.invoke('JoinGroup', g3),
    /HubException: Group limit reached \(2 groups per connection\)\./);
  assert.equal(client.connection.state, 'Connected');
  assert.equal(client.closes.length, 0);

  // Still a member of the first two, and leaving one makes room.
  await client.connection.invoke('SendToGroup', g2, 'in g2');
  await waitForEvent(client, 'ReceiveGroupMessage', ([group, , message]) => group === g2 && message === 'in g2');
  await client.connection.invoke('LeaveGroup', g1);
  await client.connection.invoke('JoinGroup', g3);
  assert.equal(await metric(server, 'switchboard_limit_rejections_total{limit="groups_per_connection"}'), 1);
});

test('GET /metrics exports connection, message and byte counters in Prometheus text format', async (t) => {
  const server = await serverFor(t);
  const before = await scrape(server);
  assert.equal(before.response.status, 200);
  assert.match(before.response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.match(before.text, /^# HELP switchboard_connections /m);
  assert.match(before.text, /^# TYPE switchboard_connections gauge$/m);
  assert.match(before.text, /^# TYPE switchboard_limit_rejections_total counter$/m);
  assert.equal(before.values['switchboard_connections{transport="websockets"}'], 0);
  assert.equal(before.values['switchboard_slow_consumer_disconnects_total'], 0);
  assert.equal(before.values['switchboard_backplane_publish_drops_total'], 0);
  assert.equal(before.values['switchboard_backplane_rejected_messages_total'], 0);

  const a = await clientFor(t, server.url, unique('m'));
  const b = await clientFor(t, server.url, unique('m'));
  const marker = unique('metrics');
  await a.connection.invoke('SendMessage', marker);
  await waitForEvent(b, 'ReceiveMessage', ([, m]) => m === marker);
  const during = (await scrape(server)).values;
  assert.equal(during['switchboard_connections{transport="websockets"}'], 2);
  assert.equal(during['switchboard_connections_opened_total{transport="websockets"}'], 2);
  assert.ok(during['switchboard_messages_received_total'] >= before.values['switchboard_messages_received_total'] + 1);
  // Handshake answers, the join notice and the message to both, the completion.
  assert.ok(during['switchboard_messages_sent_total'] >= 5, `sent ${during['switchboard_messages_sent_total']}`);
  assert.ok(during['switchboard_bytes_sent_total'] > before.values['switchboard_bytes_sent_total']);

  await a.stop();
  await b.stop();
  await waitFor(async () => (await metric(server, 'switchboard_connections{transport="websockets"}')) === 0, 5_000,
    { message: 'the gauge to fall back to 0' });
  assert.equal(await metric(server, 'switchboard_connections_opened_total{transport="websockets"}'), 2);

  const sse = await clientFor(t, server.url, unique('sse'), { transport: 2 });
  assert.equal(await metric(server, 'switchboard_connections{transport="server_sent_events"}'), 1);
  await sse.stop();
});
