// What the e2e fixtures' server processes share (redis-server, PostgreSQL, nats-server): spawn,
// keep the tail of the log, wait for readiness against a deadline, stop with a signal and a
// SIGKILL fallback, and kill whatever is left if the test process dies first.

import { spawn } from 'node:child_process';
import { waitFor, withTimeout } from './server.mjs';

const MAX_LOG_CHARS = 32 * 1024;
const verbose = Boolean(process.env.SWITCHBOARD_TEST_VERBOSE);

const liveProcesses = new Set();
process.on('exit', () => {
  for (const child of liveProcesses) child.kill('SIGKILL');
});

/**
 * Spawns `command` and resolves once `ready()` (sync or async) holds, polled against a deadline;
 * rejects when it exits or cannot be spawned first. Returns
 * { child, pid, running, log(), stop(signal = 'SIGTERM', timeoutMs = 5000) → exit info }.
 */
export async function startService(name, command, args, { spawnOptions = {}, ready, readyTimeoutMs = 10_000 } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  liveProcesses.add(child);
  let log = '';
  let exitInfo = null;
  let spawnError = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      liveProcesses.delete(child);
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  child.once('error', (error) => { spawnError = error; });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      log = (log + chunk).slice(-MAX_LOG_CHARS);
      if (verbose) process.stderr.write(`[${name}:${child.pid}] ${chunk}`);
    });
  }
  const service = {
    child,
    get pid() { return child.pid; },
    get running() { return child.exitCode === null && child.signalCode === null; },
    log: () => log,
    async stop(signal = 'SIGTERM', timeoutMs = 5_000) {
      if (service.running) {
        child.kill(signal);
        if (!(await withTimeout(exited, timeoutMs))) child.kill('SIGKILL');
      }
      return exited;
    },
  };
  const state = await waitFor(async () => {
    if (spawnError) return 'spawn-error';
    if (exitInfo) return 'exited';
    return (await ready()) ? 'ready' : false;
  }, readyTimeoutMs, { interval: 25, message: () => `${name} to be ready\n${log}` })
    .catch(async (error) => {
      await service.stop('SIGKILL');
      throw error;
    });
  if (state === 'spawn-error') throw new Error(`could not spawn ${command}: ${spawnError.message}`);
  if (state === 'exited') throw new Error(`${name} exited (${JSON.stringify(exitInfo)}) before it was ready:\n${log}`);
  return service;
}
