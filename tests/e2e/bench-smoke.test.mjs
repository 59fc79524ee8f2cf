// Smoke run of the load generator: `switchboard bench` against a real server for about two
// seconds, checking that it connects, delivers everything and reports sane figures. Never
// asserts on speed: CI machines vary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, serverFor, withTimeout } from './server.mjs';
import { bench, benchRefusal } from './bench.mjs';
import { natsAvailable, natsFor } from './nats.mjs';
import { postgresAvailable, postgresFor } from './postgres.mjs';
import { redisAvailable, redisFor } from './redis.mjs';

// The rate and connection limits are for untrusted clients, presence events for chat pages;
// bench runs switch them off (bench/run.sh).
const UNLIMITED = ['--max-messages-per-second', '0', '--max-connections-per-ip', '0',
  '--max-connections-per-user', '0', '--negotiate-rate-per-ip', '0', '--chat-presence-events', 'false'];

function checkReport(report, { scenario, connections }) {
  assert.equal(report.scenario, scenario);
  assert.equal(report.connected, connections);
  assert.equal(report.connect_failures, 0);
  assert.equal(report.closed_by_server, 0);
  assert.ok(report.sent > 0, 'messages were sent');
  assert.ok(report.received > 0, 'messages were delivered');
  assert.equal(report.received, report.expected);
  assert.equal(report.lost, 0);
  assert.ok(report.deliveries_per_second > 0);
  const latency = report.latency_us;
  assert.equal(latency.count, report.received);
  assert.ok(latency.p50 > 0);
  assert.ok(latency.p50 <= latency.p99, 'p50 <= p99');
  assert.ok(latency.p99 <= latency.p999, 'p99 <= p99.9');
  assert.ok(latency.p999 <= latency.max, 'p99.9 <= max');
}

for (const scenario of ['broadcast', 'echo']) {
  test(`bench ${scenario}: 50 connections for 2 s deliver everything`, async (t) => {
    const server = await serverFor(t, UNLIMITED);
    const { report, stdout, stderr } = await bench(t, [scenario, '--url', `${server.url}/hubs/chat`,
      '--connections', '50', '--rate', '5', '--duration', '2s',
      '--server-pid', String(server.process.pid)]);
    checkReport(report, { scenario, connections: 50 });
    assert.ok(report.server.cpu_seconds >= 0);
    assert.ok(report.server.rss_connected_bytes > 0);
    // The markdown table on stdout, progress on stderr.
    assert.match(stdout, new RegExp(`^\\| ${scenario} \\| json \\| 50 \\|`, 'm'));
    assert.match(stderr, /delivered \d+/);
  });
}

test('bench over two worker processes and several source addresses, MessagePack', async (t) => {
  const server = await serverFor(t, UNLIMITED);
  const { report } = await bench(t, ['group', '--url', `${server.url}/hubs/chat`,
    '--connections', '40', '--rate', '5', '--duration', '2s', '--protocol', 'messagepack',
    '--processes', '2', '--source-addresses', '127.0.0.1-127.0.0.4']);
  checkReport(report, { scenario: 'group', connections: 40 });
  assert.equal(report.processes, 2);
  assert.equal(report.protocol, 'messagepack');
});

test('bench --stateful: its acks keep the server\'s replay buffer from filling up', async (t) => {
  // A 40 kB buffer, and debug logs: the server says when a client's buffer overflows.
  const server = await serverFor(t, [...UNLIMITED, '--stateful-reconnect-buffer-size', '40000',
    '--log-level', 'debug']);
  const log = () => server.stdout() + server.stderr();
  const base = ['broadcast', '--url', `${server.url}/hubs/chat`, '--connections', '10', '--stateful'];
  // About 11 kB a second per connection for 5 s: more than the buffer holds in all, well under
  // it between two acks (one a second).
  const { report } = await bench(t, [...base, '--rate', '10', '--message-size', '1024',
    '--duration', '5s']);
  checkReport(report, { scenario: 'broadcast', connections: 10 });
  assert.equal(report.stateful, true);
  assert.doesNotMatch(log(), /replay buffer full/);
  // The control: 100 kB a second overflows it between two acks, so the server did number and
  // keep these connections' messages (a version 1 handshake would not have).
  const control = await bench(t, [...base, '--rate', '50', '--message-size', '2048',
    '--duration', '2s']);
  checkReport(control.report, { scenario: 'broadcast', connections: 10 });
  assert.match(log(), /replay buffer full/);
});

test('bench --stateful is for Switchboard hub scenarios only', async () => {
  const { code, stderr } = await benchRefusal(['broadcast', '--target', 'socketio', '--stateful']);
  assert.equal(code, 2);
  assert.match(stderr, /--stateful: Switchboard hub scenarios only/);
});

