// Scenario 4: --max-message-size; a message over the limit ends the connection with a Close error (§10).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState } from '@microsoft/signalr';
import { RS, clientFor, rawSocket, startServer, unique, waitFor, waitForEvent } from './server.mjs';

describe('--max-message-size 1024', () => {
  let server;
  before(async () => {
    // Lift the chat length limit so only the transport-level limit is under test.
    server = await startServer(['--max-message-size', '1024', '--chat-max-message-length', '100000']);
  });
  after(() => server?.stop());

  test('a message that fits is delivered', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    const text = unique('fits') + 'a'.repeat(800);
    await client.connection.invoke('SendMessage', text);
    await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text);
    assert.equal(client.connection.state, HubConnectionState.Connected);
  });

  test('a 4000-character SendMessage closes the connection with "Connection closed with an error."', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    const invocation = client.connection.invoke('SendMessage', 'x'.repeat(4000));
    await assert.rejects(invocation, Error);
    await waitFor(() => client.closes.length > 0, 5_000, { message: 'onclose' });
    assert.equal(client.closes.length, 1);
    assert.ok(client.closes[0] instanceof Error, 'onclose must carry an error');
    assert.equal(client.closes[0].message, 'Server returned an error on close: Connection closed with an error.');
    assert.equal(client.connection.state, HubConnectionState.Disconnected);
    assert.equal(countReceived(client), 0, 'the oversized message must not be delivered');
  });

  test('raw: an unterminated message longer than the limit gets a Close error and the socket closes', async (t) => {
    const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat`);
    t.after(() => socket.close());
    assert.equal(await socket.handshake(), '{}');
    // No record separator: the server must not buffer without bound waiting for one.
    await socket.send(`{"type":1,"target":"SendMessage","arguments":["${'y'.repeat(2000)}`);
    const close = await socket.waitForMessage((m) => m.type === 7);
    assert.equal(close.error, 'Connection closed with an error.');
    await socket.closed;
  });

  test('raw: many small messages in one frame are fine even when the frame exceeds the limit', async (t) => {
    const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat`);
    t.after(() => socket.close());
    assert.equal(await socket.handshake(), '{}');
    // 40 invocations of ~70 bytes each = ~2.8 KB in one WebSocket frame; each message is far below 1024 B.
    const tag = unique('batch');
    let frame = '';
    for (let i = 0; i < 40; i++) {
      frame += JSON.stringify({ type: 1, invocationId: String(i), target: 'SendMessage', arguments: [`${tag}-${i}`] }) + RS;
    }
    assert.ok(frame.length > 2048);
    await socket.send(frame);
    await waitFor(() => socket.parsed().filter((m) => m.type === 3).length === 40, 5_000, {
      message: () => `40 completions; got ${socket.parsed().filter((m) => m.type === 3).length}`,
    });
    const ids = socket.parsed().filter((m) => m.type === 3).map((m) => m.invocationId);
    assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => String(i)), 'completions must come in order');
    assert.equal(socket.parsed().filter((m) => m.type === 7).length, 0, 'the connection was closed');
  });
});

function countReceived(client) {
  return client.events.ReceiveMessage.filter(([, m]) => m.length >= 4000).length;
}
