// Writes docs/BENCHMARKS.md and the gnuplot data from the results of bench/compare.sh.
//   node bench/compare-report.mjs RESULTS_DIR DOCS_DIR [NOTES.md]
// RESULTS_DIR holds env.txt (key=value lines) and SYSTEM-CONNECTIONS.json reports of
// `switchboard bench`; NOTES.md (default RESULTS_DIR/notes.md),
// if any, is appended as written: observations on that run's conditions.
// With RESULTS_DIR/saturation.json (bench/saturate.sh) it writes the "Saturation" section
// instead; either way the other parts of BENCHMARKS.md are kept (bench/saturation-report.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { renderSaturation, writeBenchmarks } from './saturation-report.mjs';

const [resultsDir, docsDir, notesArg] = process.argv.slice(2);
if (!resultsDir || !docsDir) {
  console.error('usage: node bench/compare-report.mjs RESULTS_DIR DOCS_DIR');
  process.exit(2);
}

const env = Object.fromEntries(fs.readFileSync(path.join(resultsDir, 'env.txt'), 'utf8')
  .split('\n').filter((line) => line.includes('='))
  .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
if (fs.existsSync(path.join(resultsDir, 'saturation.json'))) {
  writeBenchmarks(docsDir, { saturation: renderSaturation(resultsDir, env) });
  process.exit(0);
}
const systems = env.systems.split(/\s+/).filter(Boolean);
const counts = env.connections.split(/\s+/).filter(Boolean).map(Number);
const names = { switchboard: 'Switchboard', socketio: 'Socket.IO', nchan: 'Nchan' };

const results = {};
for (const system of systems) {
  for (const n of counts) {
    const file = path.join(resultsDir, `${system}-${n}.json`);
    if (fs.existsSync(file)) results[`${system}-${n}`] = JSON.parse(fs.readFileSync(file, 'utf8'));
  }
}

const fixed = (value, digits) => (value === undefined || value === null ? '-' : value.toFixed(digits));
const ms = (us) => fixed(us / 1000, 2);
const row = (system, n) => {
  const r = results[`${system}-${n}`];
  if (!r) return `| ${names[system]} | ${n} | failed | - | - | - | - | - | - | - |`;
  const cpu = r.server?.cpu_seconds_per_million_deliveries;
  const rss = r.server?.rss_per_connection_bytes;
  return `| ${names[system]} | ${n} | ${r.connected} | ${fixed(r.deliveries_per_second, 0)} | ` +
    `${ms(r.latency_us.p50)} | ${ms(r.latency_us.p99)} | ${ms(r.latency_us.p999)} | ${r.lost} | ` +
    `${fixed(cpu, 2)} | ${rss === undefined ? '-' : `${fixed(rss / 1024, 1)} KiB`} |`;
};

// Ratios Switchboard / peer: above 1 Switchboard delivers more, or has the larger latency or cost.
const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '-');
const ratioRows = [];
for (const peer of systems.filter((s) => s !== 'switchboard')) {
  for (const n of counts) {
    const sb = results[`switchboard-${n}`];
    const p = results[`${peer}-${n}`];
    ratioRows.push(`| ${names[peer]} | ${n} | ${ratio(sb?.deliveries_per_second, p?.deliveries_per_second)} | ` +
      `${ratio(sb?.latency_us.p50, p?.latency_us.p50)} | ${ratio(sb?.latency_us.p99, p?.latency_us.p99)} | ` +
      `${ratio(sb?.server?.cpu_seconds_per_million_deliveries, p?.server?.cpu_seconds_per_million_deliveries)} | ` +
      `${ratio(sb?.server?.rss_per_connection_bytes, p?.server?.rss_per_connection_bytes)} |`);
  }
}

// Where Switchboard does worse than a peer by more than 10%, computed so that a regenerated
// report never keeps a stale claim.
const losses = [];
const worse = (label, sbValue, peerValue, higherIsBetter, unit) => {
  if (!sbValue || !peerValue) return null;
  const bad = higherIsBetter ? sbValue < peerValue / 1.1 : sbValue > peerValue * 1.1;
  return bad ? `${label} ${unit(sbValue)} against ${unit(peerValue)}` : null;
};
for (const peer of systems.filter((s) => s !== 'switchboard')) {
  for (const n of counts) {
    const sb = results[`switchboard-${n}`];
    const p = results[`${peer}-${n}`];
    if (!sb || !p) continue;
    const items = [
      worse('deliveries/s', sb.deliveries_per_second, p.deliveries_per_second, true, (v) => v.toFixed(0)),
      worse('p50', sb.latency_us.p50, p.latency_us.p50, false, (v) => `${(v / 1000).toFixed(1)} ms`),
      worse('p99', sb.latency_us.p99, p.latency_us.p99, false, (v) => `${(v / 1000).toFixed(1)} ms`),
      worse('server CPU per 1M deliveries', sb.server?.cpu_seconds_per_million_deliveries,
        p.server?.cpu_seconds_per_million_deliveries, false, (v) => `${v.toFixed(1)} s`),
      worse('server RSS per connection', sb.server?.rss_per_connection_bytes,
        p.server?.rss_per_connection_bytes, false, (v) => `${(v / 1024).toFixed(1)} KiB`),
    ].filter(Boolean);
    if (sb.lost > p.lost) items.push(`lost ${sb.lost} against ${p.lost}`);
    if (items.length > 0) losses.push(`- against ${names[peer]} at ${n} connections: ${items.join('; ')}`);
  }
}