test('bench refuses a server beyond loopback before any load', async () => {
  const { code, stderr } = await benchRefusal(['echo', '--url', 'http://192.0.2.1:5000/hubs/chat']);
  assert.equal(code, 2);
  assert.match(stderr, /not a loopback address/);
});

test('bench redis-publish: 2 s of publishes, each acknowledged by Redis and heard by a subscriber',
  { skip: redisAvailable() ? false : 'redis-server is not installed' }, async (t) => {
    const redis = await redisFor(t);
    const { report, stdout, stderr } = await bench(t, ['redis-publish', '--redis', redis.url,
      '--duration', '2s', '--subscribers', '1', '--server-pid', String(redis.pid)]);
    assert.equal(report.scenario, 'redis-publish');
    assert.equal(report.channel, 'chat:all');
    assert.ok(report.sent > 0, 'publishes were sent');
    assert.equal(report.acknowledged, report.sent);
    assert.equal(report.dropped, 0);
    assert.equal(report.error_replies, 0);
    assert.equal(report.received_by_subscribers, report.acknowledged);
    assert.ok(report.publishes_per_second > 0);
    assert.ok(report.latency_us.count > 0);
    assert.ok(report.latency_us.p50 <= report.latency_us.p99, 'p50 <= p99');
    assert.ok(report.server.cpu_seconds >= 0);
    assert.match(stdout, /^\| redis-publish \| 1 \| 256 \|/m);
    assert.match(stderr, /acknowledged \d+/);
  });

test('bench redis-publish refuses a Redis beyond loopback before any load', async () => {
  const { code, stderr } = await benchRefusal(['redis-publish', '--redis', 'redis://192.0.2.1:6379']);
  assert.equal(code, 2);
  assert.match(stderr, /not a loopback address/);
});

// The same window on each bus, through serve's own backplanes (bench/backplanes.sh runs it long).
const BUSES = [
  { name: 'redis', skip: !redisAvailable(), start: async (t) => { const r = await redisFor(t); return { url: r.url, pid: r.pid }; } },
  { name: 'postgres', skip: !postgresAvailable(), start: async (t) => { const p = await postgresFor(t); return { url: p.npgsql, pid: p.pid }; } },
  { name: 'nats', skip: !natsAvailable(), start: async (t) => { const n = await natsFor(t); return { url: n.url, pid: n.pid }; } },
];
for (const bus of BUSES) {
  test(`bench backplane-publish on ${bus.name}: 2 s of broadcasts, every one received by another instance`,
    { skip: bus.skip ? `no ${bus.name} server installed` : false }, async (t) => {
      const { url, pid } = await bus.start(t);
      const { report, stdout } = await bench(t, ['backplane-publish', '--backplane', url, '--duration', '2s',
        '--rate', '2000', '--server-pid', String(pid)]);
      assert.equal(report.scenario, 'backplane-publish');
      assert.equal(report.bus, bus.name);
      assert.ok(report.sent > 1000, `publications were sent (${report.sent})`);
      assert.equal(report.received, report.sent);
      assert.equal(report.dropped, 0);
      assert.equal(report.lost, 0);
      assert.equal(report.latency_us.count, report.received);
      assert.ok(report.latency_us.p50 <= report.latency_us.p99, 'p50 <= p99');
      assert.ok(report.server.cpu_seconds >= 0);
      assert.doesNotMatch(JSON.stringify(report), /Password=postgres/, 'the password reached the report');
      assert.match(stdout, new RegExp(`^\\| ${bus.name} \\| 1 \\|`, 'm'));
    });
}

test('bench backplane-publish refuses a bus beyond loopback before any load', async () => {
  for (const spec of ['nats://192.0.2.1:4222', 'Host=db.example.com;Database=x;Username=u', 'memory']) {
    const { code, stderr } = await benchRefusal(['backplane-publish', '--backplane', spec]);
    assert.equal(code, 2, spec);
    assert.match(stderr, /not a loopback address|shared between processes/, spec);
  }
});

test('bench/run.sh starts a server with the limits off, runs a scenario and stops it', async () => {
  const child = spawn(path.join(ROOT, 'bench', 'run.sh'),
    ['broadcast', '--connections', '20', '--rate', '5', '--duration', '1s', '--output-json', '-'],
    { cwd: ROOT, env: { ...process.env, BENCH_TIMEOUT: '60' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const code = await withTimeout(new Promise((resolve) => child.once('close', resolve)), 60_000, 'timeout');
  if (code === 'timeout') child.kill('SIGKILL');
  assert.equal(code, 0, `run.sh exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  const report = JSON.parse(stdout);
  checkReport(report, { scenario: 'broadcast', connections: 20 });
  assert.ok(report.server.rss_connected_bytes > 0, 'run.sh passes the server pid');
});
