// The fault-injection harness (issue 20): three `switchboard serve` instances on a real Redis with
// nginx in front (examples/multi-instance/nginx.conf, ports rewritten), official clients through
// nginx with automatic reconnect, steady numbered traffic to everyone, to each user and to a group,
// and a ledger that counts, per client, what was lost, duplicated and reordered.
// (Not a test file: node --test only runs *.test.mjs.)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, clientFor, onCleanup, startBinary, startServer, unique, waitFor } from '../e2e/server.mjs';
import { freePort, redisFor } from '../e2e/redis.mjs';
import { postgresFor } from '../e2e/postgres.mjs';
import { startService } from '../e2e/service.mjs';
import { waitForReady } from '../e2e/scaleout/cluster.mjs';

export const nginxAvailable = () => spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;

/** Runs `ip ...`; throws with its stderr when it fails. */
function ip(...args) {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr || result.error?.message}`);
}

/** True when this process may create network namespaces (root with CAP_NET_ADMIN, `ip` installed). */
export function netnsAvailable() {
  const name = `sbf-probe-${process.pid}`;
  try {
    ip('netns', 'add', name);
    ip('netns', 'del', name);
    return true;
  } catch {
    return false;
  }
}

/**
 * A network namespace for one instance, reached over two veth pairs: one its clients (and nginx) use,
 * one to Redis. Cutting the second partitions the instance from Redis while its clients keep their
 * sockets. Addresses are private /30s that exist only on this machine's veths.
 * Returns { name, address (the instance's, for clients), redisAddress (the host's, for Redis),
 * partition(), heal() }; removed on cleanup.
 */
export function isolatedHost(scope) {
  const k = 1 + (process.pid % 250);
  const name = `sbf-${process.pid}`;
  const [clientHost, clientNs, redisHost, redisNs] = ['ca', 'cb', 'ra', 'rb'].map((s) => `sbf${k}${s}`);
  ip('netns', 'add', name);
  onCleanup(scope, () => ip('netns', 'del', name)); // takes its veths and their peers along
  const inNs = (...args) => ip('netns', 'exec', name, 'ip', ...args);
  inNs('link', 'set', 'lo', 'up');
  for (const [host, peer, subnet] of [[clientHost, clientNs, `10.231.${k}`], [redisHost, redisNs, `10.232.${k}`]]) {
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', name);
    ip('addr', 'add', `${subnet}.1/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    inNs('addr', 'add', `${subnet}.2/30`, 'dev', peer);
    inNs('link', 'set', peer, 'up');
  }
  return {
    name,
    address: `10.231.${k}.2`,
    redisAddress: `10.232.${k}.1`,
    partition: () => inNs('link', 'set', redisNs, 'down'),
    heal: () => inNs('link', 'set', redisNs, 'up'),
  };
}

// Reconnect delays of the clients: at once, then quickly; a client gives up after the last.
const RECONNECT_DELAYS = [0, 100, 250, 500, 1000, 2000, 2000, 2000, 2000, 2000];

