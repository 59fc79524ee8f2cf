// Issue #4: Redis restarted under three running instances. Clients are connected to the instances, not to
// Redis, so they stay up; /readyz follows the backplane; after Redis is back the instances re-subscribe
// (including the group and user channels of their connections) and cross-instance traffic flows again.
//
// Each test starts its own Redis and instances (they restart Redis, so nothing is shared).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countEvents, unique, waitFor, waitForEvent } from '../server.mjs';
import { redisAvailable, redisFor } from '../redis.mjs';
import { metric } from './buses.mjs';
import { BY_NAME, clientOn, joinGroup, marker, readyStatus, received, startCluster, stillConnected, waitForReady } from './cluster.mjs';

const skip = redisAvailable() ? false : 'redis-server is not installed';
const TIMEOUT = 10_000;
// Reconnect backoff doubles from 100 ms up to 5 s: recovery can take a few seconds after Redis is back.
const RECOVERY_TIMEOUT = 30_000;

/** A cluster with clients of several transports/protocols: a0 and a0b on instance 0, b1 on 1, c2 on 2. */
async function setup(t) {
  const redis = await redisFor(t);
  const cluster = await startCluster(t, { redis });
  const [s0, s1, s2] = cluster.servers;
  const a0 = await clientOn(t, s0, unique('a0'), BY_NAME['WebSockets/JSON']);
  const a0b = await clientOn(t, s0, unique('a0b'), BY_NAME['LongPolling/MessagePack']);
  const b1 = await clientOn(t, s1, unique('b1'), BY_NAME['LongPolling/MessagePack']);
  const c2 = await clientOn(t, s2, unique('c2'), BY_NAME['ServerSentEvents/JSON']);
  const clients = [a0, a0b, b1, c2];
  await Promise.all(clients.map((c) => redis.waitForSubscribers(cluster.channel(`user:${c.user}`), 1)));
  return { redis, cluster, a0, a0b, b1, c2, clients };
}

/** Stops Redis and waits until every instance reports it on /readyz. */
async function outage({ redis, cluster }) {
  await redis.stop();
  await waitForReady(cluster.servers, 503, TIMEOUT);
}

/** Starts Redis again on the same port and waits until every instance is ready (re-subscribed) again. */
async function recover({ redis, cluster }) {
  await redis.start();
  await waitForReady(cluster.servers, 200, RECOVERY_TIMEOUT);
}

describe('Redis restarted under three instances', { skip }, () => {
  test('clients stay connected, /readyz goes 503 and back, local delivery goes on, cross-instance resumes', async (t) => {
    const env = await setup(t);
    const { redis, cluster, a0, a0b, b1, c2, clients } = env;
    const group = unique('survivors');
    await joinGroup(cluster, [a0, b1, c2], group, 3);
    for (const s of cluster.servers) assert.equal(await readyStatus(s), 200);

    await outage(env);
    for (const client of clients) assert.ok(stillConnected(client), `${client.user} lost its connection with Redis`);

    // While Redis is down: the sender's own instance delivers at once.
    const during = unique('while redis is down');
    await a0.connection.invoke('SendMessage', during);
    for (const client of [a0, a0b]) {
      assert.deepEqual(await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === during, TIMEOUT), [a0.user, during]);
    }
    // The publication for the other instances waits in the bus's buffer, which /metrics shows.
    const [s0] = cluster.servers;
    await waitFor(async () => (await metric(s0, 'switchboard_backplane_buffered_bytes')) > 0, TIMEOUT,
      { interval: 100, message: 'the buffered publication in /metrics' });
    const localGroup = unique('local group');
    await c2.connection.invoke('SendToGroup', group, localGroup);
    await waitForEvent(c2, 'ReceiveGroupMessage', ([, , m]) => m === localGroup, TIMEOUT);

    await recover(env);
    for (const s of cluster.servers) assert.ok(await metric(s, 'switchboard_backplane_reconnects_total') >= 1, `${s.url} counted no reconnect`);
    await waitFor(async () => (await metric(cluster.servers[0], 'switchboard_backplane_buffered_bytes')) === 0, RECOVERY_TIMEOUT,
      { interval: 100, message: 'the buffer emptied in /metrics' });
    assert.equal(await redis.numsub(cluster.channel('all')), 3);
    // Re-subscribed: the dynamic channels too (the group on three instances, each user's channel).
    assert.equal(await redis.numsub(cluster.channel(`group:${group}`)), 3);
    assert.equal(await redis.numsub(cluster.channel(`user:${b1.user}`)), 1);

    const after = unique('after recovery');
    await b1.connection.invoke('SendMessage', after);
    for (const client of clients) {
      assert.deepEqual(await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === after, TIMEOUT), [b1.user, after]);
    }
    const groupAfter = unique('group after recovery');
    await c2.connection.invoke('SendToGroup', group, groupAfter);
    for (const member of [a0, b1, c2]) {
      await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === groupAfter, TIMEOUT);
    }
    const direct = unique('direct after recovery');
    await a0.connection.invoke('SendToUser', b1.user, direct);
    await waitForEvent(b1, 'ReceiveDirectMessage', ([, m]) => m === direct, TIMEOUT);

    await marker(b1, clients);
    await marker(c2, clients);
    assert.equal(countEvents(a0b, 'ReceiveGroupMessage'), 0, 'a non-member received a group message');
    for (const client of clients) {
      assert.equal(received(client, after), 1, `${client.user} got the post-recovery broadcast ${received(client, after)} times`);
      assert.ok(stillConnected(client), `${client.user} was disconnected`);
      assert.deepEqual(client.reconnecting, []);
    }
    // The outage message reached the sender's instance once: the echo of its buffered publication (if it
    // came back) was filtered.
    for (const client of [a0, a0b]) assert.equal(received(client, during), 1);
  });

  test('two restarts in a row: the instances recover each time', async (t) => {
    const env = await setup(t);
    const { a0, b1, c2, clients } = env;
    for (let round = 1; round <= 2; round += 1) {
      await outage(env);
      await recover(env);
      const text = unique(`after restart ${round}`);
      await c2.connection.invoke('SendMessage', text);
      for (const client of clients) await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
    }
    await marker(a0, clients);
    for (const client of [a0, b1, c2]) assert.ok(stillConnected(client));
  });

  // The known race: the sending instance flushes its outage buffer once its publish link is back, which
  // could be before the other instances re-subscribed (Redis pub/sub keeps nothing, so they would miss
  // it). Measured 10 runs on the binary before commit 5af1cbb: 6 of 10 passed (every failure: the
  // instance-1 client never got the buffered message). Since 5af1cbb ("hold publications for resume_delay
  // (500 ms) after a reconnect") and 4b8bfe9: 40 of 40 passed (25 idle, 15 with both cores busy), and
  // 12 of 12 with the outage stretched to 3 s and 7 s (longer reconnect backoff). So it runs; if it turns
  // flaky again, mark it { skip } with the rate rather than retrying.
  test('a message sent during the outage reaches the other instances after recovery', async (t) => {
    const env = await setup(t);
    const { a0, a0b, b1, c2, clients } = env;
    await outage(env);
    const during = unique('buffered');
    await a0.connection.invoke('SendMessage', during);
    await waitForEvent(a0b, 'ReceiveMessage', ([, m]) => m === during, TIMEOUT);
    await recover(env);
    for (const client of [b1, c2]) {
      await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === during, TIMEOUT);
    }
    await marker(a0, clients);
    for (const client of clients) assert.equal(received(client, during), 1, `${client.user} got the buffered message ${received(client, during)} times`);
  });
});
