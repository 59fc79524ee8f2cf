// Test helpers for the PostgreSQL backplane: a throwaway PostgreSQL cluster (initdb in a temp dir, the
// server on a free loopback port), stopped and removed at the end.
//
// PostgreSQL refuses to run as root: when the tests run as root, initdb and the server run as the
// `postgres` user (the Debian package creates it) and the temp dir is handed to that user. No fixed sleeps:
// readiness is polled with pg_isready under a deadline.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup } from './server.mjs';
import { freePort } from './redis.mjs';
import { startService } from './service.mjs';

/** Where Debian keeps the server binaries (initdb, postgres, pg_isready); PG_BIN overrides. */
export const PG_BIN = process.env.PG_BIN ?? (() => {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => /^\d+$/.test(v)) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(base, versions[0], 'bin') : '';
})();

const tempDirs = new Set();
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** The uid/gid to run PostgreSQL as: ours, or the `postgres` user's when we are root. */
function serverUser() {
  if (process.getuid() !== 0) return {};
  const id = (flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** True when a PostgreSQL server can be run here (tests skip otherwise). */
export function postgresAvailable() {
  if (!PG_BIN || !fs.existsSync(path.join(PG_BIN, 'postgres'))) return false;
  if (process.getuid() === 0) return spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0;
  return true;
}

/**
 * initdb (trust authentication on loopback only) and start a server. Returns
 * { host, port, url, npgsql, dir, pid, running, start(), stop(), crash(), psql(sql), log(), destroy() }:
 *   url      postgres://postgres@127.0.0.1:PORT/postgres (for --backplane)
 *   npgsql   the same as an Npgsql connection string (Host=...;Port=...;Database=...;Username=...)
 *   stop()   fast shutdown (SIGINT): sessions are terminated, as when an operator restarts the server
 *   crash()  immediate shutdown (SIGQUIT): no goodbye, crash recovery on the next start
 *   psql(sql) runs SQL with psql; resolves with its stdout (rejects on an error)
 */
export async function startPostgres({ readyTimeoutMs = 30_000, database = 'postgres' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pg-'));
  tempDirs.add(dir);
  const user = serverUser();
  if (user.uid !== undefined) fs.chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const init = spawnSync(path.join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { ...user, encoding: 'utf8' });
  if (init.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.error}`);
  }

  let port = await freePort();
  let service = null;

  const isReady = () => spawnSync(path.join(PG_BIN, 'pg_isready'),
    ['-h', '127.0.0.1', '-p', String(port), '-d', 'postgres', '-U', 'postgres', '-t', '1'], { stdio: 'ignore' }).status === 0;

  async function spawnOnce() {
    // fsync off and a small shared_buffers: a throwaway cluster that starts fast on a small CI machine.
    const argv = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=32MB', '-c', 'max_connections=200'];
    service = await startService('postgres', path.join(PG_BIN, 'postgres'), argv,
      { spawnOptions: { ...user, cwd: dir }, ready: isReady, readyTimeoutMs });
  }

  const stopWith = async (signal, timeoutMs = 15_000) => service?.stop(signal, timeoutMs) ?? null;

  const handle = {
    host: '127.0.0.1',
    dir,
    database,
    get port() { return port; },
    get url() { return `postgres://postgres@127.0.0.1:${port}/${database}`; },
    get npgsql() { return `Host=127.0.0.1;Port=${port};Database=${database};Username=postgres;Password=postgres`; },
    get running() { return Boolean(service?.running); },
    get pid() { return service?.pid; },
    log: () => service?.log() ?? '',
    async start() {
      if (!handle.running) await spawnOnce();
    },
    stop: (timeoutMs) => stopWith('SIGINT', timeoutMs),
    crash: (timeoutMs) => stopWith('SIGQUIT', timeoutMs),
    async restart() {
      await handle.stop();
      await handle.start();
    },
    /** Runs `sql` with psql on a fresh session; resolves with its unaligned, tuples-only output. */
    psql(sql, { db = database } = {}) {
      return new Promise((resolve, reject) => {
        const p = spawn('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db,
          '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (c) => { out += c; });
        p.stderr.on('data', (c) => { err += c; });
        p.once('error', reject);
        p.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`psql: ${err.trim()}`))));
      });
    },
    async destroy() {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };

  // A port picked by freePort() can be taken by someone else before postgres binds it: try another.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await spawnOnce();
      if (database !== 'postgres') await handle.psql(`CREATE DATABASE "${database}"`, { db: 'postgres' });
      return handle;
    } catch (error) {
      await handle.stop();
      if (attempt >= 3) {
        await handle.destroy();
        throw error;
      }
      port = await freePort();
    }
  }
}

/** startPostgres() with destroy() registered as cleanup on `scope` (node:test `t` or a hook like `after`). */
export async function postgresFor(scope, options = {}) {
  const pg = await startPostgres(options);
  onCleanup(scope, () => pg.destroy());
  return pg;
}
