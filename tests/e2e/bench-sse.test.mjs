// Smoke run of the event-stream scenarios of the load generator (`switchboard bench sse` and
// `sse-idle`) against a real server for a couple of seconds: subscribers open, the publisher's
// events reach all of them, and the report has its figures. Never asserts on speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverFor } from './server.mjs';
import { bench, benchRefusal } from './bench.mjs';

const KEY = 'bench-sse-smoke-key';
// Per-client limits off, as bench/run.sh and bench/sse.sh start a bench server.
const SERVER = ['--max-messages-per-second', '0', '--max-connections-per-ip', '0',
  '--max-connections-per-user', '0', '--negotiate-rate-per-ip', '0', '--events-publish-key', KEY];

test('bench sse: 40 subscribers on 2 channels get every event for 2 s', async (t) => {
  const server = await serverFor(t, SERVER);
  const { report, stdout } = await bench(t, ['sse', '--url', server.url, '--connections', '40',
    '--channels', '2', '--rate', '10', '--duration', '2s', '--publish-key', KEY,
    '--source-addresses', '127.0.0.1-127.0.0.2', '--server-pid', String(server.process.pid)]);
  assert.equal(report.scenario, 'sse');
  assert.equal(report.protocol, 'sse');
  assert.equal(report.channels, 2);
  assert.equal(report.senders, 2, 'one publisher per channel');
  assert.equal(report.connected, 40);
  assert.equal(report.connect_failures, 0);
  assert.equal(report.closed_by_server, 0);
  assert.ok(report.sent > 0, 'events were published');
  assert.equal(report.publish_rejected, 0);
  assert.ok(report.received > 0, 'events were delivered');
  // Each event reaches the 20 subscribers of its channel.
  assert.equal(report.expected, report.sent * 20);
  assert.equal(report.received, report.expected);
  assert.equal(report.lost, 0);
  assert.ok(report.deliveries_per_second > 0);
  const latency = report.latency_us;
  assert.equal(latency.count, report.received);
  assert.ok(latency.p50 > 0 && latency.p50 <= latency.p99 && latency.p99 <= latency.max);
  assert.ok(report.server.cpu_seconds >= 0);
  assert.ok(report.server.rss_connected_bytes > 0);
  assert.ok('rss_per_connection_bytes' in report.server);
  assert.match(stdout, /^\| sse \| sse \| 40 \| 2 \|/m);
});

test('bench sse-idle: subscribers hold and the server memory per subscriber is reported', async (t) => {
  const server = await serverFor(t, SERVER);
  const { report } = await bench(t, ['sse-idle', '--url', server.url, '--connections', '100',
    '--duration', '1s', '--server-pid', String(server.process.pid)]);
  assert.equal(report.scenario, 'sse-idle');
  assert.equal(report.connected, 100);
  assert.equal(report.closed_by_server, 0);
  assert.equal(report.sent, 0);
  assert.equal(typeof report.server.rss_per_connection_bytes, 'number');
});

test('bench sse without the publish key: every publish is refused, so nothing is delivered', async (t) => {
  const server = await serverFor(t, SERVER);
  const { report } = await bench(t, ['sse', '--url', server.url, '--connections', '5',
    '--rate', '20', '--duration', '1s']);
  assert.ok(report.sent > 0);
  assert.equal(report.publish_rejected, report.sent, 'every publish was answered 401');
  assert.equal(report.received, 0);
  assert.equal(report.lost, report.expected);
});

test('bench sse refuses Socket.IO, which has no event streams, before any load', async () => {
  const { code, stderr } = await benchRefusal(['sse', '--target', 'socketio']);
  assert.equal(code, 2);
  assert.match(stderr, /no Server-Sent Events/);
});
