// Scenario 5: raw WebSocket to /hubs/chat without an id (the skipNegotiation path): handshake and framing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RS, rawSocket, startServer, unique, waitFor } from './server.mjs';

describe('raw WebSocket protocol', () => {
  let server;
  let wsUrl;
  before(async () => {
    server = await startServer();
    wsUrl = `${server.url.replace(/^http/, 'ws')}/hubs/chat`;
  });
  after(() => server?.stop());

  function open(t) {
    const socket = rawSocket(wsUrl);
    t.after(() => socket.close());
    return socket;
  }

  /** Every frame the server sent is a Text frame holding only complete, 0x1E-terminated messages (§3.2). */
  function assertWellFramed(socket) {
    for (const frame of socket.frames) {
      assert.equal(frame.isBinary, false, 'JSON protocol messages must be sent in Text frames');
      assert.ok(frame.data.endsWith(RS), `frame does not end with 0x1E: ${JSON.stringify(frame.data)}`);
    }
  }

  test('an unsupported protocol gets the exact handshake error, then the socket closes', async (t) => {
    const socket = open(t);
    await socket.send(`{"protocol":"foo","version":1}${RS}`);
    await waitFor(() => socket.frames.length > 0, 5_000, { message: 'handshake response' });
    assert.equal(socket.frames[0].data, `{"error":"The protocol 'foo' is not supported."}${RS}`);
    assert.equal(socket.frames[0].isBinary, false);
    await socket.closed;
    assert.equal(socket.messages.length, 1, `unexpected messages after the error: ${JSON.stringify(socket.messages)}`);
  });

  test('a handshake without version gets the generic handshake error, then the socket closes', async (t) => {
    const socket = open(t);
    await socket.send(`{"protocol":"json"}${RS}`);
    await waitFor(() => socket.frames.length > 0, 5_000, { message: 'handshake response' });
    const reply = socket.frames[0].data;
    assert.ok(reply.startsWith('{"error":"An unexpected error occurred during connection handshake.'), reply);
    assert.ok(reply.endsWith(RS));
    assert.ok(JSON.parse(reply.slice(0, -1)).error, 'the error reply must be valid JSON');
    await socket.closed;
  });

  test('an unsupported protocol version is refused', async (t) => {
    const socket = open(t);
    await socket.send(`{"protocol":"json","version":99}${RS}`);
    await waitFor(() => socket.frames.length > 0, 5_000, { message: 'handshake response' });
    assert.equal(socket.frames[0].data, `{"error":"The server does not support version 99 of the 'json' protocol."}${RS}`);
    await socket.closed;
  });

  test('a valid handshake is answered with exactly {}\\u001e in a Text frame', async (t) => {
    const socket = open(t);
    await socket.send(`{"protocol":"json","version":1}${RS}`);
    await waitFor(() => socket.frames.length > 0, 5_000, { message: 'handshake response' });
    assert.equal(socket.frames[0].data, `{}${RS}`);
    assert.equal(socket.frames[0].isBinary, false);
    assert.equal(socket.isClosed, false);
  });

  test('a handshake split over several frames is reassembled', async (t) => {
    const socket = open(t);
    await socket.send('{"protocol":');
    await socket.send('"json","ver');
    await socket.send(`sion":1}${RS}`);
    await waitFor(() => socket.messages.length > 0, 5_000, { message: 'handshake response' });
    assert.equal(socket.messages[0], '{}');
  });

  test('a handshake and an invocation in one frame are both processed, in order', async (t) => {
    const socket = open(t);
    const text = unique('same frame');
    await socket.send(`{"protocol":"json","version":1}${RS}{"type":1,"invocationId":"7","target":"SendMessage","arguments":["${text}"]}${RS}`);
    const completion = await socket.waitForMessage((m) => m.type === 3);
    assert.equal(socket.messages[0], '{}');
    assert.deepEqual(completion, { type: 3, invocationId: '7', result: null });
    const broadcast = await socket.waitForMessage((m) => m.type === 1 && m.target === 'ReceiveMessage');
    assert.equal(broadcast.arguments[1], text);
    assert.equal(broadcast.invocationId, undefined, 'server-to-client calls carry no invocationId');
    assertWellFramed(socket);
  });

  test('the exact Completion for a void method is {"type":3,"invocationId":"1","result":null}', async (t) => {
    const socket = open(t);
    assert.equal(await socket.handshake(), '{}');
    // The JS client writes "type" last: property order must not matter.
    await socket.send(`{"target":"JoinGroup","arguments":["${unique('g')}"],"invocationId":"1","type":1}${RS}`);
    await waitFor(() => socket.messages.includes('{"type":3,"invocationId":"1","result":null}'), 5_000, {
      message: () => `the exact completion; got ${JSON.stringify(socket.messages)}`,
    });
    assertWellFramed(socket);
  });

  test('an invocation split across frames, and two in one frame, are handled as one byte stream', async (t) => {
    const socket = open(t);
    assert.equal(await socket.handshake(), '{}');
    await socket.send('{"type":1,"invocationId":"a","target":"Send');
    await socket.send(`Message","arguments":["${unique('split')}"]}${RS}{"type":1,"invocationId":"b","target":"SendMessage","arguments":["x"]}`);
    await socket.send(RS);
    await waitFor(() => socket.parsed().filter((m) => m.type === 3).length === 2, 5_000, { message: 'two completions' });
    assert.deepEqual(socket.parsed().filter((m) => m.type === 3).map((m) => m.invocationId), ['a', 'b']);
  });

  test('JSON sent in a Binary frame is accepted (frame type is ignored on input)', async (t) => {
    const socket = open(t);
    assert.equal(await socket.handshake(), '{}');
    await socket.send(`{"type":1,"invocationId":"bin","target":"SendMessage","arguments":["${unique('binary')}"]}${RS}`, { binary: true });
    const completion = await socket.waitForMessage((m) => m.type === 3);
    assert.deepEqual(completion, { type: 3, invocationId: 'bin', result: null });
    assertWellFramed(socket);
  });

  test('an invocation without invocationId gets no Completion; unknown message types are ignored', async (t) => {
    const socket = open(t);
    assert.equal(await socket.handshake(), '{}');
    await socket.send(`{"type":1,"target":"SendMessage","arguments":["${unique('fire and forget')}"]}${RS}`);
    await socket.send(`{"type":1,"target":"Nope","arguments":[]}${RS}`);
    await socket.send(`{"type":99,"whatever":true}${RS}`);
    await socket.send(`{"type":1,"invocationId":"last","target":"SendMessage","arguments":["${unique('marker')}"]}${RS}`);
    await socket.waitForMessage((m) => m.type === 3 && m.invocationId === 'last');
    const completions = socket.parsed().filter((m) => m.type === 3);
    assert.deepEqual(completions.map((m) => m.invocationId), ['last'], 'id-less invocations must not be answered');
    assert.equal(socket.parsed().filter((m) => m.type === 7).length, 0);
  });

  test('malformed JSON after the handshake ends the connection with a Close error', async (t) => {
    const socket = open(t);
    assert.equal(await socket.handshake(), '{}');
    await socket.send(`{"type":1,"target":${RS}`);
    const close = await socket.waitForMessage((m) => m.type === 7);
    assert.equal(close.error, 'Connection closed with an error.');
    await socket.closed;
  });

  test('a client Close message is answered with {"type":7} and a normal close', async (t) => {
    const socket = open(t);
    assert.equal(await socket.handshake(), '{}');
    await socket.send(`{"type":7}${RS}`);
    const close = await socket.waitForMessage((m) => m.type === 7);
    assert.deepEqual(close, { type: 7 });
    const { code } = await socket.closed;
    assert.equal(code, 1000);
  });
});
