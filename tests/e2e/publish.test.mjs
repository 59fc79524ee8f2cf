// Issue 16: `switchboard publish` and the example job worker publish straight into Redis with the
// ASP.NET layout and the notification system's channel prefix (Diquis); two instances serve the
// relay hub /hubs/notifications (flags only), official clients with JWT users receive exactly what
// is addressed to them. Redis stopped or bad input: a clear message and a non-zero exit.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { ROOT, clientFor, serverFor, unique, waitFor } from './server.mjs';
import { freePort, redisAvailable, redisFor } from './redis.mjs';
import { suiteScope } from './scaleout/cluster.mjs';

const BIN = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');
const WORKER = path.resolve(path.dirname(BIN), 'switchboard-example-job-worker');
const SECRET = 'switchboard-e2e-publish-secret-0123456789';
const PREFIX = 'Diquis';
const HUB = 'notifications';
const EVENTS = ['TenantCreated', 'TenantCreationFailed', 'TenantProgress', 'Fence'];
const skip = redisAvailable() ? false : 'redis-server is not installed';
// worker.sh reads jobs with redis-cli (beside redis-server in redis-tools) and jq.
const skipShell = spawnSync('jq', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'jq is not installed';

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
function tokenFor(user) {
  const body = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: user, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/** Runs a binary to its end; resolves { code, stdout, stderr }. */
function run(bin, args, { input = '', timeoutMs = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${bin} ${args.join(' ')} timed out\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(input);
  });
}

/** A notifications client of `user` on `server`, recording EVENTS. */
async function notificationsClient(t, server, user) {
  const client = await clientFor(t, server.url, undefined, { hub: '/hubs/notifications', accessTokenFactory: () => tokenFor(user) });
  client.user = user;
  client.got = Object.fromEntries(EVENTS.map((name) => [name, []]));
  for (const name of EVENTS) client.connection.on(name, (...args) => client.got[name].push(args));
  return client;
}

test('serve refuses --hub flags it cannot honour, naming the flag and the fault', async () => {
  const cases = [
    [['--hub', 'hubs/x'], /--hub 'hubs\/x': the path must start with '\/'/],
    [['--hub', '/hubs/../admin'], /no '\.\.' or '\/\/'/],
    [['--hub', '/hubs/chat'], /\/hubs\/chat and \/hubs\/calls \(chat, calls\) are built in/],
    [['--hub', '/a/x', '--hub', '/b/y=x'], /a second hub at \/b\/y/],
    [['--hub', '/a/x', '--hub-groups', 'maybe'], /--hub-groups: unknown group policy 'maybe'/],
    [['--hub', '/a/x', '--hub-groups', 'roles'], /need JWT authentication/],
  ];
  for (const [args, message] of cases) {
    const result = await run(BIN, ['serve', '--listen', '127.0.0.1:0', '--static-dir', '', ...args]);
    assert.notEqual(result.code, 0, args.join(' '));
    assert.match(result.stdout + result.stderr, message);
  }
});

describe('switchboard publish into Redis with prefix Diquis, relay hub /hubs/notifications', { skip }, () => {
  let redis;
  let servers;
  let publishArgs;
  const scope = suiteScope();
  before(async () => {
    redis = await redisFor(scope);
    // One instance takes the prefix from the connection string, the other from --channel-prefix.
    const common = ['--hub', '/hubs/notifications', '--hub-groups', 'open', '--jwt-secret', SECRET];
    servers = [
      await serverFor(scope, ['--backplane', `${redis.url}?channelPrefix=${PREFIX}`, ...common]),
      await serverFor(scope, ['--backplane', redis.url, '--channel-prefix', PREFIX, ...common]),
    ];
    publishArgs = ['publish', '--backplane', redis.url, '--hub', HUB, '--prefix', PREFIX];
    await redis.waitForSubscribers(`${PREFIX}${HUB}:all`, 2);
  });

  /** alice on both instances (two tabs), bob on the second; every user channel subscribed. */
  async function people(t) {
    const alice = unique('alice');
    const bob = unique('bob');
    const clients = {
      alice1: await notificationsClient(t, servers[0], alice),
      alice2: await notificationsClient(t, servers[1], alice),
      bob: await notificationsClient(t, servers[1], bob),
    };
    await redis.waitForSubscribers(`${PREFIX}${HUB}:user:${alice}`, 2);
    await redis.waitForSubscribers(`${PREFIX}${HUB}:user:${bob}`, 1);
    return { alice, bob, clients };
  }

  async function publish(args, input) {
    const result = await run(BIN, [...publishArgs, ...args], { input });
    assert.equal(result.code, 0, `publish ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result;
  }

  /**
   * Publishes a Fence to everyone and waits until every client has it: what was published before it
   * (same publisher, same Redis) has been delivered by then, so "did not receive" holds without sleeping.
   */
  async function fence(clients) {
    const id = unique('fence');
    await publish(['Fence', JSON.stringify(id)]);
    await waitFor(() => Object.values(clients).every((c) => c.got.Fence.some(([x]) => x === id)), 10_000,
      { message: `every client to receive fence ${id}` });
  }

  const tenants = (client, event = 'TenantCreated') => client.got[event].map(([p]) => p.tenantName);

  test('--user reaches every connection of that user and nobody else', async (t) => {
    const { alice, clients } = await people(t);
    const tenant = unique('acme');
    await publish(['--user', alice, 'TenantCreated', JSON.stringify({ tenantName: tenant })]);
    await fence(clients);
    assert.deepEqual(tenants(clients.alice1), [tenant]);
    assert.deepEqual(tenants(clients.alice2), [tenant]);
    assert.deepEqual(tenants(clients.bob), []);
  });

  test('--user repeated reaches each named user once; an error payload arrives as sent', async (t) => {
    const { alice, bob, clients } = await people(t);
    const tenant = unique('globex');
    await publish(['--user', alice, '--user', bob, 'TenantCreationFailed', JSON.stringify([{ tenantName: tenant, error: 'quota exceeded' }])]);
    await fence(clients);
    for (const c of Object.values(clients)) {
      assert.deepEqual(c.got.TenantCreationFailed, [[{ tenantName: tenant, error: 'quota exceeded' }]]);
    }
  });

  test('--group reaches the members that joined with JoinGroup, on either instance', async (t) => {
    const { clients } = await people(t);
    const group = unique('tenant');
    await clients.bob.connection.invoke('JoinGroup', group);
    await clients.alice1.connection.invoke('JoinGroup', group);
    const tenant = unique('initech');
    const updated = [];
    clients.bob.connection.on('TenantUpdated', (p) => updated.push(['bob', p.tenantName]));
    clients.alice1.connection.on('TenantUpdated', (p) => updated.push(['alice1', p.tenantName]));
    clients.alice2.connection.on('TenantUpdated', (p) => updated.push(['alice2', p.tenantName]));
    await publish(['--group', group, 'TenantUpdated', JSON.stringify({ tenantName: tenant })]);
    await fence(clients);
    assert.deepEqual(updated.sort(), [['alice1', tenant], ['bob', tenant]]);
  });

  test('--all with --exclude leaves out exactly the excluded connections', async (t) => {
    const { clients } = await people(t);
    const tenant = unique('umbrella');
    await publish(['--all', '--exclude', clients.alice1.connection.connectionId, 'TenantCreated', JSON.stringify({ tenantName: tenant })]);
    await fence(clients);
    assert.deepEqual(tenants(clients.alice1), []);
    assert.deepEqual(tenants(clients.alice2), [tenant]);
    assert.deepEqual(tenants(clients.bob), [tenant]);
  });

  test('--connection reaches that one connection', async (t) => {
    const { clients } = await people(t);
    const tenant = unique('hooli');
    await publish(['--connection', clients.alice2.connection.connectionId, 'TenantCreated', JSON.stringify({ tenantName: tenant })]);
    await fence(clients);
    assert.deepEqual(tenants(clients.alice1), []);
    assert.deepEqual(tenants(clients.alice2), [tenant]);
    assert.deepEqual(tenants(clients.bob), []);
  });

  test('stdin: one publication per line, each to its own recipients', async (t) => {
    const { alice, bob, clients } = await people(t);
    const group = unique('tenant');
    await clients.alice2.connection.invoke('JoinGroup', group);
    const [a, b, g, all] = ['a', 'b', 'g', 'all'].map((x) => unique(x));
    const lines = [
      { target: 'TenantCreated', arguments: [{ tenantName: a }], user: alice },
      { target: 'TenantCreated', arguments: [{ tenantName: b }], users: [bob] },
      { target: 'TenantCreated', arguments: [{ tenantName: g }], group },
      { target: 'TenantCreated', arguments: [{ tenantName: all }], all: true, exclude: [clients.bob.connection.connectionId] },
    ];
    await publish([], `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    await fence(clients);
    assert.deepEqual(tenants(clients.alice1), [a, all]);
    assert.deepEqual(tenants(clients.alice2), [a, g, all]);
    assert.deepEqual(tenants(clients.bob), [b]);
  });

  test('stdin: a bad line is reported with its number and exit status 2; the good lines still go', async (t) => {
    const { alice, clients } = await people(t);
    const good = unique('good');
    const input = [
      JSON.stringify({ target: 'TenantCreated', arguments: [{ tenantName: good }], user: alice }),
      '{"target": "TenantCreated", "usr": "alice"}',
      'not json',
      JSON.stringify({ target: 'TenantCreated', arguments: {}, user: alice }),
      JSON.stringify({ target: 'TenantCreated', user: '' }),
    ].join('\n');
    const result = await run(BIN, publishArgs, { input });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /line 2: unknown key "usr"/);
    assert.match(result.stderr, /line 3: not JSON/);
    assert.match(result.stderr, /line 4: "arguments" must be an array/);
    assert.match(result.stderr, /line 5: an empty user name/);
    await fence(clients);
    assert.deepEqual(tenants(clients.alice1), [good]);
  });

  test('bad command lines: clear messages, exit status 2, nothing published', async () => {
    const cases = [
      [['--user', 'x', 'TenantCreated', '{not json'], /ARGUMENTS must be JSON/],
      [['--user', 'x', '--group', 'g', 'TenantCreated', '1'], /exclude each other/],
      [['--user', 'x', '--exclude', 'c', 'TenantCreated', '1'], /exclusions apply to all and groups only/],
      [['--user', '', 'TenantCreated', '1'], /an empty user name/],
    ];
    for (const [args, message] of cases) {
      const result = await run(BIN, [...publishArgs, ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const memory = await run(BIN, ['publish', '--backplane', 'memory', '--hub', HUB, 'T', '1']);
    assert.equal(memory.code, 2);
    assert.match(memory.stderr, /in-memory bus .* reaches no server/);
  });

  test('the publication is the ASP.NET invocation layout, json and messagepack', async () => {
    const user = unique('carol');
    const channel = `${PREFIX}${HUB}:user:${user}`;
    const subscriber = await redis.connect();
    await subscriber.subscribe(channel);
    await publish(['--user', user, 'TenantCreated', JSON.stringify({ tenantName: 'acme' })]);
    const message = await subscriber.waitForMessage((m) => m.channel === channel);
    const bytes = Buffer.from(message.payload);
    assert.deepEqual([...bytes.subarray(0, 3)], [0x92, 0x90, 0x82]);
    assert.ok(bytes.includes(Buffer.from('{"type":1,"target":"TenantCreated","arguments":[{"tenantName":"acme"}]}\u001e')));
    assert.ok(bytes.includes(Buffer.from('messagepack')));
  });

  test('Redis stopped: a clear error and exit status 1 within the timeout', async (t) => {
    const gone = await redisFor(t);
    const url = gone.url;
    await gone.stop();
    const started = Date.now();
    const result = await run(BIN, ['publish', '--backplane', url, '--hub', HUB, '--timeout', '1s', '--user', 'alice', 'TenantCreated', '{}']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /unreachable/);
    assert.ok(Date.now() - started < 10_000, 'bounded by --timeout');
    const port = await freePort();
    const never = await run(BIN, ['publish', '--backplane', `redis://127.0.0.1:${port}`, '--hub', HUB, '--timeout', '500ms', 'T', '1']);
    assert.equal(never.code, 1);
    assert.match(never.stderr, /unreachable/);
  });

  test('the example job worker: N jobs in, N notifications out, each to its user only', async (t) => {
    const { alice, bob, clients } = await people(t);
    const list = unique('jobs');
    const jobs = [];
    for (let i = 0; i < 6; i += 1) {
      const user = i % 2 === 0 ? alice : bob;
      jobs.push({ id: `j${i}`, user, tenant: unique(`t${i}`), ...(i % 3 === 2 ? { error: 'quota exceeded' } : {}) });
    }
    const queue = await redis.connect();
    await queue.command('RPUSH', list, ...jobs.map((j) => JSON.stringify(j)));
    const worker = await run(WORKER, ['--backplane', redis.url, '--prefix', PREFIX, '--hub', HUB,
      '--redis', `127.0.0.1:${redis.port}`, '--list', list, '--max-jobs', String(jobs.length)]);
    assert.equal(worker.code, 0, worker.stderr);
    await fence(clients);
    const expect = (user, failed) => jobs.filter((j) => j.user === user && Boolean(j.error) === failed).map((j) => j.tenant);
    for (const [client, user] of [[clients.alice1, alice], [clients.alice2, alice], [clients.bob, bob]]) {
      assert.deepEqual(tenants(client), expect(user, false), `${client.user} TenantCreated`);
      assert.deepEqual(tenants(client, 'TenantCreationFailed'), expect(user, true), `${client.user} TenantCreationFailed`);
      assert.equal(client.got.TenantProgress.length, 3 * jobs.filter((j) => j.user === user).length);
    }
  });

  test('the example job worker adds a connection to the tenant group on another instance, with the ack', async (t) => {
    const { alice, clients } = await people(t);
    const list = unique('jobs');
    const tenant = unique('tenant');
    const watcher = clients.bob; // not the job's user: receives through the tenant group only
    const queue = await redis.connect();
    await queue.command('RPUSH', list, JSON.stringify({ id: 'g1', user: alice, tenant, connection: watcher.connection.connectionId }));
    const worker = await run(WORKER, ['--backplane', redis.url, '--prefix', PREFIX, '--hub', HUB,
      '--redis', `127.0.0.1:${redis.port}`, '--list', list, '--max-jobs', '1']);
    assert.equal(worker.code, 0, worker.stderr);
    assert.doesNotMatch(worker.stderr, /adding/);
    await fence(clients);
    assert.deepEqual(tenants(watcher), [tenant]);
    assert.deepEqual(tenants(clients.alice1), [tenant]);
  });

  test('the shell worker over switchboard publish and redis-cli', { skip: skipShell }, async (t) => {
    const { alice, clients } = await people(t);
    const list = unique('jobs');
    const tenant = unique('shell');
    const queue = await redis.connect();
    await queue.command('RPUSH', list, JSON.stringify({ id: 's1', user: alice, tenant }));
    const script = path.join(ROOT, 'examples', 'worker', 'worker.sh');
    const result = await new Promise((resolve) => {
      const child = spawn('bash', [script], {
        cwd: ROOT,
        env: { ...process.env, SWITCHBOARD_BIN: BIN, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port), JOBS_LIST: list, HUB, PREFIX, MAX_JOBS: '1' },
      });
      let stderr = '';
      child.stderr.on('data', (c) => { stderr += c; });
      // A hung worker fails the test instead of the suite.
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
    });
    assert.equal(result.code, 0, result.stderr);
    await fence(clients);
    assert.deepEqual(tenants(clients.alice1), [tenant]);
    assert.deepEqual(tenants(clients.alice2), [tenant]);
    assert.deepEqual(tenants(clients.bob), []);
  });
});

describe('switchboard publish --url: through a server\'s REST API', () => {
  const KEY = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH';

  test('a user, a group with an exclusion, stdin lines; a wrong key or hub is refused', async (t) => {
    const server = await serverFor(t, ['--jwt-secret', SECRET, '--hub', '/hubs/notifications',
      '--hub-groups', 'open', '--access-key', KEY]);
    const alice = await notificationsClient(t, server, unique('alice'));
    const bob = await notificationsClient(t, server, unique('bob'));
    const carol = await notificationsClient(t, server, unique('carol'));
    const group = unique('tenant');
    for (const c of [alice, bob, carol]) await c.connection.invoke('JoinGroup', group);

    const ok = await run(BIN, ['publish', '--url', server.url, '--access-key', KEY, '--hub', HUB,
      '--user', alice.user, 'TenantCreated', '{"tenantName":"acme"}']);
    assert.equal(ok.code, 0, ok.stderr);
    await waitFor(() => alice.got.TenantCreated.length === 1);
    assert.deepEqual(alice.got.TenantCreated[0], [{ tenantName: 'acme' }]);

    const lines = [
      JSON.stringify({ target: 'TenantProgress', arguments: [50], group, exclude: [carol.connection.connectionId] }),
      JSON.stringify({ target: 'Fence', arguments: [], all: true }),
    ].join('\n');
    const piped = await run(BIN, ['publish', '--connection-string', `Endpoint=${server.url};AccessKey=${KEY};Version=1.0;`,
      '--hub', HUB], { input: `${lines}\n` });
    assert.equal(piped.code, 0, piped.stderr);
    for (const c of [alice, bob, carol]) await waitFor(() => c.got.Fence.length === 1);
    assert.equal(alice.got.TenantProgress.length, 1);
    assert.equal(bob.got.TenantProgress.length, 1);
    assert.equal(carol.got.TenantProgress.length, 0, 'excluded');
    assert.equal(bob.got.TenantCreated.length, 0, 'only alice was addressed');

    const wrongKey = await run(BIN, ['publish', '--url', server.url, '--access-key', 'Z'.repeat(44), '--hub', HUB, 'Fence']);
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stderr, /the server answered 401/);
    const wrongHub = await run(BIN, ['publish', '--url', server.url, '--access-key', KEY, '--hub', 'nosuchhub', 'Fence']);
    assert.equal(wrongHub.code, 2);
    assert.match(wrongHub.stderr, /the server answered 404/);
    const both = await run(BIN, ['publish', '--url', server.url, '--backplane', 'redis://127.0.0.1:1', '--hub', HUB, 'Fence']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exclude each other/);
    const gone = await run(BIN, ['publish', '--url', `http://127.0.0.1:${await freePort()}`, '--access-key', KEY, '--hub', HUB, 'Fence']);
    assert.equal(gone.code, 1);
  });
});
