// Stateful reconnect (§12): a client built withStatefulReconnect() whose socket drops while the
// server keeps sending gets every message exactly once and in order, on the same connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';
import { RS, clientFor, rawSocket, serverFor, unique, waitFor } from './server.mjs';

function statefulClient(t, baseUrl, user) {
  const connection = new HubConnectionBuilder()
    .withUrl(`${baseUrl}/hubs/chat?user=${user}`, { transport: HttpTransportType.WebSockets })
    .withStatefulReconnect()
    .configureLogging(LogLevel.None)
    .build();
  const received = [];
  const closes = [];
  connection.on('ReceiveMessage', (_user, message) => received.push(message));
  connection.onclose((error) => closes.push(error ?? null));
  t.after(() => connection.stop());
  return { connection, received, closes };
}

// Drops the client's TCP connection without a WebSocket close frame, as a network failure does.
function dropSocket(connection) {
  const socket = connection.connection.transport._webSocket;
  assert.ok(socket?._socket, 'the Node client exposes its ws socket');
  socket._socket.destroy();
}

test('a dropped socket resumes without losing or duplicating messages', async (t) => {
  const server = await serverFor(t);
  const listener = statefulClient(t, server.url, unique('listener'));
  await listener.connection.start();
  const idBefore = listener.connection.connectionId;
  const sender = await clientFor(t, server.url, unique('sender'));

  const tag = unique('seq');
  const total = 200;
  for (let i = 0; i < total; i++) {
    await sender.connection.invoke('SendMessage', `${tag}-${i}`);
    if (i === 50 || i === 120) dropSocket(listener.connection);
  }
  const mine = () => listener.received.filter((m) => m.startsWith(tag));
  await waitFor(() => mine().length >= total, 10_000, {
    message: () => `${total} messages; got ${mine().length}`,
  });
  assert.deepEqual(mine(), Array.from({ length: total }, (_, i) => `${tag}-${i}`));
  assert.equal(listener.connection.connectionId, idBefore, 'same connection after resuming');
  assert.equal(listener.closes.length, 0);

  // The resumed connection still sends: the server acks and answers its invocations.
  const after = unique('after');
  await listener.connection.invoke('SendMessage', after);
  await waitFor(() => listener.received.includes(after));
});

test('negotiate offers stateful reconnect only when the client asks', async (t) => {
  const server = await serverFor(t);
  const plain = await (await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
  assert.equal(plain.useStatefulReconnect, undefined);
  const asked = await (await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1&useStatefulReconnect=true`,
    { method: 'POST' })).json();
  assert.equal(asked.useStatefulReconnect, true);
  assert.equal(Object.keys(asked)[0], 'useStatefulReconnect');
});

test('without stateful reconnect a dropped socket closes the connection', async (t) => {
  const server = await serverFor(t);
  const client = await clientFor(t, server.url, unique('plain'));
  const watcher = await clientFor(t, server.url, unique('watcher'));
  client.connection.connection.transport._webSocket._socket.destroy();
  await waitFor(() => client.closes.length > 0);
  await waitFor(() => watcher.events.UserDisconnected.some(([user]) => user === client.user));
});

test('a Sequence beyond what the server received is a protocol error', async (t) => {
  const server = await serverFor(t, ['--detailed-errors']);
  const negotiated = await (await fetch(
    `${server.url}/hubs/chat/negotiate?negotiateVersion=1&useStatefulReconnect=true`, { method: 'POST' })).json();
  const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat?id=${negotiated.connectionToken}`);
  t.after(() => socket.close());
  assert.equal(await socket.handshake({ protocol: 'json', version: 2 }), '{}');
  await socket.send(`{"type":9,"sequenceId":5}${RS}`);
  const close = await socket.waitForMessage((m) => m.type === 7);
  assert.match(close.error, /Sequence ID greater than amount of messages we've received\./);
});
