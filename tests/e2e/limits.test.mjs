// Limits: HTTP header and body sizes get clear 4xx answers; a client that stops reading is
// dropped as a slow consumer once its bounded send queue overflows, and others are unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RS, clientFor, rawSocket, serverFor, unique, waitFor, waitForEvent } from './server.mjs';

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
  const server = await serverFor(t, ['--send-queue-limit', '262144', '--chat-max-message-length', '10000']);
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

  const marker = unique('after');
  await sender.connection.invoke('SendMessage', marker);
  await waitForEvent(watcher, 'ReceiveMessage', ([, message]) => message === marker);
  assert.equal(watcher.closes.length, 0);
  assert.equal(sender.closes.length, 0);
});
