// The per-transport and per-endpoint scenarios of the ASP.NET SignalR JS functional tests (authorization,
// reconnect, redirects, skipNegotiation, /testhub-nowebsockets, long-polling DELETE, raw /echo) against
// the conformance app.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { HttpTransportType, HubConnectionState, NullLogger, TransferFormat } from '@microsoft/signalr';
import { HttpConnection } from '@microsoft/signalr/dist/cjs/HttpConnection.js';
import WebSocket from 'ws';
import { onCleanup, waitFor, withTimeout } from '../server.mjs';
import {
  TRANSPORTS,
  TrackedEventSource,
  buildConnection,
  closeEventSources,
  connectionFor,
  messagePackRefusal,
  startConformanceServer,
} from './app.mjs';

const server = await startConformanceServer();
after(async () => {
  closeEventSources();
  await server.stop();
});
const messagePackSkip = await messagePackRefusal(server.url);
const wsUrl = server.url.replace(/^http/, 'ws');

const fetchToken = async () => {
  const response = await fetch(`${server.url}/generateJwtToken`);
  assert.equal(response.status, 200);
  return response.text();
};

/**
 * Makes the server end the connection with a reconnectable error: a message over the 32 KB limit gets
 * Close {error, allowReconnect: true}, which the client's automatic reconnect handles.
 */
async function dropFromServer(connection) {
  const closing = connection.invoke('Echo', 'x'.repeat(40 * 1024));
  await assert.rejects(closing);
}

for (const transport of TRANSPORTS) {
  describe(`${transport}: authorization`, () => {
    test('a token from /generateJwtToken (async token factory) opens the authorized hub', async (t) => {
      const connection = await connectionFor(t, server.url, '/authorizedhub', { transport, accessTokenFactory: fetchToken });
      assert.equal(await connection.invoke('Echo', 'authorized'), 'authorized');
      assert.equal(await connection.invoke('GetUserIdentifier'), 'testuser');
    });

    test('a token fetched beforehand (sync token factory) opens the authorized hub', async (t) => {
      const token = await fetchToken();
      const connection = await connectionFor(t, server.url, '/authorizedhub', { transport, accessTokenFactory: () => token });
      assert.equal(await connection.invoke('Echo', 'sync token'), 'sync token');
    });

    test('without a token negotiate fails with 401', async (t) => {
      const connection = buildConnection(server.url, '/authorizedhub', { transport });
      onCleanup(t, () => connection.stop());
      await assert.rejects(connection.start(), {
        message: "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'",
      });
    });

    test('a token the server did not issue is refused', async (t) => {
      const connection = buildConnection(server.url, '/authorizedhub', { transport, accessTokenFactory: () => 'a.b.c' });
      onCleanup(t, () => connection.stop());
      await assert.rejects(connection.start(), {
        message: "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'",
      });
    });
  });

  describe(`${transport}: connection lifecycle`, () => {
    test('automatic reconnect after the server went away gives a new connection id', async (t) => {
      // A server of its own, restarted on the same port: its shutdown sends Close with allowReconnect.
      let own = await startConformanceServer();
      onCleanup(t, () => own.stop());
      const delays = Array.from({ length: 100 }, (_, i) => (i === 0 ? 0 : 100));
      const connection = await connectionFor(t, own.url, '/testhub', { transport, reconnect: delays });
      const reconnected = [];
      connection.onreconnected((id) => reconnected.push(id));
      const before = await connection.invoke('GetCallerConnectionId');
      assert.equal(before, connection.connectionId);

      await own.stop();
      own = await startConformanceServer({ port: own.port });
      await waitFor(() => reconnected.length > 0, 15_000, { message: `a reconnect (state ${connection.state})` });

      assert.equal(connection.state, HubConnectionState.Connected);
      assert.notEqual(reconnected[0], before);
      assert.equal(reconnected[0], connection.connectionId);
      assert.equal(await connection.invoke('GetCallerConnectionId'), connection.connectionId);
    });

    test('negotiate redirects reach /testHub with an increasing numRedirects', async (t) => {
      const path = `/redirect?baseUrl=${encodeURIComponent(server.url)}`;
      const first = await connectionFor(t, server.url, path, { transport });
      const second = await connectionFor(t, server.url, path, { transport });
      const [a, b] = [await first.invoke('GetNumRedirects'), await second.invoke('GetNumRedirects')];
      assert.equal(typeof a, 'number');
      assert.ok(b > a, `numRedirects should increase: ${a} then ${b}`);
      assert.equal(await first.invoke('GetCallerConnectionId'), first.connectionId);
    });

    test('reconnecting after a negotiate redirect negotiates again (numRedirects increases)', async (t) => {
      const path = `/redirect?baseUrl=${encodeURIComponent(server.url)}`;
      const connection = await connectionFor(t, server.url, path, { transport, reconnect: [0, 100, 100, 100] });
      const reconnected = [];
      connection.onreconnected((id) => reconnected.push(id));
      const before = await connection.invoke('GetNumRedirects');
      const id = connection.connectionId;
      await dropFromServer(connection);
      await waitFor(() => reconnected.length > 0, 10_000, { message: `a reconnect (state ${connection.state})` });
      assert.ok((await connection.invoke('GetNumRedirects')) > before, 'the reconnect went through /redirect again');
      assert.notEqual(connection.connectionId, id);
    });

    test('a failing negotiate reports the server response', async (t) => {
      const connection = buildConnection(server.url, '/bad-negotiate', { transport });
      onCleanup(t, () => connection.stop());
      await assert.rejects(connection.start(), {
        message: "Failed to complete negotiation with the server: Error: Some response from server: Status code '400'",
      });
    });
  });

  describe(`${transport}: raw connection /echo`, () => {
    test('HttpConnection echoes what it sends', async (t) => {
      const connection = new HttpConnection(`${server.url}/echo`, {
        transport: HttpTransportType[transport],
        logger: NullLogger.instance,
        EventSource: TrackedEventSource,
      });
      const received = [];
      connection.onreceive = (data) => received.push(data);
      const closed = new Promise((resolve) => {
        connection.onclose = (error) => resolve(error ?? null);
      });
      onCleanup(t, () => connection.stop());
      await connection.start(TransferFormat.Text);
      await connection.send('echo me');
      await waitFor(() => received.join('') === 'echo me', 5_000, { message: () => `the echo; received ${JSON.stringify(received)}` });
      await connection.stop();
      assert.equal(await withTimeout(closed, 5_000, 'not closed'), null);
    });
  });
}

