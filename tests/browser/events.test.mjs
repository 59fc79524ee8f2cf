// Event streams in Debian's Chromium (playwright-core): the browser's own EventSource, three
// instances on a real Redis, subscribers spread over them, publishing over REST on one; and the
// clients/events module in the page, with typed handlers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { launchChromium } from './chromium.mjs';
import { ROOT, unique, waitFor } from '../e2e/server.mjs';
import { redisAvailable } from '../e2e/redis.mjs';
import { startCluster, suiteScope } from '../e2e/scaleout/cluster.mjs';

const KEY = 'browser-events-key';
const TIMEOUT = 15_000;

async function publish(server, channel, type, data) {
  const response = await fetch(`${server.url}/api/events/${encodeURIComponent(channel)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ type, data }),
  });
  assert.equal(response.status, 202, await response.text());
}

describe('event streams in Chromium across three instances', { skip: !redisAvailable() && 'redis-server is not installed' }, () => {
  const scope = suiteScope();
  let cluster;
  let browser;
  let page;

  before(async () => {
    cluster = await startCluster(scope, { args: ['--events-publish-key', KEY, '--cors-origin', '*'] });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(TIMEOUT);
    // A page of the first instance; the other two are other origins (CORS).
    await page.goto(`${cluster.servers[0].url}/`);
  });

  after(async () => {
    await browser?.close();
  });

  test("the browser's EventSource gets every event once, in order, from every instance", async () => {
    const channel = unique('game');
    const urls = cluster.servers.map((s) => `${s.url}/events/${encodeURIComponent(channel)}`);
    await page.evaluate((list) => {
      window.received = list.map(() => []);
      window.opened = list.map(() => false);
      window.sources = list.map((url, i) => {
        const source = new EventSource(url);
        source.onopen = () => { window.opened[i] = true; };
        source.addEventListener('Tick', (e) => window.received[i].push([e.lastEventId, JSON.parse(e.data)]));
        return source;
      });
    }, urls);
    await page.waitForFunction(() => window.opened.every(Boolean));
    // Each instance listens on the bus once its subscriber is in: wait for three on the channel.
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 3);

    const total = 30;
    for (let i = 0; i < total; i++) await publish(cluster.servers[2], channel, 'Tick', { i });
    await page.waitForFunction((n) => window.received.every((r) => r.length >= n), total);
    const received = await page.evaluate(() => window.received);
    for (const events of received) {
      assert.deepEqual(events.map(([, body]) => body.data.i), Array.from({ length: total }, (_, i) => i));
      assert.ok(events.every(([id, body]) => /^\d+-\d+$/.test(id) && body.channel === channel));
    }
    await page.evaluate(() => window.sources.forEach((s) => s.close()));
  });

  test('clients/events runs in the page with typed handlers', async () => {
    // The module's exports become a global for this page (it is plain ESM without imports).
    const source = await readFile(path.join(ROOT, 'clients/events/index.js'), 'utf8');
    await page.addScriptTag({
      content: `${source.replace(/^export /gm, '')}\nwindow.SwitchboardEvents = { EventStream, publishEvent };`,
    });
    const channel = unique('feed');
    await page.evaluate(([base, name]) => {
      window.typed = [];
      window.stream = new window.SwitchboardEvents.EventStream(base, { channels: [name] });
      window.stream.on('Joined', (data, meta) => window.typed.push({ data, meta }));
      window.streamOpen = new Promise((resolve) => window.stream.onState((s) => s === 'open' && resolve()));
    }, [cluster.servers[1].url, channel]);
    await page.evaluate(() => window.streamOpen);
    await cluster.redis.waitForSubscribers(`switchboard:events:${channel}`, 1);
    await publish(cluster.servers[0], channel, 'Joined', { player: 'ann' });
    await page.waitForFunction(() => window.typed.length === 1);
    const [event] = await page.evaluate(() => window.typed);
    assert.deepEqual(event.data, { player: 'ann' });
    assert.equal(event.meta.channel, channel);
    assert.equal(event.meta.type, 'Joined');
    await waitFor(async () => (await page.evaluate(() => window.stream.lastEventId)) === event.meta.id);
    await page.evaluate(() => window.stream.close());
  });
});
