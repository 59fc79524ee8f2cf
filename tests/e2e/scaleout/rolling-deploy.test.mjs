// Issue 19: a rolling deploy under steady traffic (bench/rolling-deploy.mjs with a small load): three
// instances behind deploy/nginx/compose.conf on Redis, restarted one at a time, clients with automatic and
// stateful reconnect. No client loses a message while connected, none receives one twice, each reconnects
// at most once per restart, quickly, and all are connected at the end. Messages broadcast while a client
// was between two connections are counted and reported, not hidden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { redisAvailable } from '../redis.mjs';
import { rollingDeploy } from '../../../bench/rolling-deploy.mjs';

const nginx = spawnSync(process.env.NGINX_BIN ?? 'nginx', ['-v'], { stdio: 'ignore' }).status === 0;
const skip = !redisAvailable() ? 'redis-server is not installed' : !nginx ? 'nginx is not installed' : false;

test('rolling restart of three instances behind nginx under a steady broadcast', { skip, timeout: 120_000 }, async (t) => {
  const clients = 9;
  const report = await rollingDeploy({ clients, rate: 40, settleMs: 1_500, log: (line) => t.diagnostic(line) });
  const { perClient, ...summary } = report;
  t.diagnostic(JSON.stringify(summary));

  assert.equal(report.restarts.length, 3);
  for (const restart of report.restarts) {
    assert.equal(restart.exit, 0, 'a drained instance exits 0');
    assert.equal(restart.forced, false, 'the drain ends within its timeout');
  }
  assert.ok(report.published > 100, `steady traffic: ${report.published} published`);
  assert.equal(report.publishFailures, 0);
  assert.equal(report.connectedAtEnd, clients, 'every client is connected at the end');
  assert.equal(report.lostWhileConnected, 0, 'nothing lost while a client was connected');
  assert.equal(report.duplicates, 0, 'nothing delivered twice');
  assert.ok(report.clientsReconnected > 0, 'the restarts moved clients');
  assert.ok(report.maxReconnectsPerClientPerRestart <= 1, 'each client reconnects at most once per restart');
  assert.ok(report.maxReconnectsPerClient <= report.restarts.length);
  assert.ok(report.maxReconnectMs < 5_000, `reconnects are quick: ${report.maxReconnectMs} ms`);
  assert.equal(report.lost, report.lostInReconnects);
});