describe('WebSockets specifics', () => {
  test('skipNegotiation connects directly; connectionId stays null on the client', async (t) => {
    const connection = await connectionFor(t, server.url, '/testhub', { transport: 'WebSockets', skipNegotiation: true });
    assert.equal(connection.connectionId, null);
    assert.equal(await connection.invoke('Echo', 'no negotiate'), 'no negotiate');
    const id = await connection.invoke('GetCallerConnectionId');
    assert.equal(typeof id, 'string');
    assert.ok(id.length > 0);
  });

  test('reconnecting after skipNegotiation connects directly again', async (t) => {
    const connection = await connectionFor(t, server.url, '/testhub', {
      transport: 'WebSockets',
      skipNegotiation: true,
      reconnect: [0, 100, 100, 100],
    });
    const reconnected = [];
    connection.onreconnected((id) => reconnected.push(id));
    const before = await connection.invoke('GetCallerConnectionId');
    await dropFromServer(connection);
    await waitFor(() => reconnected.length > 0, 10_000, { message: `a reconnect (state ${connection.state})` });
    assert.equal(connection.connectionId, null);
    const after = await connection.invoke('GetCallerConnectionId');
    assert.equal(typeof after, 'string');
    assert.notEqual(after, before);
  });

  test('a direct WebSocket to /echo echoes text and closes cleanly with 1000', async () => {
    const ws = new WebSocket(`${wsUrl}/echo`);
    const messages = [];
    ws.addEventListener('message', (event) => messages.push(event.data));
    const closed = new Promise((resolve) => ws.addEventListener('close', (event) => resolve(event)));
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', reject);
    });
    try {
      ws.send('message');
      await waitFor(() => messages.length > 0, 5_000, { message: 'the echo' });
      assert.equal(typeof messages[0], 'string', 'a Text frame echoes as Text');
      assert.equal(messages[0], 'message');
      ws.close(); // no status code, like a browser's close()
      const event = await withTimeout(closed, 5_000);
      assert.ok(event, 'the WebSocket did not close');
      assert.equal(event.code, 1000);
      assert.equal(event.wasClean, true);
    } finally {
      ws.terminate();
    }
  });
});

