// Scenario 6: plain HTTP behaviour: status codes (§3.1), negotiate routing (§1, §2), health, CORS (§11), static files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { rawSocket, startServer } from './server.mjs';

const ALLOWED_ORIGIN = 'http://example.test';

/**
 * A request with full control over headers and the request target (fetch normalises paths and treats some
 * headers specially). `url` gives host and port; `rawPath` overrides the path sent verbatim.
 */
function request(url, { method = 'GET', headers = {}, body, rawPath } = {}) {
  const target = new URL(url);
  const options = {
    host: target.hostname,
    port: target.port,
    path: rawPath ?? `${target.pathname}${target.search}`,
    method,
    headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { data += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Static files from a folder of their own, so these checks do not depend on the demo app's build.
async function staticFixture() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-static-'));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Static fixture</title><div id="root"></div>');
  await writeFile(path.join(dir, 'app.js'), 'export const ready = true;\n');
  await writeFile(path.join(dir, 'style.css'), 'body { margin: 0; }\n');
  return dir;
}

describe('HTTP endpoints', () => {
  let server;
  let staticDir;
  before(async () => {
    staticDir = await staticFixture();
    server = await startServer(['--cors-origin', ALLOWED_ORIGIN, '--server-name', 'http-test-instance'], { staticDir });
  });
  after(async () => {
    await server?.stop();
    if (staticDir) await rm(staticDir, { recursive: true, force: true });
  });

  test('WebSocket upgrade with an unknown id gets 404', async (t) => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/hubs/chat?id=doesnotexist`);
    t.after(() => ws.terminate());
    const status = await new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode);
        req.destroy();
      });
      ws.once('open', () => reject(new Error('the upgrade with an unknown id was accepted')));
      ws.once('error', (error) => {
        if (!/Unexpected server response/.test(error.message)) reject(error);
      });
    });
    assert.equal(status, 404);
  });

  test('a WebSocket connect with a negotiated token works exactly once', async (t) => {
    const negotiate = await (await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' })).json();
    const url = `${server.url.replace(/^http/, 'ws')}/hubs/chat?id=${negotiate.connectionToken}`;
    const socket = rawSocket(url);
    t.after(() => socket.close());
    assert.equal(await socket.handshake(), '{}');

    // The public connection id is not a valid token.
    if (negotiate.connectionId !== negotiate.connectionToken) {
      const response = await fetch(`${server.url}/hubs/chat?id=${encodeURIComponent(negotiate.connectionId)}`, { method: 'POST', body: 'x' });
      assert.equal(response.status, 404, 'the connectionId must not be accepted as a token');
      await response.body?.cancel();
    }
  });

  test('POST with an unknown id gets 404 "No Connection with that ID"', async () => {
    const response = await fetch(`${server.url}/hubs/chat?id=doesnotexist`, { method: 'POST', body: 'hello' });
    assert.equal(response.status, 404);
    assert.equal(await response.text(), 'No Connection with that ID');
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  });

  test('POST without id gets 400 "Connection ID required"', async () => {
    const response = await fetch(`${server.url}/hubs/chat`, { method: 'POST', body: 'hello' });
    assert.equal(response.status, 400);
    assert.equal(await response.text(), 'Connection ID required');
  });

  test('GET /healthz and /readyz answer 200', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${server.url}${path}`);
      assert.equal(response.status, 200, path);
      await response.body?.cancel();
    }
  });

  test('hub paths are case-insensitive: POST /HUBS/Chat/negotiate works', async () => {
    const response = await fetch(`${server.url}/HUBS/Chat/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(typeof body.connectionToken, 'string');
    assert.ok(body.connectionToken.length > 0);
  });

  test('negotiate with GET gets 405', async () => {
    const response = await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`);
    assert.equal(response.status, 405);
    await response.body?.cancel();
  });

  test('negotiate keeps working with extra user query parameters', async () => {
    const response = await fetch(`${server.url}/hubs/chat/negotiate?user=alice&negotiateVersion=1`, { method: 'POST' });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).negotiateVersion, 1);
  });

  test('CORS preflight from an allowed origin gets 204 with the origin and credentials echoed', async () => {
    const response = await request(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: {
        Origin: ALLOWED_ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'x-requested-with,x-signalr-user-agent',
      },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
    assert.equal(response.headers['access-control-allow-credentials'], 'true');
    // Without these a browser refuses the real request (the JS client sends both headers).
    const allowedHeaders = (response.headers['access-control-allow-headers'] ?? '').toLowerCase();
    for (const header of ['x-requested-with', 'x-signalr-user-agent']) {
      assert.ok(allowedHeaders.includes(header), `Access-Control-Allow-Headers "${allowedHeaders}" lacks ${header}`);
    }
    assert.match(response.headers['access-control-allow-methods'] ?? '', /POST/i);
  });

  test('CORS: the actual negotiate from an allowed origin carries the CORS headers', async () => {
    const response = await request(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Origin: ALLOWED_ORIGIN, 'X-Requested-With': 'XMLHttpRequest' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
    assert.equal(response.headers['access-control-allow-credentials'], 'true');
  });

  test('CORS preflight from another origin gets no Access-Control-Allow-Origin', async () => {
    const response = await request(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.test', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(response.headers['access-control-allow-origin'], undefined);
    const actual = await request(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, {
      method: 'POST',
      headers: { Origin: 'http://evil.test' },
    });
    assert.equal(actual.headers['access-control-allow-origin'], undefined);
  });

  test('GET / serves index.html of the static dir', async () => {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await response.text(), /<title>Static fixture<\/title>/);
  });

  test('negotiate names the instance (--server-name) in X-Switchboard-Instance', async (t) => {
    const response = await fetch(`${server.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-switchboard-instance'), 'http-test-instance');
    await response.body?.cancel();
    // Without --server-name the default name holds the hostname: it is not sent.
    const unnamed = await startServer([]);
    t.after(() => unnamed.stop());
    const plain = await fetch(`${unnamed.url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('x-switchboard-instance'), null);
    await plain.body?.cancel();
  });

  test('static files: app.js and style.css are served with sensible types; traversal is refused', async () => {
    const js = await fetch(`${server.url}/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(await js.text(), /export const ready/);
    const css = await fetch(`${server.url}/style.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    await css.body?.cancel();

    // Raw request: fetch/URL would normalise the dot segments away.
    for (const path of ['/../CMakeLists.txt', '/%2e%2e/CMakeLists.txt', '/..%2fCMakeLists.txt']) {
      const response = await request(server.url, { rawPath: path });
      assert.ok(response.status >= 400 && response.status < 500, `${path} answered ${response.status}`);
      assert.doesNotMatch(response.body, /cmake_minimum_required/, `${path} escaped the static dir`);
    }
  });

  test('unknown paths get 404', async () => {
    const response = await fetch(`${server.url}/no/such/file.txt`);
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
});
