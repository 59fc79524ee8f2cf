// Scenario 1: negotiate, connect with the official client, invoke.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState } from '@microsoft/signalr';
import { clientFor, startServer } from './server.mjs';

describe('connect and invoke', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  test('negotiate returns a version 1 response with id, URL-safe token and WebSockets', async () => {
    const response = await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = await response.json();
    assert.equal(body.negotiateVersion, 1);
    assert.equal(typeof body.connectionId, 'string');
    assert.ok(body.connectionId.length > 0, 'connectionId is empty');
    assert.equal(typeof body.connectionToken, 'string');
    assert.match(body.connectionToken, /^[A-Za-z0-9_-]+$/, 'connectionToken must be URL-safe');
    assert.notEqual(body.connectionToken, body.connectionId, 'the token must be a separate secret for version 1');
    assert.ok(Array.isArray(body.availableTransports), 'availableTransports is not an array');
    const ws = body.availableTransports.find((t) => t.transport === 'WebSockets');
    assert.ok(ws, `WebSockets missing from ${JSON.stringify(body.availableTransports)}`);
    assert.ok(ws.transferFormats.includes('Text'), 'WebSockets must offer the Text transfer format');
    assert.equal(body.error, undefined);
  });

  test('two negotiations give different connection ids and tokens', async () => {
    const negotiate = async () =>
      (await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    const [a, b] = await Promise.all([negotiate(), negotiate()]);
    assert.notEqual(a.connectionId, b.connectionId);
    assert.notEqual(a.connectionToken, b.connectionToken);
  });

  test('the client connects over WebSockets and gets a connection id', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    assert.equal(client.connection.state, HubConnectionState.Connected);
    assert.equal(typeof client.connection.connectionId, 'string');
    assert.ok(client.connection.connectionId.length > 0);
  });

  test('invoking an unknown method rejects with the server error and the connection survives', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    await assert.rejects(client.connection.invoke('Nope'), (error) => {
      assert.equal(error.message, "Unknown hub method 'Nope'");
      return true;
    });
    assert.equal(client.connection.state, HubConnectionState.Connected);
    await client.connection.invoke('SendMessage', 'still here');
  });

  test('invoke resolves with null for a void hub method', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    const result = await client.connection.invoke('SendMessage', 'hello');
    assert.equal(result, null);
  });

  test('hub method names are matched case-insensitively', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    await client.connection.invoke('sendmessage', 'lower case');
    assert.equal(client.connection.state, HubConnectionState.Connected);
  });

  test('stop() closes cleanly without an error', async (t) => {
    const client = await clientFor(t, server.url, 'alice');
    await client.stop();
    assert.equal(client.connection.state, HubConnectionState.Disconnected);
    assert.deepEqual(client.closes, [null]);
  });
});