/** nginx with the example's configuration, pointed at `backends` ("host:port"), on a free port. */
async function startNginx(scope, backends) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-faults-nginx-'));
  let lastError;
  // A port picked by freePort() can be taken before nginx binds it: try another.
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const port = await freePort();
    let config = fs.readFileSync(path.join(ROOT, 'examples/multi-instance/nginx.conf'), 'utf8');
    backends.forEach((b, i) => { config = config.replaceAll(`127.0.0.1:500${i}`, b); });
    config = config.replace('listen 8080;', `listen 127.0.0.1:${port};`);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), config);
    try {
      const service = await startService('nginx', 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
        ready: async () => {
          try {
            return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
          } catch {
            return false;
          }
        },
      });
      onCleanup(scope, async () => {
        await service.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      return { url: `http://127.0.0.1:${port}` };
    } catch (error) {
      lastError = error;
      if (!/Address already in use/i.test(error.message)) break;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/**
 * Redis (or PostgreSQL with `bus: 'postgres'`), `instances` servers on fixed ports (a restarted
 * instance keeps its port, as behind a real balancer) and nginx. With `isolate` (an isolatedHost(),
 * Redis only), the last instance runs in that namespace; `redisArgs` go to redis-server (after the
 * fixture's own, so they win: `['--appendonly', 'yes']` keeps the stream across a restart).
 * Returns { redis, postgres, servers, nginx, restart(i), kill(i), drain(i) }.
 */
export async function startTopology(scope, { instances = 3, args = [], isolate, bus = 'redis', redisArgs = [] } = {}) {
  const postgres = bus === 'postgres' ? await postgresFor(scope) : undefined;
  const redis = postgres ? undefined
    : await redisFor(scope, { extraArgs: [...(isolate ? ['--bind', '127.0.0.1', isolate.redisAddress] : []), ...redisArgs] });
  const backplane = postgres ? postgres.url : redis.url;
  const ports = [];
  for (let i = 0; i < instances; i += 1) ports.push(await freePort());
  const hosts = ports.map((_, i) => (isolate && i === instances - 1 ? isolate.address : '127.0.0.1'));
  const names = ports.map((_, i) => unique(`sb${i}`));
  const servers = [];
  const start = async (i) => {
    // The one sender stands for many clients: at about 250 invocations a second it would pass the
    // default limit (100 a second after a burst of 500) within seconds and be closed.
    const common = ['--server-name', names[i], '--max-messages-per-second', '1000', ...args];
    if (hosts[i] === '127.0.0.1') {
      servers[i] = await startServer(['--backplane', backplane, ...common], { port: ports[i] });
      return;
    }
    const bin = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');
    servers[i] = await startBinary('ip', ['netns', 'exec', isolate.name, bin, 'serve', '--listen', `${hosts[i]}:${ports[i]}`,
      '--static-dir', 'web', '--backplane', `redis://${isolate.redisAddress}:${redis.port}`, ...common]);
  };
  for (let i = 0; i < instances; i += 1) await start(i);
  onCleanup(scope, () => Promise.all(servers.map((s) => s.stop())));
  await waitForReady(servers);
  // Durable mode reads one stream instead of subscribing channels: ready is all it has to say (so
  // does PostgreSQL, whose durable bus is a log table).
  if (redis && !args.includes('--durable-window')) await redis.waitForSubscribers('chat:all', instances);
  const nginx = await startNginx(scope, ports.map((p, i) => `${hosts[i]}:${p}`));
  return {
    redis,
    postgres,
    servers,
    nginx,
    /** SIGKILL: no close frames, no drain. */
    async kill(i) {
      servers[i].process.kill('SIGKILL');
      await servers[i].exited;
    },
    /** SIGTERM: the instance drains (closes its connections) and exits. */
    async drain(i) {
      await servers[i].stop(30_000);
    },
    async restart(i) {
      await start(i);
      await waitForReady([servers[i]]);
    },
  };
}

/**
 * Numbered traffic and its ledger. A sender connected straight to `senderUrl` (an instance no fault
 * touches) sends, every `intervalMs`, one message to everyone, one to the group and one to a user (each
 * receiver in turn); each receiver (through `lbUrl`) records what it got per stream. Only messages whose
 * invocation the server completed count as sent. Arrivals of the everyone stream are timed against the
 * start of their invocation (latency()).
 */
export async function startTraffic(scope, { lbUrl, senderUrl, receivers = 9, intervalMs = 10, stateful = false }) {
  const tag = unique('faults');
  const group = `${tag}-group`;
  const sent = { all: [], group: [], user: new Map() };
  const sentAt = new Map(); // number -> performance.now() when its invocations started
  const clients = [];
  for (let i = 0; i < receivers; i += 1) {
    const client = await clientFor(scope, lbUrl, `${tag}-r${i}`, { reconnect: RECONNECT_DELAYS, stateful });
    client.got = { all: [], group: [], user: [] };
    client.warm = new Set();
    client.arrivals = []; // [number, performance.now()] of the everyone stream
    // "<tag>:<label>:<n>"; label "warm" proves the stream reaches this client before counting starts.
    const record = (stream) => (...args) => {
      const text = args[args.length - 1];
      if (typeof text !== 'string' || !text.startsWith(`${tag}:`)) return;
      const [, label, n] = text.split(':');
      if (label === 'warm') client.warm.add(stream);
      else client.got[stream].push(Number(n));
      if (label !== 'warm' && stream === 'all') client.arrivals.push([Number(n), performance.now()]);
    };
    client.connection.on('ReceiveMessage', record('all'));
    client.connection.on('ReceiveGroupMessage', record('group'));
    client.connection.on('ReceiveDirectMessage', record('user'));
    // A new connection after a reconnect: back into the group (memberships belong to connections).
    client.connection.onreconnected(() => client.connection.invoke('JoinGroup', group).catch(() => {}));
    await client.connection.invoke('JoinGroup', group);
    sent.user.set(client.user, []);
    clients.push(client);
  }
  // Through the balancer (a fault may touch any instance), the sender reconnects too; what it
  // could not send meanwhile does not count as sent.
  const sender = await clientFor(scope, senderUrl, `${tag}-sender`, senderUrl === lbUrl ? { reconnect: RECONNECT_DELAYS } : {});
  // Every stream reaches every receiver (subscriptions in place on every instance) before counting.
  await waitFor(async () => {
    await sender.connection.invoke('SendMessage', `${tag}:warm:0`);
    await sender.connection.invoke('SendToGroup', group, `${tag}:warm:0`);
    for (const c of clients) if (!c.warm.has('user')) await sender.connection.invoke('SendToUser', c.user, `${tag}:warm:0`);
    return clients.every((c) => c.warm.size === 3);
  }, 15_000, { interval: 50, message: 'every stream to reach every receiver' });

  let n = 0;
  let running = true;
  let failures = 0;
  const send = async (method, args, list, number) => {
    try {
      await sender.connection.invoke(method, ...args);
      list.push(number);
    } catch {
      failures += 1;
    }
  };
  const loop = (async () => {
    while (running) {
      const number = n;
      n += 1;
      const target = clients[number % clients.length].user;
      const userList = sent.user.get(target);
      sentAt.set(number, performance.now());
      await Promise.all([
        send('SendMessage', [`${tag}:all:${number}`], sent.all, number),
        send('SendToGroup', [group, `${tag}:group:${number}`], sent.group, number),
        send('SendToUser', [target, `${tag}:user:${number}`], userList, number),
      ]);
      await new Promise((resolve) => { setTimeout(resolve, intervalMs); });
    }
  })();

  return {
    clients,
    get sentCount() { return n; },
    /**
     * Latency (ms) of the everyone stream's messages whose invocations started within [from, to]
     * (performance.now() times), at the receivers `which` selects: { count, p50, p99, max }.
     */
    latency(from, to, which = () => true) {
      const values = [];
      for (const c of clients.filter(which)) {
        for (const [number, at] of c.arrivals) {
          const start = sentAt.get(number);
          if (start !== undefined && start >= from && start <= to) values.push(at - start);
        }
      }
      values.sort((a, b) => a - b);
      const pick = (q) => (values.length ? Math.round(values[Math.min(values.length - 1, Math.floor(q * values.length))]) : 0);
      return { count: values.length, p50: pick(0.5), p99: pick(0.99), max: Math.round(values[values.length - 1] ?? 0) };
    },
    /** Stops sending; resolves once every connected receiver got the last message of each of its streams. */
    async stop(timeoutMs = 20_000) {
      running = false;
      await loop;
      const lastOf = (list) => list[list.length - 1];
      await waitFor(() => clients.every((c) => c.connection.state !== 'Connected' || (
        c.got.all.includes(lastOf(sent.all))
        && c.got.group.includes(lastOf(sent.group))
        && (sent.user.get(c.user).length === 0 || c.got.user.includes(lastOf(sent.user.get(c.user)))))),
      timeoutMs, { interval: 50, message: 'every connected receiver to get the last message of each stream' }).catch(() => {});
      return { sent, failures };
    },
  };
}

/** Destroys a client's TCP socket without a close frame, as a network failure would (WebSockets only). */
export function dropSocket(client) {
  client.connection.connection.transport?._webSocket?._socket?.destroy();
}

/** The TCP socket under a client's WebSocket (the official client runs on npm `ws` in Node). */
const socketOf = (client) => client.connection.connection.transport?._webSocket?._socket;

/** Stops reading a client's socket: the kernel's buffers fill and then nginx's and the server's. */
export function pauseReading(client) {
  socketOf(client).pause();
}

/** Reads a paused client's socket again (if it is still there). */
export function resumeReading(client) {
  socketOf(client)?.resume();
}

/**
 * Clients on `url` that send `size`-character messages to `group`, `perSecond` each, fire and forget:
 * paced, not in bursts, so that only a reader that stopped falls behind.
 */
export async function startFlood(scope, url, group, { flooders = 2, size = 4000, perSecond = 360 } = {}) {
  const payload = 'x'.repeat(size);
  const clients = [];
  for (let i = 0; i < flooders; i += 1) clients.push(await clientFor(scope, url, unique('flood')));
  let sent = 0;
  const timer = setInterval(() => {
    for (const c of clients) {
      for (let k = 0; k < perSecond / 100; k += 1) {
        c.connection.send('SendToGroup', group, payload).then(() => { sent += 1; }, () => {});
      }
    }
  }, 10);
  return {
    get sent() { return sent; },
    async stop() {
      clearInterval(timer);
      await Promise.all(clients.map((c) => c.stop()));
    },
  };
}

/** The sum of a /metrics series (all its labels) on an instance. */
export async function metricOf(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** WebSocket connections an instance holds now (its /metrics gauge). */
export async function connectionsOn(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^switchboard_connections\{transport="websockets"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Lost (sent, never received), duplicated and reordered counts of one stream. */
export function compare(sentList, gotList) {
  const got = new Set(gotList);
  const lost = sentList.filter((x) => !got.has(x)).length;
  const duplicated = gotList.length - got.size;
  let reordered = 0;
  for (let i = 1; i < gotList.length; i += 1) if (gotList[i] < gotList[i - 1]) reordered += 1;
  return { lost, duplicated, reordered };
}

/**
 * The ledger of a run: per client and stream, and totals split by whether the client kept its
 * connection (never reconnecting) or had to reconnect.
 */
export function ledger(traffic, { sent, failures }) {
  const rows = traffic.clients.map((c) => {
    const streams = {
      all: compare(sent.all, c.got.all),
      group: compare(sent.group, c.got.group),
      user: compare(sent.user.get(c.user), c.got.user),
    };
    const sum = (key) => Object.values(streams).reduce((a, s) => a + s[key], 0);
    return {
      user: c.user,
      reconnected: c.reconnecting.length > 0,
      connected: c.connection.state === 'Connected',
      reconnects: c.reconnecting.length,
    lost: sum('lost'),
      duplicated: sum('duplicated'),
      reordered: sum('reordered'),
      streams,
    };
  });
  const total = (filter, key) => rows.filter(filter).reduce((a, r) => a + r[key], 0);
  const kept = (r) => !r.reconnected;
  const moved = (r) => r.reconnected;
  return {
    rows,
    sent: sent.all.length + sent.group.length + [...sent.user.values()].reduce((a, l) => a + l.length, 0),
    clients: rows.length,
    reconnectedClients: rows.filter(moved).length,
    // The most times one client had to reconnect.
    maxReconnects: Math.max(0, ...traffic.clients.map((c) => c.reconnecting.length)),
    disconnectedClients: rows.filter((r) => !r.connected).length,
    // Invocations of the sender that failed (not counted as sent).
    failures,
    lostKept: total(kept, 'lost'),
    lostReconnected: total(moved, 'lost'),
    duplicated: total(() => true, 'duplicated'),
    reordered: total(() => true, 'reordered'),
  };
}

/** One line per fault for the log (and docs/reliability.md). */
export function describeLedger(fault, result) {
  return `faults: ${fault}: ${result.clients} clients (${result.reconnectedClients} reconnected, at most ${result.maxReconnects} times, `
    + `${result.disconnectedClients} gave up), ${result.sent} messages sent (${result.failures} sends failed); lost by clients that kept their `
    + `connection ${result.lostKept}, by clients that reconnected ${result.lostReconnected}; duplicated `
    + `${result.duplicated}; reordered ${result.reordered}`;
}
