// TLS on the listener (--tls-cert, --tls-key): the official client over https and wss on every
// transport; plain HTTP and garbage on the TLS port neither crash the server nor disturb the
// next client; a key that cannot be loaded stops the server at startup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, startServer, waitFor } from './server.mjs';

let dir;
let cert;
let key;
let ca;
let server;

function run(command, args, options = {}) {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, ...options }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

// GET over https trusting only our certificate; resolves { status, body }.
function httpsGet(url) {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('error', reject);
  });
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-tls-'));
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  // Self-signed for 127.0.0.1 and localhost: clients check the address against the SAN.
  const made = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  assert.equal(made.code, 0, `openssl could not make the test certificate: ${made.stderr}`);
  ca = await readFile(cert);
  // Two shards: a stateful reconnect may land on the other one and must move its TLS session.
  server = await startServer(['--tls-cert', cert, '--tls-key', key, '--log-level', 'debug', '--threads', '2']);
});

after(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the listening line and the start log say https', async () => {
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(server.stdout(), /tls=on/);
  // Logged just after the listening line, which is what startServer() waited for.
  await waitFor(() => /TLS on: serving https and wss/.test(server.stdout()), 5_000,
    { message: 'the TLS start log line' });
});

test('the official client over wss, SSE and long polling on https; stateful reconnect', async () => {
  const child = await run(process.execPath, [path.join(ROOT, 'tests/e2e/tls-client.mjs'), server.url], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: cert },
    timeout: 30_000,
  });
  assert.equal(child.code, 0, `client failed:\n${child.stdout}${child.stderr}\nserver:\n${server.stdout()}`);
  assert.deepEqual(child.stdout.trim().split('\n'),
    ['ok WebSockets', 'ok ServerSentEvents', 'ok LongPolling', 'ok StatefulReconnect']);
});

test('plain HTTP and garbage on the TLS port are dropped; the next TLS client is served', async () => {
  // Plain HTTP: the handshake fails on the request line and the socket closes, no answer.
  const plain = await new Promise((resolve) => {
    const request = http.get(`http://127.0.0.1:${server.port}/healthz`, { agent: false }, (response) => {
      response.resume();
      resolve({ status: response.statusCode });
    });
    request.on('error', (error) => resolve({ error }));
  });
  assert.ok(plain.error, `expected the plain request to fail, got ${JSON.stringify(plain)}`);

  // Garbage bytes: the server closes the socket.
  const closed = await new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1', () => socket.write(Buffer.alloc(512, 0x5a)));
    socket.on('error', () => {});
    socket.on('close', () => resolve(true));
    socket.resume();
  });
  assert.equal(closed, true);

  assert.equal(server.process.exitCode, null, 'the server must keep running');
  assert.deepEqual(await httpsGet(`${server.url}/healthz`), { status: 200, body: 'alive' });
  assert.match(server.stdout(), /TLS handshake with 127\.0\.0\.1 failed/);
});

test('a client that does not trust the certificate is refused, the server goes on', async () => {
  const refused = await new Promise((resolve) => {
    https.get(`${server.url}/healthz`, { agent: false }, () => resolve(null)).on('error', resolve);
  });
  assert.equal(refused?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.deepEqual(await httpsGet(`${server.url}/readyz`), { status: 200, body: 'ready' });
});

test('a missing key file stops the server at startup with a clear message', async () => {
  const missing = path.join(dir, 'absent-key.pem');
  await assert.rejects(startServer(['--tls-cert', cert, '--tls-key', missing]), (error) => {
    assert.match(error.message, /exited with code 1 before listening/);
    assert.match(error.message, /--tls-key: cannot load the private key/);
    assert.ok(error.message.includes(missing), error.message);
    return true;
  });
});

test('a key that does not belong to the certificate stops the server at startup', async () => {
  const otherKey = path.join(dir, 'other-key.pem');
  const made = await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey]);
  assert.equal(made.code, 0, made.stderr);
  await assert.rejects(startServer(['--tls-cert', cert, '--tls-key', otherKey]), (error) => {
    assert.match(error.message, /exited with code 1 before listening/);
    assert.match(error.message, /--tls-key: .*key values mismatch/);
    return true;
  });
});
