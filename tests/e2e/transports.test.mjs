// The HTTP transports at the byte level (§3.3–3.6): SSE framing and its refusal of MessagePack,
// the long-polling request cycle, and the status codes of requests on the wrong transport.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RS, rawSocket, serverFor, waitFor } from './server.mjs';

async function negotiate(url) {
  const response = await fetch(`${url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
  assert.equal(response.status, 200);
  return response.json();
}

// Opens an SSE stream and collects its text as it arrives.
async function openEventStream(t, url, token) {
  const controller = new AbortController();
  t.after(() => controller.abort());
  const response = await fetch(`${url}/hubs/chat?id=${token}`, {
    headers: { Accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const stream = { response, text: '' };
  const decoder = new TextDecoder();
  (async () => {
    try {
      for await (const chunk of response.body) stream.text += decoder.decode(chunk, { stream: true });
    } catch { /* aborted at the end of the test */ }
  })();
  return stream;
}

function post(url, token, body) {
  return fetch(`${url}/hubs/chat?id=${token}`, { method: 'POST', body });
}

test('SSE: prelude, headers and the handshake answer as one data event', async (t) => {
  const server = await serverFor(t);
  const { connectionToken } = await negotiate(server.url);
  const sse = await openEventStream(t, server.url, connectionToken);
  assert.equal(sse.response.status, 200);
  assert.equal(sse.response.headers.get('content-type'), 'text/event-stream');
  assert.equal(sse.response.headers.get('cache-control'), 'no-cache,no-store');
  await waitFor(() => sse.text.startsWith(':\r\n'));
  assert.equal((await post(server.url, connectionToken, `{"protocol":"json","version":1}${RS}`)).status, 200);
  await waitFor(() => sse.text.includes(`data: {}${RS}\r\n\r\n`));
});

test('SSE: the MessagePack protocol is refused with the exact handshake error', async (t) => {
  const server = await serverFor(t);
  const { connectionToken } = await negotiate(server.url);
  const sse = await openEventStream(t, server.url, connectionToken);
  await post(server.url, connectionToken, `{"protocol":"messagepack","version":1}${RS}`);
  const expected = `data: {"error":"Cannot use the 'messagepack' protocol on the current transport. ` +
    `The transport does not support 'Binary' transfer format."}${RS}\r\n\r\n`;
  await waitFor(() => sse.text.includes(expected), 5_000, { message: () => `got ${JSON.stringify(sse.text)}` });
});

test('long polling: first poll at once, then data, DELETE gives 202 and the held poll 204', async (t) => {
  const server = await serverFor(t);
  const { connectionToken } = await negotiate(server.url);
  const poll = () => fetch(`${server.url}/hubs/chat?id=${connectionToken}&_=${Date.now()}`);

  const first = await poll();
  assert.equal(first.status, 200);
  assert.equal(await first.text(), '');
  assert.equal((await post(server.url, connectionToken, `{"protocol":"json","version":1}${RS}`)).status, 200);
  const second = await poll();
  assert.equal(second.status, 200);
  assert.equal(second.headers.get('content-type'), 'application/octet-stream');
  assert.equal(await second.text(), `{}${RS}`);

  const held = poll();
  const deleted = await fetch(`${server.url}/hubs/chat?id=${connectionToken}`, { method: 'DELETE' });
  assert.equal(deleted.status, 202);
  assert.equal((await held).status, 204);
  // The connection is gone: later requests find nothing.
  assert.equal((await post(server.url, connectionToken, `{"type":6}${RS}`)).status, 404);
});

test('requests on the wrong transport get the ASP.NET status codes', async (t) => {
  const server = await serverFor(t);
  const { connectionToken } = await negotiate(server.url);
  const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat?id=${connectionToken}`);
  t.after(() => socket.close());
  assert.equal(await socket.handshake(), '{}');

  const posted = await post(server.url, connectionToken, `{"type":6}${RS}`);
  assert.equal(posted.status, 405);
  assert.equal(await posted.text(), 'POST requests are not allowed for WebSocket connections.');
  const deleted = await fetch(`${server.url}/hubs/chat?id=${connectionToken}`, { method: 'DELETE' });
  assert.equal(deleted.status, 400);
  assert.equal(await deleted.text(), 'Cannot terminate this connection using the DELETE endpoint.');
  const polled = await fetch(`${server.url}/hubs/chat?id=${connectionToken}`);
  assert.equal(polled.status, 400);
  assert.equal(await polled.text(), 'Cannot change transports mid-connection');
});
