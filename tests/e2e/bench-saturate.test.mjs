// Issue #6: the saturation comparison (bench/saturate.sh, COMPARE_MODE=saturate bench/compare.sh)
// and its report. The report's logic runs on fixtures; one tiny real run (Switchboard only, two
// steps of a one-second window) checks that the script runs end to end. Never asserts on speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, withTimeout } from './server.mjs';
import { renderSaturation, splitBenchmarks, writeBenchmarks } from '../../bench/saturation-report.mjs';

const ENV = ['date=2026-11-30 12:00 UTC', 'cpu=Test CPU', 'nproc=2', 'kernel=6', 'memory=1 GiB',
  'switchboard=abc1234', 'socketio=4', 'redis_adapter=8', 'node=v20', 'nchan=1', 'nginx=1',
  'redis=7', 'load_before=0.1, 0.1, 0.1', 'load_after=0.2, 0.2, 0.2', 'server_threads=1'];

function tempDir(t, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A bench report as `switchboard bench` writes it, with the fields the report reads. */
function report(offered, { onTime = offered, p99Ms = 10, crossP99Ms = 12, lost = 0 } = {}) {
  const latency = (p99) => ({ count: 1, p50: p99 * 500, p99: p99 * 1000, p999: p99 * 1100, max: p99 * 1200, mean: p99 * 500 });
  return {
    connected: 1000, lost, deadline_ms: 1000, deliveries_per_second: offered,
    on_time_deliveries_per_second: onTime, latency_us: latency(p99Ms),
    cross_instance: { received: 1, latency_us: latency(crossP99Ms) },
    server: { cpu_seconds_per_million_deliveries: 10 }, generator: { cpu_cores: 0.5 },
  };
}

function step(system, offered, verdict, options, attempt = 1) {
  return { system, offered, attempt, verdict, report: report(offered, options) };
}

function writeResults(dir, run) {
  fs.writeFileSync(path.join(dir, 'env.txt'), [...ENV, 'mode=saturate'].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'saturation.json'), JSON.stringify({
    connections: 1000, message_size: 256, duration: '10s', deadline: '1s', generator_threads: 2,
    retries: 1, offered: [25000, 50000, 100000, 200000], ...run,
  }));
}

const envOf = () => Object.fromEntries(ENV.map((line) => line.split('=')));

