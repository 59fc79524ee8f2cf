// Browser test: the demo page in Debian's Chromium (driven by playwright-core; no browser is downloaded).
//
// Profile: chromium.launch() starts Chromium with a fresh temporary --user-data-dir that Playwright deletes on
// close; each user gets its own browser.newContext() (isolated storage/cookies, like separate profiles).
//
// Static files: if web/lib/signalr.min.js exists (the Makefile copies it) the server serves web/ directly;
// otherwise the test serves a temporary copy of web/ plus the client bundle from node_modules.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, cp, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from './chromium.mjs';
import { ROOT, startServer } from '../e2e/server.mjs';

const TIMEOUT = 10_000;

async function exists(file) {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Returns [staticDir, cleanup]. */
async function prepareStaticDir() {
  if (await exists(path.join(ROOT, 'web', 'lib', 'signalr.min.js'))) return ['web', async () => {}];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'switchboard-web-'));
  await cp(path.join(ROOT, 'web'), dir, { recursive: true });
  await mkdir(path.join(dir, 'lib'), { recursive: true });
  await copyFile(
    path.join(ROOT, 'node_modules', '@microsoft', 'signalr', 'dist', 'browser', 'signalr.min.js'),
    path.join(dir, 'lib', 'signalr.min.js'),
  );
  return [dir, () => rm(dir, { recursive: true, force: true })];
}

describe('chat page in Chromium', () => {
  let server;
  let browser;
  let cleanupStatic = async () => {};

  before(async () => {
    let staticDir;
    [staticDir, cleanupStatic] = await prepareStaticDir();
    // A small chat limit so the error test can trip it without hitting the transport's message size limit.
    server = await startServer(['--chat-max-message-length', '100'], { staticDir });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await cleanupStatic();
  });

  /** Opens the page in a fresh context; collects page errors so the test can assert there were none. */
  async function openPage(t) {
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const problems = [];
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
    });
    const response = await page.goto(`${server.url}/`);
    assert.equal(response.status(), 200);
    return { page, problems };
  }

  async function login(page, user) {
    await page.locator('#user').fill(user);
    await page.locator('#connect').click();
    await page.locator('#status[data-state="connected"]').waitFor();
    assert.equal(await page.locator('#status').textContent(), `Connected as ${user}`);
  }

  /** Waits for a list item in `list` of data-kind `kind` containing all `texts`; returns its text. */
  async function item(page, list, kind, ...texts) {
    let locator = page.locator(`${list} > li[data-kind="${kind}"]`);
    for (const text of texts) locator = locator.filter({ hasText: text });
    await locator.first().waitFor();
    return locator.first().textContent();
  }

  test('alice and bob join "team", chat in the group and directly', async (t) => {
    const { page: alice, problems: aliceProblems } = await openPage(t);
    const { page: bob, problems: bobProblems } = await openPage(t);
    assert.equal(await alice.title(), 'Switchboard chat');
    assert.equal(await alice.locator('#status').getAttribute('data-state'), 'disconnected');
    assert.ok(await alice.locator('#send-all').isDisabled(), 'chat controls must be disabled until connected');

    await login(alice, 'alice');
    await login(bob, 'bob');
    await item(alice, '#events', 'presence', 'bob connected');

    await alice.locator('#group').fill('team');
    await alice.locator('#join').click();
    await item(alice, '#events', 'group', 'alice joined team');
    await bob.locator('#group').fill('team');
    await bob.locator('#join').click();
    await item(bob, '#events', 'group', 'bob joined team');
    await item(alice, '#events', 'group', 'bob joined team');

    // Group message from alice reaches bob.
    await alice.locator('#message').fill('hello team');
    await alice.locator('#send-group').click();
    const groupLine = await item(bob, '#messages', 'group', '[team] alice:', 'hello team');
    assert.match(groupLine, /\[team\] alice: hello team$/);
    await item(alice, '#messages', 'group', '[team] alice:', 'hello team');
    assert.equal(await alice.locator('#message').inputValue(), '', 'the message box is cleared after sending');

    // Direct message from bob reaches alice.
    await bob.locator('#to-user').fill('alice');
    await bob.locator('#message').fill('hi alice, bob here');
    await bob.locator('#send-direct').click();
    const directLine = await item(alice, '#messages', 'direct', 'bob (direct):', 'hi alice, bob here');
    assert.match(directLine, /bob \(direct\): hi alice, bob here$/);

    // Broadcast with markup: rendered as text, never as HTML.
    const markup = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    await bob.locator('#message').fill(markup);
    await bob.locator('#send-all').click();
    const broadcastLine = await item(alice, '#messages', 'all', 'bob:', markup);
    assert.ok(broadcastLine.endsWith(markup));
    assert.equal(await alice.locator('#messages img, #messages b').count(), 0, 'user data was rendered as HTML');
    assert.equal(await alice.evaluate(() => window.__pwned), undefined);

    // Leaving: alice is told, bob no longer gets group messages (a later broadcast proves ordering).
    await bob.locator('#leave').click();
    await item(alice, '#events', 'group', 'bob left team');
    await alice.locator('#message').fill('only me now');
    await alice.locator('#send-group').click();
    await item(alice, '#messages', 'group', 'only me now');
    await alice.locator('#message').fill('marker');
    await alice.locator('#send-all').click();
    await item(bob, '#messages', 'all', 'alice:', 'marker');
    assert.equal(await bob.locator('#messages > li', { hasText: 'only me now' }).count(), 0);

    // Disconnect shows up for the other user.
    await bob.locator('#disconnect').click();
    await bob.locator('#status[data-state="disconnected"]').waitFor();
    await item(alice, '#events', 'presence', 'bob disconnected');

    assert.deepEqual(aliceProblems, []);
    assert.deepEqual(bobProblems, []);
  });

  test('an invocation error is shown on the page and the connection stays up', async (t) => {
    const { page, problems } = await openPage(t);
    await login(page, 'carol');
    await page.locator('#group').fill(' ');
    await page.locator('#join').click();
    await item(page, '#events', 'error', 'Enter a group name first.');
    await page.locator('#message').fill('x'.repeat(101));
    await page.locator('#send-all').click();
    await item(page, '#events', 'error', 'SendMessage failed');
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'connected');
    await page.locator('#message').fill('still here');
    await page.locator('#send-all').click();
    await item(page, '#messages', 'all', 'carol:', 'still here');
    assert.deepEqual(problems, []);
  });
});
