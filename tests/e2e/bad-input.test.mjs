// The bad-input suite (issue #5, docs/security.md): hostile and malformed input against real server
// processes. Each case asserts the clear answer the server gives; the last ones assert that the
// server still serves a normal client and that its memory came back near where it started.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, RS, clientFor, rawSocket, startBinary, startServer, unique, waitFor } from './server.mjs';

/** Resident memory of a process, bytes (VmRSS). */
function rss(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.match(/(\d+)/)[1]) * 1024;
}

/** A raw WebSocket to `url`, closed when the test ends. */
function socketFor(t, url) {
  const socket = rawSocket(url);
  t.after(() => socket.close());
  return socket;
}

/** A MessagePack frame: varint length prefix, then the bytes. */
function varint(length) {
  const bytes = [];
  do {
    let byte = length & 0x7f;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

const invocation = (id, target, args, extra = {}) =>
  JSON.stringify({ type: 1, invocationId: id, target, arguments: args, ...extra }) + RS;

/** The completion for `id` among the socket's parsed messages. */
const completionOf = (socket, id, timeoutMs) =>
  socket.waitForMessage((m) => m.type === 3 && m.invocationId === id, timeoutMs);

const REST_KEY = 'bad-input-rest-access-key-0123456789abcdef';

/** An access-key token for a REST call to `path` on 127.0.0.1 (the audience the API checks). */
function restToken(path) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ nbf: now, iat: now, exp: now + 600, aud: `http://127.0.0.1${path}` })}`;
  return `${body}.${createHmac('sha256', REST_KEY).update(body).digest('base64url')}`;
}

describe('bad input against the chat server', () => {
  let server;
  let wsUrl;
  let baseline;
  const GROUP_LIMIT = 100;
  const IP_LIMIT = 300;

  before(async () => {
    server = await startServer(['--access-key', REST_KEY, '--max-groups-per-connection', String(GROUP_LIMIT),
      '--max-connections-per-ip', String(IP_LIMIT), '--max-messages-per-second', '100000']);
    wsUrl = `${server.url.replace(/^http/, 'ws')}/hubs/chat`;
    // Warm up the allocator and the shards with one normal client, then take the baseline.
    const warm = rawSocket(wsUrl);
    assert.equal(await warm.handshake(), '{}');
    await warm.close();
    baseline = rss(server.process.pid);
  });
  after(() => server?.stop());

  /** A raw socket that completed the JSON handshake. */
  async function joined(t) {
    const socket = socketFor(t, wsUrl);
    assert.equal(await socket.handshake(), '{}');
    return socket;
  }

  test('bytes before the handshake: a handshake error, then the socket closes', async (t) => {
    const socket = socketFor(t, wsUrl);
    await socket.send(`GET / HTTP/1.1\r\nHost: x\r\n\r\n${RS}`);
    await waitFor(() => socket.messages.length > 0, 5_000, { message: 'a handshake answer' });
    assert.match(JSON.parse(socket.messages[0]).error, /handshake/);
    await socket.closed;
  });

  test('an unknown protocol is refused by name', async (t) => {
    const socket = socketFor(t, wsUrl);
    await socket.send(`{"protocol":"xml","version":1}${RS}`);
    await waitFor(() => socket.messages.length > 0);
    assert.equal(JSON.parse(socket.messages[0]).error, "The protocol 'xml' is not supported.");
    await socket.closed;
  });

  test('protocol version 99 is refused', async (t) => {
    const socket = socketFor(t, wsUrl);
    await socket.send(`{"protocol":"json","version":99}${RS}`);
    await waitFor(() => socket.messages.length > 0);
    assert.equal(JSON.parse(socket.messages[0]).error, "The server does not support version 99 of the 'json' protocol.");
    await socket.closed;
  });

  test('a MessagePack length prefix of 2 GB closes the connection before buffering it', async (t) => {
    const socket = socketFor(t, wsUrl);
    await socket.send(`{"protocol":"messagepack","version":1}${RS}`);
    await waitFor(() => socket.frames.length > 0, 5_000, { message: 'the handshake answer' });
    assert.equal(socket.frames[0].data.toString(), `{}${RS}`);
    await socket.send(Buffer.concat([varint(2 ** 31), Buffer.alloc(64, 0x90)]), { binary: true });
    await socket.closed;
    // The server sent a Close message (MessagePack array [7, error, allowReconnect]) first.
    const binary = socket.frames.filter((f) => f.isBinary).map((f) => f.data);
    assert.ok(binary.some((frame) => frame.includes(Buffer.from('Connection closed with an error.'))),
      'a Close with an error');
  });

  test('deeply nested JSON closes the connection with an error, nothing else', async (t) => {
    const socket = await joined(t);
    const depth = 5_000;
    await socket.send(`{"type":1,"target":"SendMessage","arguments":[${'['.repeat(depth)}${']'.repeat(depth)}]}${RS}`);
    const close = await socket.waitForMessage((m) => m.type === 7);
    assert.match(close.error, /Connection closed with an error/);
    await socket.closed;
  });

  test('invalid UTF-8 in a text frame closes the socket (RFC 6455 1007)', async (t) => {
    const socket = await joined(t);
    // ws refuses to send invalid UTF-8 as text, so write the frame by hand on its socket.
    const payload = Buffer.concat([Buffer.from('{"type":1,"target":"SendMessage","arguments":["'),
      Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(`"]}${RS}`)]);
    const mask = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    socket.ws._socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
    const { code } = await socket.closed;
    assert.equal(code, 1007);
  });

  test('invalid UTF-8 in a MessagePack string reaches JSON clients as U+FFFD', async (t) => {
    const listener = await joined(t);
    const sender = socketFor(t, wsUrl);
    await sender.send(`{"protocol":"messagepack","version":1}${RS}`);
    await waitFor(() => sender.frames.length > 0, 5_000, { message: 'the handshake answer' });
    const marker = unique('utf8');
    const text = Buffer.concat([Buffer.from([0xff]), Buffer.from(marker)]);
    // [1, {}, "1", "SendMessage", [text], []]
    const body = Buffer.concat([Buffer.from([0x96, 0x01, 0x80, 0xa1, 0x31, 0xab]), Buffer.from('SendMessage'),
      Buffer.from([0x91, 0xd9, text.length]), text, Buffer.from([0x90])]);
    await sender.send(Buffer.concat([varint(body.length), body]), { binary: true });
    const received = await listener.waitForMessage((m) => m.type === 1 && String(m.arguments?.[1]).endsWith(marker));
    assert.equal(received.arguments[1], `\uFFFD${marker}`);
    assert.equal(listener.isClosed, false);
  });

  test('an unknown method gets a Completion error and the connection stays usable', async (t) => {
    const socket = await joined(t);
    await socket.send(invocation('1', 'DropDatabase', []));
    assert.equal((await completionOf(socket, '1')).error, "Unknown hub method 'DropDatabase'");
    await socket.send(invocation('2', 'JoinGroup', [unique('g')]));
    assert.equal((await completionOf(socket, '2')).error, undefined);
  });

  test('wrong argument count and types get binding errors', async (t) => {
    const socket = await joined(t);
    await socket.send(invocation('1', 'SendMessage', []));
    await socket.send(invocation('2', 'SendMessage', ['a', 'b']));
    await socket.send(invocation('3', 'SendMessage', [{ not: 'a string' }]));
    for (const id of ['1', '2', '3']) {
      assert.equal((await completionOf(socket, id)).error,
        "Failed to invoke 'SendMessage' due to an error on the server.");
    }
  });

  test('a Completion for an unknown invocation is ignored', async (t) => {
    const socket = await joined(t);
    await socket.send(JSON.stringify({ type: 3, invocationId: 'never-sent', result: 1 }) + RS);
    await socket.send(invocation('1', 'JoinGroup', [unique('g')]));
    assert.equal((await completionOf(socket, '1')).error, undefined);
    assert.ok(!socket.parsed().some((m) => m.type === 7), 'no Close');
  });

  test(`10,000 group joins: ${GROUP_LIMIT} succeed, the rest are refused, the connection stays`, async (t) => {
    const socket = await joined(t);
    const prefix = unique('flood');
    const total = 10_000;
    const batch = 200;
    for (let start = 0; start < total; start += batch) {
      let frame = '';
      for (let i = start; i < start + batch; i++) frame += invocation(String(i), 'JoinGroup', [`${prefix}-${i}`]);
      await socket.send(frame);
      await completionOf(socket, String(start + batch - 1), 10_000);
    }
    const completions = socket.parsed().filter((m) => m.type === 3);
    assert.equal(completions.length, total);
    const refused = completions.filter((m) => m.error);
    assert.equal(total - refused.length, GROUP_LIMIT);
    assert.match(refused[0].error, /group/i);
  });

  test(`1,000 connections from one IP: ${IP_LIMIT} accepted, the rest refused with 429`, async (t) => {
    const sockets = [];
    t.after(() => Promise.all(sockets.map((s) => s.close())));
    const statuses = await Promise.all(Array.from({ length: 1_000 }, () => new Promise((resolve) => {
      const socket = rawSocket(wsUrl);
      sockets.push(socket);
      socket.ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode);
        socket.ws.terminate();
      });
      socket.opened.then(() => resolve('open'), () => resolve('error'));
    })));
    const opened = statuses.filter((s) => s === 'open').length;
    assert.ok(opened <= IP_LIMIT, `${opened} opened`);
    assert.ok(opened >= IP_LIMIT - 5, `${opened} opened`); // a few may still be closing from other tests
    assert.equal(statuses.filter((s) => s === 429).length, 1_000 - opened);
  });

  test('headers and bodies over the limits get 431 and 413, and the socket is not kept', async () => {
    const exchange = (request) => new Promise((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.write(request));
      let response = '';
      socket.on('data', (chunk) => { response += chunk; });
      socket.on('close', () => resolve(response));
      socket.on('error', () => resolve(response));
    });
    assert.match(await exchange(`GET /hubs/chat HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(64 * 1024)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
    assert.match(await exchange(`POST /hubs/chat?id=x HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024}\r\n\r\n${'b'.repeat(1024)}`),
      /^HTTP\/1\.1 413 /);
  });

  test('REST API: hostile names, bodies and tokens get clear 4xx answers', async () => {
    const exchange = (method, target, body = '', { token = restToken(target.split('?')[0]), extra = '' } = {}) =>
      new Promise((resolve) => {
        const socket = net.connect(server.port, '127.0.0.1', () => socket.write(
          `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`));
        let response = '';
        socket.on('data', (chunk) => { response += chunk; });
        socket.on('close', () => resolve(response));
        socket.on('error', () => resolve(response));
      });
    const status = async (...args) => Number((await exchange(...args)).slice(9, 12));
    const send = { target: 'x', arguments: [] };
    assert.equal(await status('POST', '/api/hubs/chat/:send', JSON.stringify(send)), 202);
    assert.equal(await status('POST', '/api/hubs/chat/:send', '{"target":'), 400);
    assert.equal(await status('POST', '/api/hubs/chat/:send', '{"arguments":[]}'), 400);
    assert.equal(await status('POST', '/api/hubs/chat/:send', `${'['.repeat(10_000)}`), 400);
    assert.equal(await status('POST', '/api/hubs/chat/groups/a%00b/:send', JSON.stringify(send)), 400);
    assert.equal(await status('POST', '/api/hubs/chat/groups/../:send', JSON.stringify(send)), 400);
    assert.equal(await status('POST', '/api/hubs/chat/groups/%2e%2e/:send', JSON.stringify(send)), 400);
    assert.equal(await status('POST', '/api/hubs/chat/users/%FF/:send', JSON.stringify(send)), 400);
    assert.equal(await status('POST', '/api/hubs/chat/groups/a/b/:send', JSON.stringify(send)), 404);
    assert.equal(await status('POST', '/api/hubs/..%2Fetc/:send', JSON.stringify(send)), 400);
    assert.equal(await status('POST', '/api/hubs/unknown/:send', JSON.stringify(send)), 404);
    assert.equal(await status('POST', `/api/hubs/chat/groups/${'g'.repeat(1025)}/:send`, JSON.stringify(send)), 400);
    assert.equal(await status('POST', '/api/hubs/chat/:send', JSON.stringify(send), { token: 'x.y.z' }), 401);
    assert.equal(await status('POST', '/api/hubs/chat/:send', JSON.stringify(send), { token: restToken('/api/hubs/chat/users/u/:send') }), 401);
    // 2 MB: refused with 413 from the Content-Length, the rest dropped unread.
    const big = await exchange('POST', '/api/hubs/chat/:send', 'x'.repeat(2 * 1024 * 1024));
    assert.match(big, /^HTTP\/1\.1 413 /);
  });

  test('afterwards a normal client still chats', async (t) => {
    const user = unique('after');
    const client = await clientFor(t, server.url, user);
    const text = unique('still-here');
    await client.connection.invoke('SendMessage', text);
    await waitFor(() => client.events.ReceiveMessage.find(([from, m]) => from === user && m === text));
  });

  test('afterwards memory is back near its starting level', async () => {
    // Connections close asynchronously: wait for the server to let go of them.
    const margin = 24 * 1024 * 1024; // allocator caches and arenas keep some pages
    await waitFor(() => rss(server.process.pid) < baseline + margin, 10_000, {
      message: () => `RSS ${rss(server.process.pid)} to fall below ${baseline + margin} (baseline ${baseline})`,
    });
  });
});

describe('bad stream input against the conformance hub', () => {
  let app;
  let wsUrl;
  before(async () => {
    app = await startBinary(path.resolve(ROOT, 'build/switchboard-conformance'), ['--listen', '127.0.0.1:0']);
    wsUrl = `${app.url.replace(/^http/, 'ws')}/testhub`;
  });
  after(() => app?.stop());

  test('a reused stream invocation id is refused; the first stream stays open', async (t) => {
    const socket = socketFor(t, wsUrl);
    assert.equal(await socket.handshake(), '{}');
    const start = JSON.stringify({ type: 4, invocationId: 's1', target: 'InfiniteStream', arguments: [] }) + RS;
    await socket.send(start);
    await socket.send(start);
    const refused = await completionOf(socket, 's1');
    assert.equal(refused.error, "Invocation ID 's1' is already in use.");
    // The first stream is still open: cancelling it reaches its handler.
    await socket.send(JSON.stringify({ type: 5, invocationId: 's1' }) + RS);
    await socket.waitForMessage((m) => m.type === 1 && m.target === 'StreamCanceled');
  });

  test('a reused upload stream id is refused; the first upload completes', async (t) => {
    const socket = socketFor(t, wsUrl);
    assert.equal(await socket.handshake(), '{}');
    await socket.send(invocation('1', 'StreamingConcat', [], { streamIds: ['u1'] }));
    await socket.send(invocation('2', 'StreamingConcat', [], { streamIds: ['u1'] }));
    assert.equal((await completionOf(socket, '2')).error, "Stream ID 'u1' is already in use.");
    await socket.send(JSON.stringify({ type: 2, invocationId: 'u1', item: 'a' }) + RS);
    await socket.send(JSON.stringify({ type: 3, invocationId: 'u1' }) + RS);
    assert.equal((await completionOf(socket, '1')).result, 'a');
  });

  test('a stream item for an unknown stream is ignored', async (t) => {
    const socket = socketFor(t, wsUrl);
    assert.equal(await socket.handshake(), '{}');
    await socket.send(JSON.stringify({ type: 2, invocationId: 'nope', item: 1 }) + RS);
    await socket.send(invocation('1', 'Echo', ['still']));
    assert.equal((await completionOf(socket, '1')).result, 'still');
  });
});
