// Issue #4: examples/multi-instance/run.sh (redis-server + three instances, optionally nginx in front) on
// free ports: the instances serve the demo page, share messages, and Ctrl-C stops every process.
// Issue #13: examples/postgres-chat/run.sh, the same with a throwaway PostgreSQL cluster.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import EventSource from 'eventsource';
import { HttpTransportType, LogLevel } from '@microsoft/signalr';
import { ROOT, clientFor, countEvents, onCleanup, unique, waitFor, waitForEvent, withTimeout } from '../server.mjs';
import { freePort, redisAvailable } from '../redis.mjs';
import { postgresAvailable } from '../postgres.mjs';
import { waitForMesh } from './buses.mjs';
import { BY_NAME, clientOn, marker, readyStatus } from './cluster.mjs';

const runScript = (example) => path.join(ROOT, 'examples', example, 'run.sh');
const TIMEOUT = 10_000;
const EVENTS_KEY = 'example-events-key';
const hasNginx = spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
const skip = redisAvailable() ? false : 'redis-server is not installed';
const skipPostgres = postgresAvailable() ? false : 'PostgreSQL server binaries are not installed';

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port with base, base+1, base+2 free (run.sh takes consecutive ports). */
async function freeBasePort() {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    // Below the kernel's ephemeral range (32768+), where client sockets could take them
    // between this check and run.sh's bind.
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await Promise.all([0, 1, 2].map((i) => portIsFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no three consecutive free ports found');
}

/** True when nothing accepts connections on 127.0.0.1:port. */
function refused(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(true));
  });
}

/**
 * Starts an example's run.sh on free ports (with nginx when `nginx`), resolves once it printed
 * "[run.sh] ready". Returns { servers, ports, redisPort, pgPort, nginxUrl, interrupt() → exit info, output() }.
 */
