// Scenario 3: keep-alive pings and the client timeout (§10).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState } from '@microsoft/signalr';
import { RS, clientFor, rawSocket, startServer, unique, waitFor, waitForEvent } from './server.mjs';

describe('keep-alive with --keep-alive-interval 100ms --client-timeout 500ms', () => {
  let server;
  before(async () => {
    server = await startServer(['--keep-alive-interval', '100ms', '--client-timeout', '500ms']);
  });
  after(() => server?.stop());

  test('an idle client with a 600 ms server timeout stays connected for 2 s', async (t) => {
    const client = await clientFor(t, server.url, 'idle', {
      serverTimeoutInMilliseconds: 600,
      keepAliveIntervalInMilliseconds: 100,
    });
    // Idling is the scenario itself: without server pings the client would time out after 600 ms,
    // without client pings the server would drop it after 500 ms. The poll ends early if it closes.
    const idleSince = Date.now();
    await waitFor(() => client.closes.length > 0 || Date.now() - idleSince >= 2_000, 3_000);
    assert.deepEqual(client.closes, [], `the connection closed: ${client.closes[0]?.message}`);
    assert.equal(client.connection.state, HubConnectionState.Connected);
    const text = unique('still alive');
    await client.connection.invoke('SendMessage', text);
    await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text);
  });

  test('the server pings an idle connection at the configured interval', async (t) => {
    const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat`);
    t.after(() => socket.close());
    assert.equal(await socket.handshake(), '{}');
    // Keep our side alive so the client timeout cannot interfere.
    const pinger = setInterval(() => socket.send(`{"type":6}${RS}`).catch(() => {}), 100);
    t.after(() => clearInterval(pinger));

    const start = Date.now();
    await waitFor(() => socket.parsed().filter((m) => m.type === 6).length >= 5, 2_500, {
      message: () => `5 pings at a 100 ms interval; got ${JSON.stringify(socket.messages)}`,
    });
    assert.ok(Date.now() - start < 2_500);
    for (const ping of socket.parsed().filter((m) => m.type === 6)) assert.deepEqual(ping, { type: 6 });
    assert.equal(socket.isClosed, false);
  });

  test('a client that pinged once and then went silent is closed with an error after the timeout', async (t) => {
    const socket = rawSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat`);
    t.after(() => socket.close());
    assert.equal(await socket.handshake(), '{}');
    const silentSince = Date.now();
    await socket.send(`{"type":6}${RS}`);

    const close = await socket.waitForMessage((m) => m.type === 7, 3_000);
    const elapsed = Date.now() - silentSince;
    assert.equal(close.error, 'Connection closed with an error.');
    assert.ok(elapsed >= 450, `closed after ${elapsed} ms, before the 500 ms client timeout`);
    const { code } = await socket.closed;
    assert.ok(code === 1000 || code === 1011, `unexpected close code ${code}`);
  });
});