describe('/testhub-nowebsockets', () => {
  test('JSON picks ServerSentEvents', async (t) => {
    const connection = await connectionFor(t, server.url, '/testhub-nowebsockets', { protocol: 'json' });
    assert.equal(await connection.invoke('GetActiveTransportName'), 'ServerSentEvents');
  });

  test('MessagePack picks LongPolling', { skip: messagePackSkip ?? false }, async (t) => {
    const connection = await connectionFor(t, server.url, '/testhub-nowebsockets', { protocol: 'messagepack' });
    assert.equal(await connection.invoke('GetActiveTransportName'), 'LongPolling');
  });

  test('negotiate offers only ServerSentEvents and LongPolling', async () => {
    const response = await fetch(`${server.url}/testhub-nowebsockets/negotiate?negotiateVersion=1`, { method: 'POST' });
    const body = await response.json();
    assert.deepEqual(body.availableTransports.map((entry) => entry.transport), ['ServerSentEvents', 'LongPolling']);
  });
});

/** A GET whose promise resolves with { status } once answered; `sent` resolves when the request was flushed. */
function pendingGet(url) {
  let sent;
  const flushed = new Promise((resolve) => { sent = resolve; });
  const answered = new Promise((resolve, reject) => {
    const request = http.get(url, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode }));
    });
    request.on('finish', sent);
    request.on('error', reject);
  });
  return { flushed, answered };
}

describe('long polling', () => {
  test('DELETE ends a pending poll: 202 for the DELETE, 204 for the poll', async () => {
    const negotiate = await fetch(`${server.url}/testhub/negotiate?negotiateVersion=1`, { method: 'POST' });
    const { connectionToken } = await negotiate.json();
    const pollUrl = `${server.url}/testhub?id=${connectionToken}`;

    const first = await fetch(pollUrl);
    assert.equal(first.status, 200, 'the first poll returns at once');
    await first.arrayBuffer();

    const poll = pendingGet(pollUrl);
    await poll.flushed;
    assert.equal(await withTimeout(poll.answered, 100, 'pending'), 'pending', 'the second poll is held');

    const deleted = await fetch(pollUrl, { method: 'DELETE' });
    assert.equal(deleted.status, 202);
    const answer = await withTimeout(poll.answered, 5_000);
    assert.deepEqual(answer, { status: 204 });
  });
});

describe('plain HTTP endpoints', () => {
  test('/echoredirect answers 307 to /echo with the query kept', async () => {
    const response = await fetch(`${server.url}/echoredirect/negotiate?negotiateVersion=1&x=y`, {
      method: 'POST',
      redirect: 'manual',
    });
    assert.equal(response.status, 307);
    assert.equal(response.headers.get('location'), '/echo/negotiate?negotiateVersion=1&x=y');
  });

  test('an HttpConnection through /echoredirect works over long polling', async (t) => {
    const connection = new HttpConnection(`${server.url}/echoredirect`, {
      transport: HttpTransportType.LongPolling,
      logger: NullLogger.instance,
    });
    const received = [];
    connection.onreceive = (data) => received.push(data);
    onCleanup(t, () => connection.stop());
    await connection.start(TransferFormat.Text);
    await connection.send('redirected');
    await waitFor(() => received.join('') === 'redirected', 5_000, { message: 'the echo' });
  });

  test('/clientresult for an unknown connection says so', async () => {
    const response = await fetch(`${server.url}/clientresult/NoSuchConnection`);
    assert.equal(await response.text(), "Connection 'NoSuchConnection' does not exist.");
  });

  test('negotiate sets the test cookies, one already expired', async () => {
    const response = await fetch(`${server.url}/testhub/negotiate?negotiateVersion=1`, { method: 'POST' });
    const cookies = response.headers.getSetCookie();
    assert.ok(cookies.some((c) => c.startsWith('testCookie=testValue')), JSON.stringify(cookies));
    assert.ok(cookies.some((c) => c.startsWith('testCookie2=testValue2')), JSON.stringify(cookies));
    const expired = cookies.find((c) => c.startsWith('expiredCookie=doesntmatter'));
    assert.ok(expired, JSON.stringify(cookies));
    assert.ok(new Date(/expires=([^;]+)/i.exec(expired)[1]) < new Date(), expired);
  });

  test('CORS: preflight and negotiate echo the Origin with credentials', async () => {
    const origin = 'http://example.test';
    const preflight = await fetch(`${server.url}/testhub/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-requested-with' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-requested-with/i);
    const negotiate = await fetch(`${server.url}/testhub/negotiate?negotiateVersion=1`, { method: 'POST', headers: { Origin: origin } });
    assert.equal(negotiate.status, 200);
    assert.equal(negotiate.headers.get('access-control-allow-origin'), origin);
  });
});
