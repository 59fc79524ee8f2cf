// Operations: settings from --config files, SWITCHBOARD_* and ASP.NET variables (precedence),
// `config check`, JSON logs and the access log, and `switchboard doctor` against a healthy Redis,
// a stopped one, a low descriptor limit and a busy port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, clientFor, serverFor, waitFor } from './server.mjs';
import { freePort, redisAvailable, redisFor } from './redis.mjs';

const BIN = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-ops-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function writeJson(name, value) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

// The environment without the caller's SWITCHBOARD_* and ASP.NET variables, plus `extra`.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SWITCHBOARD_') && !k.includes('__')) env[k] = v;
  }
  return { ...env, ...extra };
}

// Runs the binary to completion (no sleeps: it exits by itself; 30 s is a hang).
function run(args, { env = {}, shell = null } = {}) {
  return new Promise((resolve, reject) => {
    const child = shell
      ? spawn('/bin/sh', ['-c', shell, 'sh', BIN, ...args], { cwd: ROOT, env: cleanEnv(env) })
      : spawn(BIN, args, { cwd: ROOT, env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

async function check(file, env) {
  const result = await run(['config', 'check', file], { env });
  assert.equal(result.code, 0, result.stderr);
  return { settings: JSON.parse(result.stdout), stderr: result.stderr };
}

test('config check: the ASP.NET files of the systems we replace', async () => {
  // ../shared/systems/003, TeleDoctor's appsettings.json
  const teledoctor = writeJson('teledoctor.json', `{
  "Redis": {
    "ConnectionString": "localhost:6379",
    "InstanceName": "TeleDoctor:",
    "AbortOnConnectFail": false
  },
  "SignalR": {
    "UseRedisBackplane": true,
    "MaximumMessageSize": 32768
  }
}`);
  const { settings, stderr } = await check(teledoctor);
  assert.deepEqual(settings.backplane, { value: 'localhost:6379', source: `${teledoctor}: Redis:ConnectionString` });
  assert.equal(settings['max-message-size'].value, '32768');
  assert.match(stderr, /Redis:InstanceName: ignored/);

  // ../shared/systems/004, Diquis's, with its Azure production connection string
  const diquis = writeJson('diquis.json', `{
  "ConnectionStrings": {
    "DefaultConnection": "...",
    "HangfireConnection": "...",
    "RedisConnection": "your-redis.redis.cache.windows.net:6380,password=yourpassword,ssl=True,abortConnect=False"
  }
}`);
  const azure = await check(diquis);
  assert.match(azure.settings.backplane.value, /your-redis\.redis\.cache\.windows\.net:6380/);
  assert.doesNotMatch(JSON.stringify(azure.settings), /yourpassword/, 'the password is redacted');
  assert.doesNotMatch(azure.stderr, /DefaultConnection/, "the app's own connection strings are not warned about");
});

test('config precedence: SWITCHBOARD_* > ASP.NET variables > file keys > file sections > default', async () => {
  const file = writeJson('layers.json', {
    listen: '127.0.0.1:7001',
    backplane: 'redis://file-key:6379',
    Redis: { ConnectionString: 'file-section:6379' },
    SignalR: { MaximumMessageSize: 1000 },
    'max-conections': 5,
    'jwt-secret': 'a-secret-of-at-least-thirty-two-bytes!!',
  });
  const fileOnly = await check(file);
  assert.equal(fileOnly.settings.listen.value, '127.0.0.1:7001');
  assert.equal(fileOnly.settings.backplane.value, 'redis://file-key:6379', "the file's own key wins over its section");
  assert.equal(fileOnly.settings['max-message-size'].value, '1000');
  assert.equal(fileOnly.settings['send-queue-limit'].source, 'default');
  assert.equal(fileOnly.settings['jwt-secret'].value, '<redacted>');
  assert.match(fileOnly.stderr, /max-conections: unknown key ignored \(did you mean max-connections\?\)/);

  const aspnet = await check(file, { Redis__ConnectionString: 'env-aspnet:6379,password=pw', SWITCHBOARD_LISTEN: '127.0.0.1:7002' });
  assert.equal(aspnet.settings.backplane.value, 'env-aspnet:6379,password=***');
  assert.equal(aspnet.settings.backplane.source, 'environment Redis__ConnectionString');
  assert.deepEqual(aspnet.settings.listen, { value: '127.0.0.1:7002', source: 'environment SWITCHBOARD_LISTEN' });

  const native = await check(file, { Redis__ConnectionString: 'env-aspnet:6379', SWITCHBOARD_BACKPLANE: 'redis://env-native:6379', SWITCHBOARD_MAX_CONECTIONS: '3' });
  assert.equal(native.settings.backplane.value, 'redis://env-native:6379');
  assert.match(native.stderr, /SWITCHBOARD_MAX_CONECTIONS: unknown variable ignored \(did you mean SWITCHBOARD_MAX_CONNECTIONS\?\)/);
});

test('bad values exit 2 naming the key and the file', async () => {
  const bad = writeJson('bad.json', { 'max-connections': 'lots' });
  for (const args of [['config', 'check', bad], ['serve', '--listen', '127.0.0.1:0', '--config', bad]]) {
    const result = await run(args);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /bad\.json: max-connections: bad value 'lots' for --max-connections/);
  }
  const duration = writeJson('duration.json', { SignalR: { KeepAliveInterval: 'soon' } });
  const result = await run(['config', 'check', duration]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /SignalR:KeepAliveInterval: bad value 'soon' for --keep-alive-interval/);
  const broken = writeJson('broken.json', '{"listen": ');
  const parse = await run(['config', 'check', broken]);
  assert.equal(parse.code, 2);
  assert.match(parse.stderr, /broken\.json: not valid JSON/);
  const missing = await run(['serve', '--config', path.join(dir, 'absent.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /absent\.json: cannot read/);
});

test('serve: a flag beats the file; the file sets JSON logs and the access log', async (t) => {
  const file = writeJson('serve.json', { listen: '127.0.0.1:1', 'log-format': 'json', 'access-log': true });
  const server = await serverFor(t, ['--config', file, '--log-level', 'debug']);
  assert.notEqual(server.port, 1, '--listen on the command line wins over the file');
  const response = await fetch(`${server.url}/healthz?access_token=SECRET`);
  assert.equal(response.status, 200);
  await waitFor(() => server.stdout().includes('/healthz'), 5_000, { message: 'the access log line' });
  const lines = server.stdout().split('\n').filter((l) => l.startsWith('{'));
  assert.ok(lines.length >= 2, server.stdout());
  for (const line of lines) {
    const entry = JSON.parse(line);
    // Fixed fields first; the request or connection a line concerns, when there is one.
    assert.deepEqual(Object.keys(entry).filter((k) => !['logger', 'request', 'connection'].includes(k)), ['time', 'level', 'msg']);
    assert.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const access = lines.map((l) => JSON.parse(l)).find((e) => e.msg.includes('/healthz'));
  assert.match(access.msg, /^access 127\.0\.0\.1 GET \/healthz 200 /);
  assert.ok(Number.isInteger(access.request) && access.request > 0, JSON.stringify(access));

  // A line about a connection names it: a hub client that sends a broken frame is closed (a debug line).
  const client = await clientFor(t, server.url, 'json-log');
  const id = client.connection.connectionId;
  client.connection.connection.transport._webSocket.send('not json\u001e');
  const closed = await waitFor(() => server.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
    .find((e) => e.msg.startsWith(`closing connection ${id}`)), 5_000, { message: () => `the close line\n${server.stdout()}` });
  assert.equal(closed.connection, id);
  assert.doesNotMatch(server.stdout(), /SECRET/, 'query strings (tokens) stay out of the access log');
});

test('serve: no access log by default', async (t) => {
  const server = await serverFor(t, []);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  assert.doesNotMatch(server.stdout(), /access .* GET/);
});

// One sample of /metrics, e.g. metric(text, 'switchboard_hub_connections{protocol="json"}').
function metric(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics: connections by hub protocol, messages by kind, deliveries, backplane, process', async (t) => {
  const server = await serverFor(t, []);
  const json = await clientFor(t, server.url, 'metrics-json');
  const msgpack = await clientFor(t, server.url, 'metrics-msgpack', { messagepack: true });
  await json.connection.invoke('SendMessage', 'hello');
  await waitFor(() => msgpack.events.ReceiveMessage.some(([, m]) => m === 'hello'));
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.equal(metric(text, 'switchboard_hub_connections{protocol="json"}'), 1);
  assert.equal(metric(text, 'switchboard_hub_connections{protocol="messagepack"}'), 1);
  assert.ok(metric(text, 'switchboard_messages_received_by_kind_total{kind="invocation"}') >= 1);
  assert.ok(metric(text, 'switchboard_deliveries_total') >= 2, 'the broadcast reached both');
  assert.equal(metric(text, 'switchboard_backplane_connected'), 1);
  assert.equal(metric(text, 'switchboard_backplane_reconnects_total'), 0);
  assert.equal(metric(text, 'switchboard_presence_online_total'), 2, 'two users came online');
  assert.equal(metric(text, 'switchboard_presence_connected'), 1);
  assert.ok(metric(text, 'process_resident_memory_bytes') > 1_000_000);
  assert.ok(metric(text, 'process_open_fds') > 3);
  assert.ok(metric(text, 'process_max_fds') >= metric(text, 'process_open_fds'));
  await msgpack.connection.stop();
  await waitFor(async () => metric(await (await fetch(`${server.url}/metrics`)).text(),
    'switchboard_hub_connections{protocol="messagepack"}') === 0, 5_000, { message: 'the gauge back to 0' });
  await waitFor(async () => metric(await (await fetch(`${server.url}/metrics`)).text(),
    'switchboard_presence_offline_total') === 1, 5_000, { message: 'one user went offline' });
});

test('doctor: a healthy Redis with a password passes every check', { skip: !redisAvailable() }, async (t) => {
  const redis = await redisFor(t);
  // A password, as in the Compose file, set once the fixture saw Redis ready.
  const admin = await redis.connect();
  await admin.command('CONFIG', 'SET', 'requirepass', 'doctor-pw');
  await admin.close();
  const result = await run(['doctor', '--listen', '127.0.0.1:0', '--max-connections', '100',
    '--backplane', `127.0.0.1:${redis.port},password=doctor-pw`]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /ok {4}backplane redis .*: reachable, publish to delivery [\d.]+ ms median/);
  assert.match(result.stdout, /ok {4}clock: -?\d+ ms from Redis's/);
  assert.match(result.stdout, /ok {4}descriptor limit \d+ covers --max-connections 100/);
  assert.doesNotMatch(result.stdout, /doctor-pw/);
  assert.match(result.stdout, /all checks passed/);
});

test('doctor: a stopped Redis fails with the fix', async () => {
  const port = await freePort();
  const result = await run(['doctor', '--listen', '127.0.0.1:0', '--backplane', `redis://127.0.0.1:${port}`]);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /FAIL {2}backplane .*no connection within 5 s\n {6}fix: check that redis:\/\/127\.0\.0\.1:\d+ is reachable/);
});

test('doctor: a descriptor limit below --max-connections fails with the fix', async () => {
  const result = await run(['doctor', '--listen', '127.0.0.1:0', '--max-connections', '10000'],
    { shell: 'ulimit -n 256 && exec "$@"' });
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /FAIL {2}descriptor limit 256 is below the 10064 that --max-connections 10000 needs\n {6}fix: raise the limit: LimitNOFILE=/);
});

test('doctor: a port in use fails with the fix', async (t) => {
  const busy = net.createServer();
  await new Promise((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.after(() => busy.close());
  const { port } = busy.address();
  const result = await run(['doctor', '--listen', `127.0.0.1:${port}`]);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, new RegExp(`FAIL {2}--listen 127\\.0\\.0\\.1:${port}: cannot bind: .*\\n {6}fix: stop what listens there`));
});