// Memory per idle connection, when the run measured it (COMPARE_IDLE).
const idle = {};
for (const system of systems) {
  const file = path.join(resultsDir, `${system}-idle.json`);
  if (fs.existsSync(file)) idle[system] = JSON.parse(fs.readFileSync(file, 'utf8'));
}
const rssOf = (r) => r?.server?.rss_per_connection_bytes;
const idleRows = Object.entries(idle).map(([system, r]) => `| ${names[system]} | ${r.connected} | ` +
  `${rssOf(r) === undefined ? '-' : `${(rssOf(r) / 1024).toFixed(1)} KiB`} | ` +
  `${system === 'switchboard' ? '-' : ratio(rssOf(idle.switchboard), rssOf(r))} |`);
for (const peer of Object.keys(idle).filter((s) => s !== 'switchboard')) {
  const item = worse('idle RSS per connection', rssOf(idle.switchboard), rssOf(idle[peer]), false,
    (v) => `${(v / 1024).toFixed(1)} KiB`);
  if (item) losses.push(`- against ${names[peer]}, ${env.idle} idle connections: ${item}`);
}
const idleSection = idleRows.length === 0 ? '' : `## Idle connections

Memory per idle WebSocket connection: ${env.idle} connections (half on each instance) connected
and held for 3 s; server RSS growth summed over both instances, divided by connections
(issue #6 target for Switchboard: at most 4 KiB).

| System | Connected | Server RSS per connection | Switchboard / system |
| --- | ---: | ---: | ---: |
${idleRows.join('\n')}
`;

// gnuplot data: connections, then deliveries/s and p99 ms of each system; '?' when missing.
const plot = ['# connections ' + systems.map((s) => `${s}_deliveries_per_s ${s}_p99_ms`).join(' ')];
for (const n of counts) {
  const cells = [n];
  for (const system of systems) {
    const r = results[`${system}-${n}`];
    cells.push(r ? r.deliveries_per_second.toFixed(1) : '?', r ? (r.latency_us.p99 / 1000).toFixed(3) : '?');
  }
  plot.push(cells.join(' '));
}
fs.writeFileSync(path.join(resultsDir, 'plot.dat'), plot.join('\n') + '\n');

const notesFile = notesArg || path.join(resultsDir, 'notes.md');
const notes = fs.existsSync(notesFile) ? fs.readFileSync(notesFile, 'utf8').trim() : '';

const doc = `# Benchmarks: Switchboard, Socket.IO and Nchan

Generated by \`bench/compare.sh\` (issue #6) on ${env.date}; regenerate with the same command
(\`COMPARE_QUICK=1\` for the reduced run). Every system runs as **two instances on one Redis**
and the same generator (\`switchboard bench --target ...\`) drives them with the same scenario:
one sender on instance 1 broadcasts, every connection (half on each instance) receives, so
every delivery to instance 2 crossed Redis.

## Machine

| | |
| --- | --- |
| CPU | ${env.cpu}, ${env.nproc} cores (\`nproc\`) |
| Kernel | ${env.kernel} |
| Memory | ${env.memory} |
| Load average (1, 5, 15 min) before / after | ${env.load_before} / ${env.load_after} |

Servers, Redis and the generator share these cores: the generator's own CPU is part of every
latency figure, and the machine was not reserved for the run (see the notes below).

## Versions

| System | Version | Scale-out |
| --- | --- | --- |
| Switchboard | git ${env.switchboard}, release build, \`--threads ${env.server_threads}\`${env.server_threads === '0' ? ' (one shard per core)' : ''} per instance | Redis backplane (\`--backplane redis://...\`) |
| Socket.IO | ${env.socketio} on Node ${env.node}, one process per instance | @socket.io/redis-adapter ${env.redis_adapter} |
| Nchan | libnginx-mod-nchan ${env.nchan}, nginx ${env.nginx}, one worker per core | \`nchan_redis_pass\` |
| Redis | ${env.redis} | one instance for all |

## Parameters

Scenario \`broadcast\`: 1 sender at ${env.rate} messages/s, ${env.size}-byte messages (a 20-digit
send timestamp, then padding), ${env.duration} send window, connections ${counts.join(', ')}
spread round-robin over the two instances. Switchboard: JSON hub protocol, per-client limits off
as in \`bench/run.sh\`; Socket.IO: engine.io v4 over WebSocket, event \`broadcast\`; Nchan:
WebSocket subscribers of one channel, the sender an HTTP keep-alive \`POST /pub/<channel>\` to
instance 1 (bench/peers/README.md). Server CPU and RSS are summed over both instances and their
child processes (nginx workers), read from \`/proc\`: CPU from window start to drain end, RSS
growth from before connecting to connected, divided by connections.

## Results

| System | Connections | Connected | Deliveries/s | p50 ms | p99 ms | p99.9 ms | Lost | Server CPU s per 1M deliveries | Server RSS per connection |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${systems.flatMap((s) => counts.map((n) => row(s, n))).join('\n')}

Ratios Switchboard / peer (deliveries/s: above 1 is better for Switchboard; latency, CPU and
RSS: below 1 is better for Switchboard):

| Peer | Connections | Deliveries/s | p50 | p99 | CPU per delivery | RSS per connection |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${ratioRows.join('\n')}

![Deliveries per second and p99 latency against connections](benchmarks.png)

### Where Switchboard loses (worse by more than 10% in this run)

${losses.length > 0 ? losses.join('\n') : '- nowhere in this run.'}

${idleSection}
${notes}
`;
writeBenchmarks(docsDir, { top: doc.trim() });
