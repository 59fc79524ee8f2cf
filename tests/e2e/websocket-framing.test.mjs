// RFC 6455 as the server implements it (src/transport/websocket_frame.*): the opening handshake,
// control frames, fragmentation and the ways a client can break the protocol, over a plain TCP
// socket so that every byte is ours.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { RS, startServer, waitFor } from './server.mjs';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A masked client frame. */
function frame(opcode, payload, { fin = true, rsv = 0, masked = true } = {}) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  let header;
  if (body.length < 126) {
    header = Buffer.from([(fin ? 0x80 : 0) | rsv | opcode, (masked ? 0x80 : 0) | body.length]);
  } else if (body.length <= 0xffff) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | rsv | opcode;
    header[1] = (masked ? 0x80 : 0) | 126;
    header.writeUInt16BE(body.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | rsv | opcode;
    header[1] = (masked ? 0x80 : 0) | 127;
    header.writeBigUInt64BE(BigInt(body.length), 2);
  }
  if (!masked) return Buffer.concat([header, body]);
  const mask = crypto.randomBytes(4);
  return Buffer.concat([header, mask, Buffer.from(body.map((b, i) => b ^ mask[i % 4]))]);
}

/** A raw socket that has sent the upgrade request; collects the response and the server's frames. */
function rawClient(port, { path = '/hubs/chat', version = '13', key = KEY } = {}) {
  const socket = net.connect(port, '127.0.0.1');
  const state = { head: '', frames: [], ended: false, buffer: Buffer.alloc(0), socket };
  socket.on('data', (chunk) => {
    state.buffer = Buffer.concat([state.buffer, chunk]);
    if (!state.head) {
      const end = state.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      state.head = state.buffer.subarray(0, end + 4).toString();
      state.buffer = state.buffer.subarray(end + 4);
    }
    // Server frames are never masked.
    for (;;) {
      const b = state.buffer;
      if (b.length < 2) return;
      let length = b[1] & 0x7f;
      let offset = 2;
      if (length === 126) { if (b.length < 4) return; length = b.readUInt16BE(2); offset = 4; }
      if (length === 127) { if (b.length < 10) return; length = Number(b.readBigUInt64BE(2)); offset = 10; }
      if (b.length < offset + length) return;
      state.frames.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload: b.subarray(offset, offset + length) });
      state.buffer = b.subarray(offset + length);
    }
  });
  socket.on('close', () => { state.ended = true; });
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    (key === null ? '' : `Sec-WebSocket-Key: ${key}\r\n`) + `Sec-WebSocket-Version: ${version}\r\n\r\n`);
  return state;
}

const text = (f) => f.payload.toString();
const closeCode = (f) => f.payload.readUInt16BE(0);

