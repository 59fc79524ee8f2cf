// The demo app (web/, built into web/dist) in Debian's Chromium: two users in two browser contexts,
// two instances on a real Redis behind nginx (examples/multi-instance/nginx.conf). Sign-in, direct
// messages both ways, groups, presence, worker notifications (the page's development worker over the
// REST API, and examples/worker/worker.sh from a Redis list), a call with Chromium's fake camera
// reaching "connected" on both sides, the live events panel, and the reconnect banner when the
// instance serving a user stops.
//
// SCREENSHOTS=docs/images (make screenshots) also saves the main screens there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FAKE_MEDIA_ARGS, launchChromium } from './chromium.mjs';
import { ROOT, startServer, unique, waitFor } from '../e2e/server.mjs';
import { freePort, redisAvailable } from '../e2e/redis.mjs';
import { suiteScope, waitForReady } from '../e2e/scaleout/cluster.mjs';

const TIMEOUT = 15_000;
const DIST = path.join(ROOT, 'web', 'dist');
// The key `make run` uses, which the app's development worker signs with (web/src/lib/notifications.ts).
const DEV_ACCESS_KEY = 'switchboard-development-access-key-make-run';
const SCREENSHOTS = process.env.SCREENSHOTS ? path.resolve(ROOT, process.env.SCREENSHOTS) : undefined;

const hasNginx = spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
const hasWorkerTools = ['redis-cli', 'jq'].every((tool) => spawnSync('which', [tool], { stdio: 'ignore' }).status === 0);
const skip =
  (!existsSync(path.join(DIST, 'index.html')) && 'web/dist is not built (make web)') ||
  (!redisAvailable() && 'redis-server is not installed') ||
  (!hasNginx && 'nginx is not installed');

/** nginx with the example's configuration, its three instances rewritten to `ports`; resolves with its URL. */
async function startNginx(scope, ports) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-app-nginx-'));
  const port = await freePort();
  let conf = await readFile(path.join(ROOT, 'examples', 'multi-instance', 'nginx.conf'), 'utf8');
  // Instances beyond ours go, their upstreams and then every line naming them (nginx refuses
  // duplicate map keys and an upstream with backups only), then the ports change.
  for (let i = ports.length; i < 3; i += 1) {
    conf = conf.replace(new RegExp(`\\n *upstream switchboard_${i} \\{[^}]*\\}`), '');
    conf = conf.split('\n').filter((l) => !l.includes(`127.0.0.1:500${i}`)).join('\n');
  }
  for (let i = 0; i < ports.length; i += 1) conf = conf.replaceAll(`127.0.0.1:500${i}`, `127.0.0.1:${ports[i]}`);
  conf = conf.replace('listen 8080;', `listen 127.0.0.1:${port};`);
  // A test cookie, sb_pin=N, sends a page's negotiates to instance N, so the two users are on two
  // instances for sure; without it nginx picks as configured (the failover test drops it).
  const negotiate = 'location ~ ^/hubs/[^/]+/negotiate$ {\n            proxy_pass http://switchboard;';
  assert.ok(conf.includes(negotiate), 'nginx.conf: the negotiate location changed');
  conf = conf.replace(negotiate, negotiate.replace('http://switchboard;', 'http://$sb_pinned;'));
  const pins = ports.map((_, i) => `"${i}" switchboard_${i};`).join(' ');
  conf = conf.replace('    server {', `    map $cookie_sb_pin $sb_pinned { default switchboard; ${pins} }\n\n    server {`);
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  scope(async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    return (await fetch(`${url}/readyz`).catch(() => null))?.status === 200;
  }, 10_000, { interval: 50, message: () => `nginx on ${port}: ${stderr}` });
  return url;
}