async function startExample(t, { example = 'multi-instance', nginx = false, args = [] } = {}) {
  const base = await freeBasePort();
  const redisPort = await freePort();
  const pgPort = await freePort();
  const nginxPort = nginx ? await freePort() : undefined;
  const env = {
    ...process.env,
    BASE_PORT: String(base),
    REDIS_PORT: String(redisPort),
    PG_PORT: String(pgPort),
    SWITCHBOARD_BIN: path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard'),
  };
  if (nginx) env.NGINX_PORT = String(nginxPort);
  else delete env.NGINX_PORT;
  delete env.REDIS_URL;
  delete env.PG_CONNECTION;
  // Its own process group, so a failed test can still take every process of it down.
  const child = spawn('bash', [runScript(example), ...args], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exitInfo = null;
  exited.then((info) => { exitInfo = info; });
  onCleanup(t, async () => {
    if (!exitInfo) {
      child.kill('SIGINT');
      if (!(await withTimeout(exited, 15_000))) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
  });

  await waitFor(() => {
    if (exitInfo) throw new Error('exited');
    return /\[run\.sh\] ready/.test(output);
  }, 30_000, { interval: 50, message: () => `run.sh to print "[run.sh] ready"; exit ${JSON.stringify(exitInfo)}; output:\n${output}` })
    .catch((error) => {
      throw new Error(`${error.message}\noutput:\n${output}`);
    });

  const ports = [base, base + 1, base + 2];
  return {
    ports,
    redisPort,
    pgPort,
    nginxPort,
    servers: ports.map((p) => ({ url: `http://127.0.0.1:${p}`, port: p })),
    nginxUrl: nginx ? `http://127.0.0.1:${nginxPort}` : undefined,
    output: () => output,
    /** Ctrl-C: SIGINT to run.sh only (like a terminal, but only to the script); resolves with its exit. */
    async interrupt() {
      child.kill('SIGINT');
      const info = await withTimeout(exited, 20_000);
      assert.ok(info, `run.sh did not exit within 20 s after SIGINT:\n${output}`);
      return info;
    },
  };
}

describe('examples/multi-instance', { skip }, () => {
  test('run.sh starts three instances on one Redis that serve the demo page and share messages; Ctrl-C stops all', async (t) => {
    const example = await startExample(t);
    for (const server of example.servers) {
      assert.equal(await readyStatus(server), 200, `/readyz of ${server.url}`);
      const page = await fetch(`${server.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i, 'the demo page');
    }
    const [s0, s1, s2] = example.servers;
    const a = await clientOn(t, s0, unique('a'), BY_NAME['WebSockets/JSON']);
    const b = await clientOn(t, s1, unique('b'), BY_NAME['LongPolling/MessagePack']);
    const c = await clientOn(t, s2, unique('c'), BY_NAME['ServerSentEvents/JSON']);
    const text = unique('across the example');
    await b.connection.invoke('SendMessage', text);
    for (const client of [a, b, c]) await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
    await marker(c, [a, b, c]);
    for (const client of [a, b, c]) assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m === text), 1);
    for (const client of [a, b, c]) await client.stop();

    const exit = await example.interrupt();
    assert.equal(exit.signal, null, `run.sh was killed by ${exit.signal}`);
    assert.match(example.output(), /\[run\.sh\] stopped/);
    for (const port of [...example.ports, example.redisPort]) {
      assert.ok(await refused(port), `port ${port} still accepts connections after Ctrl-C`);
    }
  });

  test('behind nginx (nginx.conf): SSE, long polling and WebSockets clients land on different instances and share messages', {
    skip: hasNginx ? false : 'nginx is not installed (apt-get install nginx-light); nginx.conf is checked only when it is',
  }, async (t) => {
    const example = await startExample(t, { nginx: true, args: ['--events-publish-key', EVENTS_KEY] });
    const lb = example.nginxUrl;

    // Negotiate is balanced, and answered with the instance's cookie.
    const seen = new Set();
    for (let i = 0; i < 3; i += 1) {
      const response = await fetch(`${lb}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
      assert.equal(response.status, 200);
      const cookie = response.headers.get('set-cookie') ?? '';
      const match = /switchboard_instance=127\.0\.0\.1:(\d+)/.exec(cookie);
      assert.ok(match, `negotiate sets the instance cookie (got "${cookie}")`);
      seen.add(Number(match[1]));
      await response.arrayBuffer();
    }
    assert.deepEqual([...seen].sort(), [...example.ports].sort(), 'three negotiates went to the three instances');

    // Official clients through nginx; each keeps its session on the instance that negotiated it.
    const variants = [
      BY_NAME['ServerSentEvents/JSON'], BY_NAME['LongPolling/MessagePack'], BY_NAME['LongPolling/JSON'],
      BY_NAME['ServerSentEvents/JSON'], BY_NAME['WebSockets/JSON'], BY_NAME['LongPolling/MessagePack'],
    ];
    const clients = [];
    for (const [i, variant] of variants.entries()) {
      clients.push(await clientFor(t, lb, unique(`lb${i}`), { transport: variant.transport, messagepack: variant.messagepack }));
    }
    // Where each landed: the instance cookie in the client's own jar (FetchHttpClient keeps one per connection).
    const landed = clients.map((c) => {
      const cookies = c.connection.connection?._httpClient?.getCookieString?.(lb) ?? '';
      return Number(/switchboard_instance=127\.0\.0\.1:(\d+)/.exec(cookies)?.[1]);
    });
    assert.ok(landed.every((p) => example.ports.includes(p)),
      `every client holds an instance cookie from negotiate (HttpConnection._httpClient.getCookieString): ${landed}`);
    assert.ok(new Set(landed).size >= 2, `the clients all landed on one instance: ${landed}`);
    // Plus a skipNegotiation WebSocket through nginx (no stickiness needed), and a direct client on each instance.
    const { HubConnectionBuilder } = await import('@microsoft/signalr');
    const direct = await Promise.all(example.servers.map((s, i) => clientOn(t, s, unique(`direct${i}`))));
    const skipNeg = new HubConnectionBuilder()
      .withUrl(`${lb}/hubs/chat?user=${unique('skipneg')}`, { transport: HttpTransportType.WebSockets, skipNegotiation: true })
      .configureLogging(LogLevel.None)
      .build();
    const skipNegGot = [];
    skipNeg.on('ReceiveMessage', (...args) => skipNegGot.push(args));
    await skipNeg.start();
    t.after(() => skipNeg.stop());

    const everyone = [...clients, ...direct];
    for (const [i, sender] of clients.entries()) {
      const text = unique(`through nginx ${i}`);
      await sender.connection.invoke('SendMessage', text);
      for (const client of everyone) await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
      await waitFor(() => skipNegGot.some(([, m]) => m === text), TIMEOUT, { message: 'the skipNegotiation client' });
    }
    await marker(direct[0], everyone);
    for (const client of everyone) {
      assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m.startsWith('through nginx')), clients.length, `${client.user}: duplicates or losses`);
    }
    // Sends from a direct client reach the nginx clients too (whatever instance they are on).
    const back = unique('back through nginx');
    await direct[2].connection.invoke('SendToUser', clients[1].user, back);
    await waitForEvent(clients[1], 'ReceiveDirectMessage', ([, m]) => m === back, TIMEOUT);

    // Event streams through nginx: an EventSource on the balancer gets each small event as it is
    // published (nginx passes them on at once: the instances answer X-Accel-Buffering: no).
    const channel = unique('nginx-feed');
    const feed = new EventSource(`${lb}/events/${encodeURIComponent(channel)}`);
    t.after(() => feed.close());
    const ticks = [];
    feed.addEventListener('Tick', (e) => ticks.push(JSON.parse(e.data).data));
    await new Promise((resolve, reject) => { feed.onopen = resolve; feed.onerror = reject; });
    for (let i = 0; i < 3; i += 1) {
      const published = await fetch(`${lb}/api/events/${encodeURIComponent(channel)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${EVENTS_KEY}` },
        body: JSON.stringify({ type: 'Tick', data: i }),
      });
      assert.equal(published.status, 202);
      await waitFor(() => ticks.length === i + 1, TIMEOUT, { message: () => `event ${i} through nginx; got ${ticks}` });
    }
    feed.close();

    for (const client of everyone) await client.stop();
    await skipNeg.stop();
    await example.interrupt();
    for (const port of [...example.ports, example.redisPort, example.nginxPort]) {
      assert.ok(await refused(port), `port ${port} still accepts connections after Ctrl-C`);
    }
  });
});