describe('WebSocket framing (RFC 6455)', () => {
  let server;
  // Above the 32 KB default, so that one hub message can need a 64-bit frame length.
  before(async () => { server = await startServer(['--max-message-size', '262144']); });
  after(() => server?.stop());

  function open(t, options) {
    const client = rawClient(server.port, options);
    t.after(() => client.socket.destroy());
    return client;
  }

  async function handshaken(t) {
    const client = open(t);
    await waitFor(() => client.head.startsWith('HTTP/1.1 101'), 5_000, { message: 'the 101' });
    client.socket.write(frame(1, `{"protocol":"json","version":1}${RS}`));
    await waitFor(() => client.frames.length > 0, 5_000, { message: 'the handshake answer' });
    assert.equal(text(client.frames[0]), `{}${RS}`);
    return client;
  }

  test('the 101 carries the Sec-WebSocket-Accept of RFC 6455 1.3', async (t) => {
    const client = open(t);
    await waitFor(() => client.head !== '', 5_000, { message: 'the response' });
    assert.match(client.head, /^HTTP\/1\.1 101 /);
    assert.match(client.head, /\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/i);
    assert.match(client.head, /\r\nUpgrade: websocket\r\n/i);
  });

  test('another protocol version gets 426 with the version we speak; a bad key gets 400', async (t) => {
    const old = open(t, { version: '8' });
    await waitFor(() => old.head !== '', 5_000, { message: 'the 426' });
    assert.match(old.head, /^HTTP\/1\.1 426 /);
    assert.match(old.head, /\r\nSec-WebSocket-Version: 13\r\n/i);
    for (const key of [null, 'short', 'dGhlIHNhbXBsZQ==']) {
      const bad = open(t, { key });
      await waitFor(() => bad.head !== '', 5_000, { message: `the 400 for key ${key}` });
      assert.match(bad.head, /^HTTP\/1\.1 400 /, `key ${key}`);
    }
  });

  test('a Ping is answered with a Pong carrying its payload', async (t) => {
    const client = await handshaken(t);
    client.socket.write(frame(9, 'are you there'));
    await waitFor(() => client.frames.some((f) => f.opcode === 10), 5_000, { message: 'the Pong' });
    assert.equal(text(client.frames.find((f) => f.opcode === 10)), 'are you there');
  });

  test('a message in three fragments with a Ping between them is one invocation', async (t) => {
    const client = await handshaken(t);
    const invocation = `{"type":1,"invocationId":"7","target":"SendMessage","arguments":["fragmented"]}${RS}`;
    client.socket.write(Buffer.concat([
      frame(1, invocation.slice(0, 10), { fin: false }),
      frame(9, 'mid'),
      frame(0, invocation.slice(10, 40), { fin: false }),
      frame(0, invocation.slice(40)),
    ]));
    await waitFor(() => client.frames.some((f) => text(f).includes('"invocationId":"7"')), 5_000,
      { message: 'the completion' });
    assert.ok(client.frames.some((f) => f.opcode === 10 && text(f) === 'mid'));
  });

  test('a 100 KB frame (64-bit length) is read', async (t) => {
    const client = await handshaken(t);
    const big = 'x'.repeat(100_000);
    client.socket.write(frame(1, `{"type":1,"invocationId":"8","target":"SendMessage","arguments":["${big}"]}${RS}`));
    await waitFor(() => client.frames.some((f) => text(f).includes('"invocationId":"8"')), 5_000,
      { message: 'the completion' });
    // The chat hub refuses text that long by name: proof that the whole argument arrived.
    const completion = text(client.frames.find((f) => text(f).includes('"invocationId":"8"')));
    assert.match(completion, /Message exceeds/);
    assert.equal(client.ended, false);
  });

  for (const [name, bytes] of [
    ['an unmasked frame', () => frame(1, 'hi', { masked: false })],
    ['a reserved bit', () => frame(1, 'hi', { rsv: 0x40 })],
    ['an unknown opcode', () => frame(3, 'hi')],
    ['a fragmented Ping', () => frame(9, 'hi', { fin: false })],
    ['a continuation with no message', () => frame(0, 'hi')],
  ]) {
    test(`${name} fails the connection with Close 1002, then the socket closes`, async (t) => {
      const client = await handshaken(t);
      client.socket.write(bytes());
      await waitFor(() => client.ended, 5_000, { message: 'the socket to close' });
      const close = client.frames.find((f) => f.opcode === 8);
      assert.ok(close, 'a Close frame');
      assert.equal(closeCode(close), 1002);
      assert.ok(text(close).length > 2, 'the Close says why');
    });
  }

  test('a client Close is echoed with its code, then the server closes the socket', async (t) => {
    const client = await handshaken(t);
    const payload = Buffer.alloc(5);
    payload.writeUInt16BE(4001, 0);
    payload.write('bye', 2);
    client.socket.write(frame(8, payload));
    await waitFor(() => client.ended, 5_000, { message: 'the socket to close' });
    const close = client.frames.find((f) => f.opcode === 8);
    assert.ok(close, 'a Close frame');
    assert.equal(closeCode(close), 4001);
  });

  test('the server still chats after every one of these', async (t) => {
    await handshaken(t);
  });
});