describe('the demo app in Chromium: two users, two instances on Redis behind nginx', { skip }, () => {
  const scope = suiteScope();
  let redis;
  let servers;
  let nginxUrl;
  let browser;
  const pages = {};
  let team; // the group of the group test, shown again in the screenshots
  const problems = [];

  before(async () => {
    const { redisFor } = await import('../e2e/redis.mjs');
    redis = await redisFor(scope);
    servers = [];
    for (const name of ['alpha', 'beta']) {
      const server = await startServer(
        ['--backplane', redis.url, '--server-name', unique(name), '--hub', '/hubs/notifications',
          '--access-key', DEV_ACCESS_KEY, '--events-open'],
        { staticDir: DIST },
      );
      scope(() => server.stop());
      servers.push(server);
    }
    await waitForReady(servers);
    await redis.waitForSubscribers('chat:all', servers.length);
    nginxUrl = await startNginx(scope, servers.map((s) => s.port));
    browser = await launchChromium(FAKE_MEDIA_ARGS);
    scope(() => browser.close());
    if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(() => {
    // Every console error or page error of the whole run: there should be none besides the
    // expected reconnect noise, which the app logs as warnings.
    assert.deepEqual(problems, []);
  });

  async function openPage(name, pin) {
    const context = await browser.newContext({
      permissions: ['camera', 'microphone'],
      viewport: { width: 1360, height: 860 },
      colorScheme: 'light',
    });
    scope(() => context.close());
    await context.addCookies([{ name: 'sb_pin', value: String(pin), url: nginxUrl }]);
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on('pageerror', (error) => problems.push(`${name} pageerror: ${error.message}`));
    page.on('console', (message) => {
      // Failed requests to a stopped instance are the browser's own console errors: expected.
      if (message.type() === 'error' && !/Failed to load resource|net::ERR_|502|WebSocket connection/.test(message.text())) {
        problems.push(`${name} console.error: ${message.text()}`);
      }
    });
    const response = await page.goto(`${nginxUrl}/`);
    assert.equal(response.status(), 200);
    return page;
  }

  async function shot(page, name) {
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  }

  async function signIn(page, user) {
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid=status][data-state=connected]').waitFor();
    assert.equal(await page.getByTestId('me').textContent(), user);
  }

  const instanceOf = (page) => page.getByTestId('instance').textContent();

  /** Opens a conversation in the sidebar and sends `text` there. */
  async function send(page, conversation, text) {
    await page.locator(`button[data-conversation="${conversation}"]`).click();
    await page.locator('#message').fill(text);
    await page.locator('#message').press('Enter');
    await waitFor(async () => (await page.locator('#message').inputValue()) === '', TIMEOUT, { message: 'the composer to clear' });
  }

  /** Waits for a line with `texts` in the conversation on screen. */
  async function line(page, kind, ...texts) {
    let locator = page.locator(`[data-testid=log] > li[data-kind="${kind}"]`);
    for (const text of texts) locator = locator.filter({ hasText: text });
    await locator.first().waitFor();
    return locator.first().textContent();
  }

  test('sign-in screen; alice and bob sign in, each on an instance of their own', async () => {
    pages.alice = await openPage('alice', 0);
    assert.equal(await pages.alice.title(), 'Switchboard demo');
    await shot(pages.alice, 'sign-in');
    await signIn(pages.alice, 'alice');
    pages.bob = await openPage('bob', 1);
    await signIn(pages.bob, 'bob');
    const [aliceInstance, bobInstance] = [await instanceOf(pages.alice), await instanceOf(pages.bob)];
    assert.match(aliceInstance, /^alpha-/);
    assert.match(bobInstance, /^beta-/);
    assert.equal(await pages.alice.getByTestId('transport').textContent(), 'WebSockets');
    assert.equal(await pages.alice.getByTestId('protocol').textContent(), 'JSON');
    await waitFor(async () => /ms$/.test(await pages.alice.getByTestId('rtt').textContent()), TIMEOUT, { message: 'a round-trip time' });
  });

  test('presence: each sees the other online, across instances', async () => {
    for (const [page, other] of [[pages.alice, 'bob'], [pages.bob, 'alice']]) {
      await page.locator(`[data-testid=online] li[data-user="${other}"]`).waitFor();
    }
  });

  test('direct messages both ways; markup stays text', async () => {
    const { alice, bob } = pages;
    await alice.getByRole('button', { name: 'Message bob' }).click();
    await send(alice, 'user:bob', 'hi bob, alice here');
    await bob.locator('button[data-conversation="user:alice"]').waitFor();
    assert.match(await bob.locator('button[data-conversation="user:alice"]').textContent(), /1$/, 'an unread badge');
    await bob.locator('button[data-conversation="user:alice"]').click();
    await line(bob, 'message', 'alice', 'hi bob, alice here');
    const markup = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    await send(bob, 'user:alice', markup);
    assert.ok((await line(alice, 'message', 'bob', markup)).endsWith(markup));
    // The sender's own tab shows it in the same conversation.
    await line(bob, 'message', 'bob', markup);
    assert.equal(await alice.locator('[data-testid=log] img, [data-testid=log] b').count(), 0);
    assert.equal(await alice.evaluate(() => window.__pwned), undefined);
  });

  test('groups: join, member list, send, leave', async () => {
    const { alice, bob } = pages;
    const group = unique('team');
    team = group;
    for (const page of [alice, bob]) {
      await page.locator('#group-name').fill(group);
      await page.locator('#group-name').press('Enter');
      await page.locator(`button[data-conversation="group:${group}"][aria-current=true]`).waitFor();
    }
    await line(alice, 'notice', `bob joined ${group}`);
    await waitFor(async () => (await alice.getByTestId('members').textContent()) === 'Members: alice, bob', TIMEOUT, {
      message: 'alice and bob in the member list',
    });
    await send(alice, `group:${group}`, 'hello team');
    await line(bob, 'message', 'alice', 'hello team');
    await shot(alice, 'chat');
    await bob.getByRole('button', { name: 'Leave' }).click();
    await line(alice, 'notice', `bob left ${group}`);
    await waitFor(async () => (await alice.getByTestId('members').textContent()) === 'Members: alice', TIMEOUT, {
      message: 'bob gone from the member list',
    });
    // A hub error shows in the page and the connection stays up.
    await alice.locator('button[data-conversation="all"]').click();
    await alice.locator('#message').fill('x'.repeat(5000));
    await alice.locator('#message').press('Enter');
    await line(alice, 'error', 'Sending failed');
    assert.equal(await alice.getByTestId('status').getAttribute('data-state'), 'connected');
    await alice.locator('#message').fill('');
  });

  test('notifications: the development worker and examples/worker/worker.sh end in toasts', async (t) => {
    const { alice, bob } = pages;
    await alice.locator('#tenant-name').fill('acme');
    await alice.getByRole('button', { name: 'Create tenant' }).click();
    await alice.locator('[data-testid=toasts] li[data-kind=success]', { hasText: 'Tenant "acme" created' }).waitFor();
    await alice.locator('[data-testid=jobs] li[data-status=created]', { hasText: 'acme' }).waitFor();
    await shot(alice, 'notifications');
    assert.equal(await bob.locator('[data-testid=jobs] li').count(), 0, "bob sees none of alice's jobs");

    if (!hasWorkerTools) return t.skip('redis-cli or jq is missing: worker.sh not run');
    const list = unique('tenant-jobs');
    const worker = spawn('bash', [path.join(ROOT, 'examples', 'worker', 'worker.sh')], {
      env: {
        ...process.env,
        SWITCHBOARD_BIN: path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard'),
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(redis.port),
        JOBS_LIST: list,
        MAX_JOBS: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    t.after(() => worker.kill('SIGTERM'));
    const connection = await redis.connect();
    t.after(() => connection.close());
    // What the app's backend does in production: a job on the Redis list.
    await connection.command('RPUSH', list, JSON.stringify({ id: unique('job'), user: 'bob', tenant: 'globex', error: 'quota exceeded' }));
    await bob.locator('[data-testid=toasts] li[data-kind=error]', { hasText: 'Tenant "globex" failed: quota exceeded' }).waitFor();
    await bob.locator('[data-testid=jobs] li[data-status=failed]', { hasText: 'globex' }).waitFor();
  });

  test('events panel: plain EventSource gets what is published over REST and from the panel', async () => {
    const { alice, bob } = pages;
    const channel = unique('ticker');
    for (const page of [alice, bob]) {
      await page.locator('#events-channel').fill(channel);
      await page.getByRole('button', { name: 'Subscribe' }).click();
      await page.locator('[data-testid=events-status]', { hasText: 'open' }).waitFor();
    }
    await redis.waitForSubscribers(`switchboard:events:${channel}`, 2).catch(() => {
      // both on one instance: one subscription is enough
    });
    const response = await fetch(`${servers[0].url}/api/events/${encodeURIComponent(channel)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'Tick', data: { n: 1 } }),
    });
    assert.equal(response.status, 202, await response.text());
    await bob.locator('[data-testid=events] li[data-type=Tick]', { hasText: '{"n":1}' }).waitFor();
    await alice.locator('[data-testid=events] li[data-type=Tick]', { hasText: '{"n":1}' }).waitFor();
    await alice.locator('#event-data').fill('{"text":"from the panel"}');
    await alice.getByRole('button', { name: 'Publish' }).click();
    await bob.locator('[data-testid=events] li[data-type=Announcement]', { hasText: 'from the panel' }).waitFor();
  });

  test('a call: ring, accept, WebRTC connected on both sides with fake media, hang up', async () => {
    const { alice, bob } = pages;
    await alice.locator('#call-user').fill('bob');
    await alice.getByRole('button', { name: 'Call', exact: true }).click();
    await alice.locator('[data-testid=call-status][data-phase=calling]').waitFor();
    await bob.locator('[data-testid=call-status][data-phase=ringing]', { hasText: 'alice is calling you' }).waitFor();
    await bob.getByRole('button', { name: 'Accept' }).click();
    await alice.locator('[data-testid=call-status][data-phase=connected]').waitFor({ timeout: 30_000 });
    await bob.locator('[data-testid=call-status][data-phase=connected]').waitFor({ timeout: 30_000 });
    // Chromium's fake camera: the remote video plays frames.
    await alice.waitForFunction(() => {
      const video = document.querySelector('video[aria-label="Remote video"]');
      return video && video.readyState >= 2 && video.videoWidth > 0;
    });
    await alice.locator(`button[data-conversation="group:${team}"]`).click();
    await shot(alice, 'call');
    await bob.getByRole('button', { name: 'Hang up' }).click();
    await alice.locator('[data-testid=call-status][data-phase=ended]', { hasText: 'ended by bob' }).waitFor();
  });

  test("stopping alice's instance: the reconnect banner, then the other instance; messages still flow", async () => {
    const { alice, bob } = pages;
    const before = await instanceOf(alice);
    // The instance by its negotiate header (startServer knows its URL, not its name).
    let index = -1;
    for (let i = 0; i < servers.length; i += 1) {
      const response = await fetch(`${servers[i].url}/hubs/chat/negotiate?negotiateVersion=1`, { method: 'POST' });
      await response.body?.cancel();
      if (response.headers.get('x-switchboard-instance') === before) index = i;
    }
    assert.ok(index >= 0, `no instance named ${before}`);
    // Unpinned, so nginx can send alice's reconnect to the instance that is left.
    await alice.context().clearCookies({ name: 'sb_pin' });
    const stopping = servers[index].stop();
    await alice.getByTestId('reconnect-banner').waitFor();
    await alice.locator('[data-testid=status][data-state=reconnecting]').waitFor();
    await stopping;
    await alice.locator('[data-testid=status][data-state=connected]').waitFor({ timeout: 30_000 });
    await alice.getByTestId('reconnect-banner').waitFor({ state: 'detached' });
    const now = await instanceOf(alice);
    assert.notEqual(now, before);
    await send(bob, 'user:alice', 'still here after the failover');
    await alice.locator('button[data-conversation="user:bob"]').click();
    await line(alice, 'message', 'bob', 'still here after the failover');
    await send(alice, 'user:bob', 'me too');
    await bob.locator('button[data-conversation="user:alice"]').click();
    await line(bob, 'message', 'alice', 'me too');
  });
});

/** The flags `make run` starts the server with (the Makefile's run recipe), minus --listen and --static-dir. */
async function makeRunFlags() {
  const makefile = await readFile(path.join(ROOT, 'Makefile'), 'utf8');
  const variables = Object.fromEntries([...makefile.matchAll(/^([A-Z_]+) *:?= *(.*)$/gm)].map((m) => [m[1], m[2].trim()]));
  const recipe = /^run:.*\n((?:\t.*\n)+)/m.exec(makefile)?.[1].replace(/\\\n/g, ' ') ?? '';
  const command = recipe.split('\n').find((l) => l.includes('switchboard serve'));
  assert.ok(command, 'the Makefile has a run recipe with switchboard serve');
  const words = command.trim().split(/\s+/).map((w) => w.replace(/\$\(([A-Z_]+)\)/g, (_, name) => variables[name] ?? ''));
  const flags = words.slice(words.indexOf('serve') + 1);
  for (const dropped of ['--listen', '--static-dir']) {
    const at = flags.indexOf(dropped);
    if (at >= 0) flags.splice(at, 2);
  }
  return flags;
}

describe('the demo app as `make run` serves it: one instance, in-memory bus', { skip: !existsSync(path.join(DIST, 'index.html')) && 'web/dist is not built (make web)' }, () => {
  const scope = suiteScope();
  let server;
  let browser;

  before(async () => {
    const flags = await makeRunFlags();
    assert.ok(flags.includes('memory') && flags.includes('--access-key'), flags.join(' '));
    server = await startServer(flags, { staticDir: DIST });
    scope(() => server.stop());
    browser = await launchChromium();
    scope(() => browser.close());
  });

  test('the page plays the tenant worker over the REST API; events publish from the panel', async () => {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(TIMEOUT);
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/`);
    await page.getByLabel('User name').fill('dana');
    await page.getByLabel('Protocol').selectOption('messagepack');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid=status][data-state=connected]').waitFor();
    assert.equal(await page.getByTestId('protocol').textContent(), 'MessagePack');
    assert.equal(await page.getByTestId('instance').textContent(), 'local');
    await page.locator('[data-testid=online] li[data-user="dana"]').waitFor();

    await page.locator('#tenant-name').fill('initech');
    await page.getByLabel('Make the job fail').check();
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.locator('[data-testid=toasts] li[data-kind=error]', { hasText: 'Tenant "initech" failed: quota exceeded' }).waitFor();

    await page.locator('[data-testid=events-status]', { hasText: 'open' }).waitFor();
    await page.locator('#event-data').fill('{"text":"dev mode"}');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.locator('[data-testid=events] li[data-type=Announcement]', { hasText: 'dev mode' }).waitFor();
    assert.deepEqual(errors, []);
  });

  test('sign-in with a token from `switchboard token` on a server with a JWT key', async () => {
    const secret = 'browser-test-secret-of-at-least-32-bytes';
    const secured = await startServer(['--jwt-secret', secret], { staticDir: DIST });
    scope(() => secured.stop());
    const bin = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');
    const issued = spawnSync(bin, ['token', '--user', 'erin', '--jwt-secret', secret], { encoding: 'utf8' });
    assert.equal(issued.status, 0, issued.stderr);
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(`${secured.url}/`);
    await page.getByText('Sign in with a token instead').click();
    await page.getByLabel(/JWT/).fill(issued.stdout.trim());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid=status][data-state=connected]').waitFor();
    assert.equal(await page.getByTestId('me').textContent(), 'erin');
    await page.locator('[data-testid=online] li[data-user="erin"]').waitFor();
  });
});