test('saturation report: figures, ratios against the targets, the half-saturation latency', (t) => {
  const dir = tempDir(t, 'saturation-report-');
  writeResults(dir, {
    systems: [
      { system: 'switchboard', saturation: 200000, saturated_at: null, reason: null },
      { system: 'socketio', saturation: 25000, saturated_at: 50000, reason: 'late' },
      { system: 'nchan', saturation: 100000, saturated_at: 200000, reason: 'p99' },
    ],
    steps: [
      step('switchboard', 25000, 'ok'), step('switchboard', 200000, 'ok'),
      step('socketio', 25000, 'ok'), step('socketio', 50000, 'late', { onTime: 20000 }),
      step('socketio', 50000, 'late', { onTime: 20000 }, 2),
      step('nchan', 100000, 'ok'), step('nchan', 200000, 'p99', { p99Ms: 1500 }),
    ],
    half: { offered: 100000, report: report(100000, { crossP99Ms: 3.5 }) },
  });
  const text = renderSaturation(dir, envOf());
  assert.match(text, /^<!-- saturation -->\n## Saturation/);
  assert.match(text, /\| Switchboard \| ≥ 200,000 \| none \(did not saturate\) \| - \|/);
  assert.match(text, /\| Socket\.IO \| 25,000 \| 50,000 \| late \|/);
  // 200,000 / 25,000 = 8x: short of 10x, but Switchboard never failed a step, so unknown.
  assert.match(text, /Switchboard \/ Socket\.IO, saturation deliveries\/s \| ≥ 8\.0x \| ≥ 10x \| unknown/);
  assert.match(text, /Switchboard \/ Nchan, saturation deliveries\/s \| ≥ 2\.0x \| ≥ 2x \| yes \|/);
  assert.match(text, /Cross-instance p99 at half .*\(100,000 deliveries\/s offered, half of a lower bound\) \| 3\.50 ms \| < 5 ms \| yes \|/);
  // Every attempt is a row, and the half-saturation run.
  assert.equal(text.split('\n').filter((line) => /^\| (Switchboard|Socket\.IO|Nchan) \| [\d,]+ \| (\d+|half) \| [\d,]+ \|/.test(line)).length, 8);
});

test('saturation report: a peer that fails the first step, a ratio that misses its target', (t) => {
  const dir = tempDir(t, 'saturation-report-');
  writeResults(dir, {
    systems: [
      { system: 'switchboard', saturation: 100000, saturated_at: 200000, reason: 'lost' },
      { system: 'socketio', saturation: null, saturated_at: 25000, reason: 'late' },
      { system: 'nchan', saturation: 100000, saturated_at: 200000, reason: 'late' },
    ],
    steps: [step('switchboard', 100000, 'ok'), step('socketio', 25000, 'late', { onTime: 1000 })],
    half: null,
  });
  const text = renderSaturation(dir, envOf());
  assert.match(text, /\| Socket\.IO \| below 25,000 \| 25,000 \| late \|/);
  assert.match(text, /Switchboard \/ Socket\.IO, saturation deliveries\/s \| > 4\.0x \| ≥ 10x \| unknown/);
  assert.match(text, /Switchboard \/ Nchan, saturation deliveries\/s \| 1\.0x \| ≥ 2x \| no \|/);
  assert.match(text, /Cross-instance p99 at half Switchboard's saturation \| not measured/);
});

test('saturation report: ratios of figures that are bounds', (t) => {
  const dir = tempDir(t, 'saturation-report-');
  writeResults(dir, {
    systems: [
      { system: 'switchboard', saturation: 200000, saturated_at: null, reason: null },
      { system: 'socketio', saturation: 200000, saturated_at: null, reason: null },
      { system: 'nchan', saturation: 100000, saturated_at: null, reason: null },
    ],
    steps: [],
    half: null,
  });
  let text = renderSaturation(dir, envOf());
  assert.match(text, /Switchboard \/ Socket\.IO, saturation deliveries\/s \| - \(neither saturated\) \| ≥ 10x \| unknown/);

  writeResults(dir, {
    systems: [
      { system: 'switchboard', saturation: 100000, saturated_at: 140000, reason: 'late' },
      { system: 'socketio', saturation: 50000, saturated_at: null, reason: null },
    ],
    steps: [],
    half: null,
  });
  text = renderSaturation(dir, envOf());
  assert.match(text, /Switchboard \/ Socket\.IO, saturation deliveries\/s \| ≤ 2\.0x \| ≥ 10x \| no \|/);
});

test('BENCHMARKS.md: each run replaces its own part and keeps the others', (t) => {
  const docs = tempDir(t, 'benchmarks-doc-');
  const file = path.join(docs, 'BENCHMARKS.md');
  fs.writeFileSync(file, '# Benchmarks\n\nold top\n\n<!-- redis-publish -->\n## Redis publish\n\nby hand\n');
  writeBenchmarks(docs, { saturation: '<!-- saturation -->\n## Saturation\n\nfirst' });
  let parts = splitBenchmarks(fs.readFileSync(file, 'utf8'));
  assert.equal(parts.top, '# Benchmarks\n\nold top');
  assert.equal(parts.saturation, '<!-- saturation -->\n## Saturation\n\nfirst');
  assert.equal(parts.tail, '<!-- redis-publish -->\n## Redis publish\n\nby hand');

  // The fixed-rate report (bench/compare-report.mjs without saturation.json) rewrites the top only.
  const results = tempDir(t, 'compare-results-');
  fs.writeFileSync(path.join(results, 'env.txt'), [...ENV, 'connections=50', 'rate=5', 'size=256',
    'duration=1s', 'systems=switchboard'].join('\n') + '\n');
  fs.writeFileSync(path.join(results, 'switchboard-50.json'), JSON.stringify(report(250)));
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/compare-report.mjs'), results, docs]);
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve) => child.once('close', resolve)).then((code) => {
    assert.equal(code, 0, stderr);
    const text = fs.readFileSync(file, 'utf8');
    parts = splitBenchmarks(text);
    assert.match(parts.top, /^# Benchmarks: Switchboard, Socket\.IO and Nchan/);
    assert.match(parts.top, /\| Switchboard \| 50 \| 1000 \| 250 \|/);
    assert.equal(parts.saturation, '<!-- saturation -->\n## Saturation\n\nfirst');
    assert.equal(parts.tail, '<!-- redis-publish -->\n## Redis publish\n\nby hand');
    assert.ok(text.indexOf('<!-- saturation -->') < text.indexOf('<!-- redis-publish -->'));
  });
});

test('the fixed-rate report: idle memory side by side, and a loss when Switchboard needs more', async (t) => {
  const docs = tempDir(t, 'benchmarks-idle-');
  const results = tempDir(t, 'compare-idle-');
  fs.writeFileSync(path.join(results, 'env.txt'), [...ENV, 'connections=50', 'rate=5', 'size=256',
    'duration=1s', 'systems=switchboard socketio nchan', 'idle=4000'].join('\n') + '\n');
  const idle = (kib) => ({ connected: 4000, server: { rss_per_connection_bytes: kib * 1024 } });
  fs.writeFileSync(path.join(results, 'switchboard-idle.json'), JSON.stringify(idle(6)));
  fs.writeFileSync(path.join(results, 'socketio-idle.json'), JSON.stringify(idle(12)));
  fs.writeFileSync(path.join(results, 'nchan-idle.json'), JSON.stringify(idle(4)));
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/compare-report.mjs'), results, docs]);
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0, stderr);
  const text = fs.readFileSync(path.join(docs, 'BENCHMARKS.md'), 'utf8');
  assert.match(text, /## Idle connections\n\nMemory per idle WebSocket connection: 4000 connections/);
  assert.match(text, /\| Switchboard \| 4000 \| 6\.0 KiB \| - \|/);
  assert.match(text, /\| Socket\.IO \| 4000 \| 12\.0 KiB \| 0\.50 \|/);
  assert.match(text, /\| Nchan \| 4000 \| 4\.0 KiB \| 1\.50 \|/);
  assert.match(text, /- against Nchan, 4000 idle connections: idle RSS per connection 6\.0 KiB against 4\.0 KiB/);
  assert.doesNotMatch(text, /against Socket\.IO, 4000 idle/);
});

test('COMPARE_MODE=saturate bench/compare.sh: a tiny Switchboard-only run writes its results and section', async (t) => {
  const results = tempDir(t, 'saturate-results-');
  const docs = tempDir(t, 'saturate-docs-');
  fs.writeFileSync(path.join(docs, 'BENCHMARKS.md'), '# top\n\n<!-- redis-publish -->\nkept\n');
  const child = spawn(path.join(ROOT, 'bench/compare.sh'), [], {
    cwd: ROOT,
    env: {
      ...process.env, COMPARE_MODE: 'saturate', COMPARE_SYSTEMS: 'switchboard', SATURATE_CONNECTIONS: '40',
      SATURATE_STEPS: '400 1600', COMPARE_DURATION: '1s', SATURATE_RETRIES: '0', SATURATE_THREADS: '1',
      COMPARE_MAX_SECONDS: '120', RESULTS_DIR: results, COMPARE_DOCS: docs,
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  child.stdout.resume();
  const code = await withTimeout(new Promise((resolve) => child.once('close', resolve)), 120_000, 'timeout');
  if (code === 'timeout') child.kill('SIGTERM');
  assert.equal(code, 0, `saturate exited with ${code}\n${stderr.slice(-4000)}`);

  const run = JSON.parse(fs.readFileSync(path.join(results, 'saturation.json'), 'utf8'));
  assert.deepEqual(run.offered, [400, 1600]);
  assert.equal(run.systems.length, 1);
  assert.equal(run.systems[0].system, 'switchboard');
  assert.ok(run.steps.length >= 1);
  for (const s of run.steps) {
    assert.ok(['ok', 'late', 'lost', 'p99', 'connect', 'failed'].includes(s.verdict), s.verdict);
    if (s.report) {
      assert.equal(s.report.servers, 2);
      assert.ok(s.report.on_time <= s.report.received);
      assert.ok(s.report.cross_instance.received > 0, 'receivers on instance 2 were timed');
    }
  }
  if (run.systems[0].saturation !== null) {
    assert.ok(run.half.report.cross_instance.latency_us.p99 > 0);
  }
  const text = fs.readFileSync(path.join(docs, 'BENCHMARKS.md'), 'utf8');
  assert.match(text, /^# top\n\n<!-- saturation -->\n## Saturation\n/);
  assert.match(text, /\n<!-- redis-publish -->\nkept\n$/);
});