describe('examples/postgres-chat', { skip: skipPostgres }, () => {
  test('run.sh starts PostgreSQL and three instances on it; the chat scenarios work across them; Ctrl-C stops all', async (t) => {
    const example = await startExample(t, { example: 'postgres-chat' });
    assert.match(example.output(), /PostgreSQL on 127\.0\.0\.1:\d+ \(database signalr_demo\)/);
    for (const server of example.servers) {
      assert.equal(await readyStatus(server), 200, `/readyz of ${server.url}`);
      assert.match(await (await fetch(`${server.url}/`)).text(), /<html/i, 'the demo page');
    }
    await waitForMesh(t, example.servers);
    const [s0, s1, s2] = example.servers;
    const a = await clientOn(t, s0, unique('a'), BY_NAME['WebSockets/JSON']);
    const b = await clientOn(t, s1, unique('b'), BY_NAME['LongPolling/MessagePack']);
    const c = await clientOn(t, s2, unique('c'), BY_NAME['ServerSentEvents/JSON']);
    // Basic messaging and scale-out: a broadcast from instance 1 reaches all three instances once.
    const text = unique('across postgres');
    await b.connection.invoke('SendMessage', text);
    for (const client of [a, b, c]) await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
    // Groups: members on instances 0 and 2, the message from instance 2 reaches the member on 0 only.
    const group = unique('pg-room');
    await a.connection.invoke('JoinGroup', group);
    await c.connection.invoke('JoinGroup', group);
    const inGroup = unique('to the room');
    await c.connection.invoke('SendToGroup', group, inGroup);
    assert.deepEqual(await waitForEvent(a, 'ReceiveGroupMessage', ([, , m]) => m === inGroup, TIMEOUT), [group, c.user, inGroup]);
    await marker(c, [a, b, c]);
    for (const client of [a, b, c]) assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m === text), 1);
    assert.equal(countEvents(b, 'ReceiveGroupMessage'), 0, 'a non-member received a group message');
    for (const client of [a, b, c]) await client.stop();

    const exit = await example.interrupt();
    assert.equal(exit.signal, null, `run.sh was killed by ${exit.signal}`);
    assert.match(example.output(), /\[run\.sh\] stopped/);
    for (const port of [...example.ports, example.pgPort]) {
      assert.ok(await refused(port), `port ${port} still accepts connections after Ctrl-C`);
    }
  });
});
