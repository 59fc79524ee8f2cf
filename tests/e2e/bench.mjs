// Test helpers for the load generator: run `switchboard bench` as a child process and read its
// JSON report, or see it refuse its arguments before any load.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT, onCleanup, withTimeout } from './server.mjs';

/** The switchboard binary under test (SWITCHBOARD_BIN, or the release build). */
export const BENCH_BIN = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');

/** Runs `bin` with `args`; resolves with { code, stdout, stderr }, code 'timeout' after `timeoutMs`. */
async function run(args, timeoutMs) {
  const child = spawn(BENCH_BIN, args, { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  const code = await withTimeout(exited, timeoutMs, 'timeout');
  if (code === 'timeout') child.kill('SIGKILL');
  return { code, stdout, stderr };
}

/**
 * Runs `switchboard bench ...args --output-json FILE` (a temp file removed by the cleanup of
 * `scope`) and asserts it exits with 0; resolves with { report, stdout, stderr }.
 */
export async function bench(scope, args) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-'));
  onCleanup(scope, () => rm(dir, { recursive: true, force: true }));
  const output = path.join(dir, 'result.json');
  // Connect, a few seconds of window and the drain; the bound only catches a hang.
  const { code, stdout, stderr } = await run(['bench', ...args, '--output-json', output], 60_000);
  assert.equal(code, 0, `bench exited with ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  const report = JSON.parse(await readFile(output, 'utf8'));
  return { report, stdout, stderr };
}

/** Runs `switchboard bench ...args` expecting a refusal; resolves with { code, stderr }. */
export async function benchRefusal(args) {
  const { code, stderr } = await run(['bench', ...args], 10_000);
  return { code, stderr };
}
