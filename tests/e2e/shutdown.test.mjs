// Scenario 7: SIGTERM drains connections with Close{allowReconnect:true}; clients reconnect to a new server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RS, clientFor, rawSocket, serverFor, startServer, unique, waitFor, waitForEvent, withTimeout } from './server.mjs';

test('SIGTERM: the server tells clients to reconnect, exits 0, and clients reconnect to its successor', async (t) => {
  const first = await serverFor(t);
  const client = await clientFor(t, first.url, 'survivor', {
    reconnect: { nextRetryDelayInMilliseconds: () => 100 },
  });
  const firstId = client.connection.connectionId;

  const signalled = Date.now();
  first.process.kill('SIGTERM');
  await waitFor(() => client.reconnecting.length > 0, 5_000, { message: 'onreconnecting' });
  const exit = await withTimeout(first.exited, 5_000 - (Date.now() - signalled));
  assert.ok(exit, 'the server did not exit within 5 s of SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.deepEqual(client.closes, [], 'the client must reconnect, not close');

  const second = await serverFor(t, [], { port: first.port });
  assert.equal(second.port, first.port);
  await waitFor(() => client.reconnected.length > 0, 5_000, { message: 'onreconnected' });
  assert.equal(typeof client.reconnected[0], 'string');
  assert.notEqual(client.reconnected[0], firstId, 'a reconnect to a new server gets a new connection id');

  const text = unique('back again');
  await client.connection.invoke('SendMessage', text);
  assert.deepEqual(await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text), ['survivor', text]);
  assert.deepEqual(client.closes, []);
});

test('SIGTERM: a raw connection receives {"type":7,"allowReconnect":true} before the socket closes', async (t) => {
  const server = await serverFor(t);
  const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat`);
  t.after(() => socket.close());
  assert.equal(await socket.handshake(), '{}');
  await socket.send(`{"type":6}${RS}`);

  server.process.kill('SIGTERM');
  const close = await socket.waitForMessage((m) => m.type === 7);
  assert.equal(close.allowReconnect, true);
  assert.equal(close.error, undefined, 'a graceful shutdown is not an error');
  const { code } = await socket.closed;
  assert.equal(code, 1000);
  const exit = await withTimeout(server.exited, 5_000);
  assert.deepEqual(exit, { code: 0, signal: null });
});

test('SIGTERM with no connections exits 0 promptly', async (t) => {
  const server = await serverFor(t);
  const started = Date.now();
  server.process.kill('SIGTERM');
  const exit = await withTimeout(server.exited, 5_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - started < 5_000);
});

test('SIGTERM with a client that never answers the close: exit 0 after the drain timeout', async (t) => {
  const server = await startServer(['--drain-timeout', '300ms']);
  t.after(() => server.stop());
  // A WebSocket client that completes the upgrade and then stops reading and answering.
  const socket = net.connect(server.port, '127.0.0.1');
  t.after(() => socket.destroy());
  let upgraded = '';
  socket.on('data', (chunk) => { upgraded += chunk; });
  socket.write('GET /hubs/chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await waitFor(() => upgraded.startsWith('HTTP/1.1 101'));
  socket.pause();
  server.process.kill('SIGTERM');
  const exit = await withTimeout(server.exited, 5_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(server.stdout() + server.stderr(), /drain timeout: dropping 1 connection/);
});
