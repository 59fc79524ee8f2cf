// The "Saturation" section of docs/BENCHMARKS.md from the results of bench/saturate.sh, and the
// splicing of the file's parts: bench/compare.sh writes the top, bench/saturate.sh the section
// after `<!-- saturation -->`, and whatever follows a `<!-- redis-publish -->` line is written
// by hand; each run replaces its own part and keeps the others.
import fs from 'node:fs';
import path from 'node:path';

export const SATURATION_MARK = '<!-- saturation -->';
export const REDIS_PUBLISH_MARK = '<!-- redis-publish -->';

// Issue #6: Switchboard's saturation deliveries/s against each peer's, and the cross-instance
// p99 at half Switchboard's saturation rate.
const RATIO_TARGETS = { socketio: 10, nchan: 2 };
const CROSS_P99_TARGET_MS = 5;

const names = { switchboard: 'Switchboard', socketio: 'Socket.IO', nchan: 'Nchan' };
const nameOf = (system) => names[system] ?? system;

/** { top, saturation, tail } of an existing BENCHMARKS.md; missing parts are ''. */
export function splitBenchmarks(text) {
  const lines = text.split('\n');
  const at = (mark) => lines.findIndex((line) => line.trim() === mark);
  const tailAt = at(REDIS_PUBLISH_MARK);
  const end = tailAt >= 0 ? tailAt : lines.length;
  const satAt = at(SATURATION_MARK);
  const hasSaturation = satAt >= 0 && satAt < end;
  return {
    top: lines.slice(0, hasSaturation ? satAt : end).join('\n').trim(),
    saturation: hasSaturation ? lines.slice(satAt, end).join('\n').trim() : '',
    tail: tailAt >= 0 ? lines.slice(tailAt).join('\n').trim() : '',
  };
}

