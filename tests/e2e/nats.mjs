// Test helpers for the NATS backplane: real nats-server processes on free loopback ports (one server, or
// a cluster of several joined by routes), stopped at the end. Readiness is polled with a deadline: a TCP
// connection that reads the server's INFO line.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { onCleanup, waitFor } from './server.mjs';
import { freePort } from './redis.mjs';
import { startService } from './service.mjs';

const NATS_SERVER = process.env.NATS_SERVER ?? (fs.existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
const tempDirs = new Set();
process.on('exit', () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** True when nats-server can be run here (tests skip otherwise). */
export function natsAvailable() {
  return spawnSync(NATS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** True once a client connection on `port` reads the server's INFO line. */
function greets(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk) => done(chunk.toString('utf8').startsWith('INFO ')));
  });
}

/** The monitoring endpoint's JSON (`/routez`, `/subsz?subs=1`, ...). */
async function monitor(port, what) {
  const response = await fetch(`http://127.0.0.1:${port}${what}`);
  return response.json();
}

/**
 * One nats-server. `routes`: cluster route URLs of the other nodes (a cluster node gets its own cluster port).
 * Returns { port, url, clusterPort, running, start(), stop(), routes(), destroy(), log() }.
 */
async function startNode(dir, { cluster = false, clusterPort: givenClusterPort, routes = [], name = 'n', readyTimeoutMs = 10_000 } = {}) {
  let port = await freePort();
  let monitorPort = await freePort();
  let clusterPort = cluster ? givenClusterPort ?? await freePort() : undefined;
  let service = null;
  const routeUrls = routes;

  async function spawnOnce() {
    const argv = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-n', name,
      '-P', path.join(dir, `${name}.pid`), '-js', '-sd', path.join(dir, `${name}-jetstream`)];
    if (cluster) {
      argv.push('--cluster_name', 'switchboard-test', '--cluster', `nats://127.0.0.1:${clusterPort}`);
      if (routeUrls.length) argv.push('--routes', routeUrls.join(','));
    }
    service = await startService(`nats:${name}`, NATS_SERVER, argv,
      { spawnOptions: { cwd: dir }, ready: () => greets(port), readyTimeoutMs });
  }

  // Ports picked by freePort() can be taken by someone else before nats-server binds them: try others.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await spawnOnce();
      break;
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(error.message)) throw error;
      [port, monitorPort] = [await freePort(), await freePort()];
      if (cluster && givenClusterPort === undefined) clusterPort = await freePort();
    }
  }
  const node = {
    port,
    monitorPort,
    clusterPort,
    url: `nats://127.0.0.1:${port}`,
    routeUrl: cluster ? `nats://127.0.0.1:${clusterPort}` : undefined,
    get running() { return Boolean(service?.running); },
    get pid() { return service?.pid; },
    log: () => service?.log() ?? '',
    async start() {
      if (!node.running) await spawnOnce();
    },
    stop: (timeoutMs) => service?.stop('SIGTERM', timeoutMs) ?? null,
    /** How many routes to other cluster nodes this node has now. */
    async routeCount() {
      return (await monitor(monitorPort, '/routez')).num_routes ?? 0;
    },
    /** The subjects of this node's client subscriptions (monitoring endpoint). */
    async subjects() {
      const subs = await monitor(monitorPort, '/subsz?subs=1');
      return (subs.subscriptions_list ?? []).map((s) => s.subject);
    },
  };
  return node;
}

/**
 * A single nats-server, or with `nodes` > 1 a cluster whose nodes all route to each other. Returns
 * { url (all client URLs, comma-separated), nodes: [...], stop(), start(), destroy() }. Waits until every
 * node has a route to every other one.
 */
export async function startNats({ nodes = 1 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-nats-'));
  tempDirs.add(dir);
  const cluster = nodes > 1;
  const started = [];
  try {
    // Every node routes to every other from the start: a JetStream cluster refuses to start a node
    // without configured routes.
    const clusterPorts = [];
    for (let i = 0; i < (cluster ? nodes : 0); i += 1) clusterPorts.push(await freePort());
    const routeTo = (i) => clusterPorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
    for (let i = 0; i < nodes; i += 1) {
      started.push(await startNode(dir, { cluster, clusterPort: clusterPorts[i], routes: cluster ? routeTo(i) : [], name: `n${i}` }));
    }
    if (cluster) {
      await waitFor(async () => (await Promise.all(started.map((n) => n.routeCount()))).every((c) => c >= nodes - 1),
        15_000, { interval: 50, message: 'every NATS node routed to every other' });
    }
  } catch (error) {
    await Promise.all(started.map((n) => n.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
    throw error;
  }
  const handle = {
    dir,
    nodes: started,
    url: started.map((n) => n.url).join(','),
    get pid() { return started[0].pid; },
    async stop() { await Promise.all(started.map((n) => n.stop())); },
    async start() { for (const n of started) await n.start(); },
    async destroy() {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
  return handle;
}

/** startNats() with destroy() registered as cleanup on `scope`. */
export async function natsFor(scope, options = {}) {
  const nats = await startNats(options);
  onCleanup(scope, () => nats.destroy());
  return nats;
}
