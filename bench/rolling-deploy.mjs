#!/usr/bin/env node
// A zero-downtime rolling deploy, measured. Redis, three instances behind nginx (deploy/nginx/compose.conf
// with loopback ports), clients with automatic and stateful reconnect connected through nginx, and a steady
// broadcast published into Redis in ASP.NET's format (a worker, as a .NET IHubContext: it never restarts). The instances are
// restarted one at a time as an orchestrator does: SIGTERM (drain: clients get a Close with allowReconnect),
// start again on the same port, wait for /readyz, keep the load on for a while, next.
//
//   node bench/rolling-deploy.mjs [--clients 30] [--rate 50] [--settle-ms 3000]
//
// Prints a JSON report: messages published, per client lost (split into lost while the client was between
// two connections and lost while it was connected), duplicates, and reconnects.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';
import { ROOT, startServer, waitFor, withTimeout } from '../tests/e2e/server.mjs';
import { freePort, startRedis } from '../tests/e2e/redis.mjs';
import { aspnetInvocation } from '../tests/e2e/scaleout/cluster.mjs';

// A publication this close to a client's reconnect window is counted as the window's: it may have been
// in flight to the instance that was closing.
const WINDOW_MARGIN_MS = 500;

async function startNginx(ports, dir) {
  const listen = await freePort();
  let conf = fs.readFileSync(path.join(ROOT, 'deploy', 'nginx', 'compose.conf'), 'utf8');
  ports.forEach((port, i) => { conf = conf.replaceAll(`172.28.0.${11 + i}:5000`, `127.0.0.1:${port}`); });
  conf = conf
    .replace('listen 80;', `listen 127.0.0.1:${listen};`)
    .replace('http {', `http {
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;`);
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  const child = spawn(process.env.NGINX_BIN ?? 'nginx',
    ['-p', `${dir}/`, '-c', file, '-e', 'stderr', '-g', `daemon off; pid ${dir}/nginx.pid;`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${listen}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try { return (await fetch(`${url}/healthz`)).status === 200; } catch { return false; }
  }, 10_000, { message: 'nginx in front of the instances' });
  return {
    url,
    async stop() { child.kill('SIGTERM'); await withTimeout(exited, 5_000); if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}

// A worker publishing into Redis as a .NET IHubContext<ChatHub>.Clients.All.SendAsync does (the ASP.NET
// format, one connection, pipelined): it never restarts.
async function startPublisher(redis) {
  const connection = await redis.connect();
  const pending = new Set();
  let failures = 0;
  return {
    send(text) {
      const reply = connection.command('PUBLISH', 'chat:all', aspnetInvocation('ReceiveMessage', ['load', text]))
        .catch(() => { failures += 1; })
        .finally(() => pending.delete(reply));
      pending.add(reply);
    },
    async stop() {
      await Promise.all([...pending]);
      await connection.close();
      return failures;
    },
  };
}

function makeClient(url, index) {
  const connection = new HubConnectionBuilder()
    .withUrl(`${url}/hubs/chat?user=rolling-${index}`, { transport: HttpTransportType.WebSockets })
    .withAutomaticReconnect([0, 100, 250, 500, 1000, 2000, 2000, 2000])
    .withStatefulReconnect()
    .configureLogging(LogLevel.None)
    .build();
  const client = { connection, received: new Map(), windows: [], closed: false };
  connection.on('ReceiveMessage', (_user, text) => {
    client.received.set(text, (client.received.get(text) ?? 0) + 1);
  });
  client.errors = [];
  connection.onreconnecting((error) => { client.windows.push({ start: Date.now(), end: null }); client.errors.push(`reconnecting: ${error?.message}`); });
  connection.onreconnected(() => { client.windows.at(-1).end = Date.now(); });
  connection.onclose((error) => { client.closed = true; client.errors.push(`close: ${error?.message}`); });
  return client;
}

export async function rollingDeploy({ clients: clientCount = 30, rate = 50, settleMs = 3_000, log = () => {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-rolling-'));
  const cleanup = [];
  try {
    const redis = await startRedis();
    cleanup.push(() => redis.destroy());
    const ports = [await freePort(), await freePort(), await freePort()];
    const args = ['--backplane', redis.url, '--drain-timeout', '3s'];
    const servers = [];
    for (const port of ports) {
      servers.push(await startServer(args, { port, staticDir: '' }));
    }
    cleanup.push(() => Promise.all(servers.map((s) => s.stop())));
    await redis.waitForSubscribers('chat:all', 3);
    const nginx = await startNginx(ports, dir);
    cleanup.push(() => nginx.stop());

    const clients = [];
    for (let i = 0; i < clientCount; i += 1) {
      const client = makeClient(nginx.url, i);
      cleanup.push(() => client.connection.stop());
      await client.connection.start();
      clients.push(client);
    }
    log(`${clientCount} clients connected through ${nginx.url}`);

    const publisher = await startPublisher(redis);
    const sentAt = [];
    const timer = setInterval(() => {
      const seq = sentAt.length;
      sentAt.push(Date.now());
      publisher.send(`m${seq}`);
    }, 1000 / rate);
    cleanup.push(() => clearInterval(timer));

    const restarts = [];
    // Load before the first restart, between restarts and after the last one.
    const steady = () => new Promise((resolve) => setTimeout(resolve, settleMs));
    await steady();
    for (let i = 0; i < servers.length; i += 1) {
      const started = Date.now();
      const stopped = await servers[i].stop(10_000);
      servers[i] = await startServer(args, { port: ports[i], staticDir: '' });
      await waitFor(async () => (await fetch(`${servers[i].url}/readyz`)).status === 200, 15_000, { message: `instance ${i} ready` });
      restarts.push({ instance: i, exit: stopped.code, forced: stopped.forced, ms: Date.now() - started, started, ended: Date.now() });
      log(`instance ${i} restarted in ${Date.now() - started} ms`);
      await steady();
    }
    clearInterval(timer);
    await waitFor(() => clients.every((c) => c.connection.state === 'Connected' || c.closed), 15_000, {
      message: 'every client connected again',
    });
    // A last marker: what was published before it has been delivered once it arrived everywhere.
    const fence = `fence-${Date.now()}`;
    publisher.send(fence);
    await waitFor(() => clients.every((c) => c.received.has(fence) || c.closed), 15_000, {
      message: () => `the fence at every client; published ${sentAt.length}; received: ${clients.map((c) => `${c.received.size}/max m${Math.max(...[...c.received.keys()].filter((k) => k.startsWith('m')).map((k) => Number(k.slice(1))))}/${c.connection.state}/${c.windows.length}/${c.errors.join('|')}`).join('\n')}`,
    });
    const publishFailures = await publisher.stop();

    const perClient = clients.map((client) => {
      const lost = [];
      let duplicates = 0;
      sentAt.forEach((at, seq) => {
        const count = client.received.get(`m${seq}`) ?? 0;
        if (count === 0) lost.push(at);
        if (count > 1) duplicates += count - 1;
      });
      const inWindow = (at) => client.windows.some((w) => at >= w.start - WINDOW_MARGIN_MS && at <= (w.end ?? Infinity) + WINDOW_MARGIN_MS);
      const lostInReconnects = lost.filter(inWindow).length;
      // Reconnects that started during each restart (the drain, the start, /readyz, and a second after).
      const perRestart = restarts.map((r) => client.windows.filter((w) => w.start >= r.started && w.start <= r.ended + 1_000).length);
      return {
        reconnects: client.windows.length,
        maxReconnectsInOneRestart: Math.max(0, ...perRestart),
        reconnectMs: client.windows.map((w) => (w.end ?? Date.now()) - w.start),
        lost: lost.length,
        lostInReconnects,
        lostWhileConnected: lost.length - lostInReconnects,
        duplicates,
        connectedAtEnd: !client.closed,
      };
    });
    const sum = (key) => perClient.reduce((n, c) => n + c[key], 0);
    return {
      clients: clientCount,
      rate,
      published: sentAt.length,
      restarts: restarts.map(({ started, ended, ...r }) => r),
      lost: sum('lost'),
      lostInReconnects: sum('lostInReconnects'),
      lostWhileConnected: sum('lostWhileConnected'),
      duplicates: sum('duplicates'),
      reconnects: sum('reconnects'),
      maxReconnectsPerClient: Math.max(...perClient.map((c) => c.reconnects)),
      maxReconnectsPerClientPerRestart: Math.max(...perClient.map((c) => c.maxReconnectsInOneRestart)),
      clientsReconnected: perClient.filter((c) => c.reconnects > 0).length,
      maxReconnectMs: Math.max(0, ...perClient.flatMap((c) => c.reconnectMs)),
      connectedAtEnd: perClient.filter((c) => c.connectedAtEnd).length,
      publishFailures,
      perClient,
    };
  } finally {
    for (const fn of cleanup.reverse()) {
      try { await fn(); } catch { /* best effort: the rest still runs */ }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { clients: { type: 'string', default: '30' }, rate: { type: 'string', default: '50' }, 'settle-ms': { type: 'string', default: '3000' } },
  });
  const report = await rollingDeploy({
    clients: Number(values.clients), rate: Number(values.rate), settleMs: Number(values['settle-ms']),
    log: (line) => process.stderr.write(`[rolling-deploy] ${line}\n`),
  });
  const { perClient, ...summary } = report;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.exit(0);
}