/** Writes DOCS/BENCHMARKS.md with the parts given in `parts` and the others of the existing file. */
export function writeBenchmarks(docsDir, parts) {
  const file = path.join(docsDir, 'BENCHMARKS.md');
  const existing = splitBenchmarks(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  const merged = { ...existing, ...parts };
  const text = [merged.top, merged.saturation, merged.tail].filter(Boolean).join('\n\n');
  fs.writeFileSync(file, text + '\n');
}

const group = (value) => (value === null || value === undefined ? '-' : Math.round(value).toLocaleString('en-US'));
const ms = (us) => (us === null || us === undefined ? '-' : (us / 1000).toFixed(2));
const fixed = (value, digits) => (value === null || value === undefined ? '-' : value.toFixed(digits));

/** A system's figure as text: a lower bound when it never failed, an upper one when it never passed. */
function figure(summary, firstStep) {
  if (!summary) return 'not run';
  if (summary.saturation === null) return `below ${group(firstStep)}`;
  return summary.saturated_at === null ? `≥ ${group(summary.saturation)}` : group(summary.saturation);
}

/** Switchboard / peer with its target: [measured, met]. */
function ratioOf(sb, peer, target, firstStep) {
  if (!sb || !peer || sb.saturation === null) return ['-', '-'];
  if (peer.saturation === null) {
    // The peer failed the first step: the ratio is at least Switchboard / that step.
    const low = sb.saturation / firstStep;
    return [`> ${low.toFixed(1)}x`, low >= target ? 'yes' : 'unknown (finer steps needed)'];
  }
  const ratio = sb.saturation / peer.saturation;
  const sbBound = sb.saturated_at === null;  // Switchboard's figure is a lower bound
  const peerBound = peer.saturated_at === null;  // the peer's likewise
  if (sbBound && peerBound) return ['- (neither saturated)', 'unknown (more steps needed)'];
  if (peerBound) {
    // The peer may go further: the ratio is at most this.
    return [`≤ ${ratio.toFixed(1)}x`, ratio < target ? 'no' : 'unknown (the peer did not saturate)'];
  }
  const met = ratio >= target ? 'yes' : sbBound ? 'unknown (Switchboard did not saturate)' : 'no';
  return [`${sbBound ? '≥ ' : ''}${ratio.toFixed(1)}x`, met];
}

/** The Markdown of the section, from RESULTS_DIR/saturation.json and env.txt. */
export function renderSaturation(resultsDir, env) {
  const run = JSON.parse(fs.readFileSync(path.join(resultsDir, 'saturation.json'), 'utf8'));
  const firstStep = run.offered[0];
  const summaries = Object.fromEntries(run.systems.map((s) => [s.system, s]));
  const systems = run.systems.map((s) => s.system);
  const sb = summaries.switchboard;

  const summaryRows = systems.map((system) => {
    const s = summaries[system];
    return `| ${nameOf(system)} | ${figure(s, firstStep)} | ` +
      `${s.saturated_at === null ? 'none (did not saturate)' : group(s.saturated_at)} | ${s.reason ?? '-'} |`;
  });

  const targetRows = [];
  for (const peer of ['socketio', 'nchan']) {
    if (!summaries[peer]) continue;
    const [measured, met] = ratioOf(sb, summaries[peer], RATIO_TARGETS[peer], firstStep);
    targetRows.push(`| Switchboard / ${nameOf(peer)}, saturation deliveries/s | ${measured} | ` +
      `≥ ${RATIO_TARGETS[peer]}x | ${met} |`);
  }
  const cross = run.half?.report?.cross_instance?.latency_us;
  if (run.half) {
    const p99 = cross ? cross.p99 / 1000 : null;
    const lowerBound = sb?.saturated_at === null ? ', half of a lower bound' : '';
    targetRows.push(`| Cross-instance p99 at half Switchboard's saturation ` +
      `(${group(run.half.offered)} deliveries/s offered${lowerBound}) | ${p99 === null ? '-' : `${p99.toFixed(2)} ms`} | ` +
      `< ${CROSS_P99_TARGET_MS} ms | ${p99 === null ? '-' : p99 < CROSS_P99_TARGET_MS ? 'yes' : 'no'} |`);
  } else if (sb) {
    targetRows.push(`| Cross-instance p99 at half Switchboard's saturation | not measured | ` +
      `< ${CROSS_P99_TARGET_MS} ms | - |`);
  }

  // A generator near all of its threads' CPU was part of the limit, not only the server.
  const generatorBusy = (r) => (r?.generator?.cpu_cores ?? 0) >= 0.9 * run.generator_threads;
  const stepRow = (system, offered, attempt, verdict, r) => {
    if (!r) return `| ${nameOf(system)} | ${group(offered)} | ${attempt} | - | - | - | - | - | - | - | - | ${verdict} |`;
    return `| ${nameOf(system)} | ${group(offered)} | ${attempt} | ${group(r.deliveries_per_second)} | ` +
      `${group(r.on_time_deliveries_per_second)} | ${ms(r.latency_us.p50)} | ${ms(r.latency_us.p99)} | ` +
      `${ms(r.cross_instance?.latency_us.p99)} | ${r.lost} | ` +
      `${fixed(r.server?.cpu_seconds_per_million_deliveries, 2)} | ${fixed(r.generator?.cpu_cores, 2)} | ` +
      `${verdict}${generatorBusy(r) ? ' (generator busy)' : ''} |`;
  };
  const stepRows = run.steps.map((s) => stepRow(s.system, s.offered, s.attempt, s.verdict, s.report));
  if (run.half) stepRows.push(stepRow('switchboard', run.half.offered, 'half', 'half saturation', run.half.report));

  const retried = run.retries > 0 ? `run again up to ${run.retries} time(s) before it counts` : 'not run again';
  return `${SATURATION_MARK}
## Saturation

Generated by \`bench/saturate.sh\` (or \`COMPARE_MODE=saturate bench/compare.sh\`) on ${env.date};
Switchboard git ${env.switchboard}; ${env.cpu}, ${env.nproc} cores; load average (1, 5, 15 min)
before / after: ${env.load_before} / ${env.load_after}.

Setup as above: two instances of each system on one Redis, one sender on instance 1
broadcasting to every connection (half on each instance). ${group(run.connections)} connections,
${run.message_size}-byte messages, ${run.duration} windows, Switchboard \`--threads ${env.server_threads}\`
per instance, the generator (\`--threads ${run.generator_threads}\`) on the same cores.

The offered load (the sender's rate x connections, in deliveries/s) rises step by step:
${run.offered.map(group).join(', ')}. A step **fails** when on-time deliveries/s (latency within
the ${run.deadline} deadline) fall below 95% of the offered load, when anything is lost, when p99
exceeds the deadline, or when connections fail; a failed step is ${retried}. A system's
**saturation** is the highest on-time deliveries/s of a step it passed; its ramp stops at the
first step that fails ("≥": it passed every step, the figure is a lower bound).

| System | Saturation (on-time deliveries/s) | Failed at (offered) | Why |
| --- | ---: | ---: | --- |
${summaryRows.join('\n')}

| Target (issue #6) | Measured | Target | Met |
| --- | ---: | ---: | --- |
${targetRows.join('\n')}

Steps (cross-instance: the receivers on instance 2; generator CPU in cores, averaged over the
window and the drain, "busy" at 90% of its threads or more):

| System | Offered/s | Attempt | Deliveries/s | On-time/s | p50 ms | p99 ms | Cross-instance p99 ms | Lost | Server CPU s per 1M | Generator CPU | Verdict |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
${stepRows.join('\n')}
`;
}
