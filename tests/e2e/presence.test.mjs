// Cluster-wide presence through the chat hub (docs/presence.md): three instances on each backplane
// that shares presence (real Redis, PostgreSQL, NATS), official clients; who is online agrees from every instance, UserOnline/UserOffline once per user
// however many tabs and instances, group members, and an instance killed with SIGKILL leaving
// presence within the expiry (and a user who reconnects elsewhere reappearing).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientFor, countEvents, unique, waitFor } from './server.mjs';
import { redisAvailable } from './redis.mjs';
import { BUSES, startInstances } from './scaleout/buses.mjs';
import { startCluster, suiteScope } from './scaleout/cluster.mjs';

const TIMEOUT = 10_000; // cross-instance, on a loaded 2-core machine
const EXPIRY_MS = 2_000;

const online = (client) => client.connection.invoke('GetOnlineUsers');
const onlineOf = (client, name) => countEvents(client, 'UserOnline', ([u]) => u === name);
const offlineOf = (client, name) => countEvents(client, 'UserOffline', ([u]) => u === name);

// The backplanes whose instances share one presence store; each starts three instances with `args`.
const SHARED_PRESENCE = new Set(['PostgreSQL', 'NATS']);
const BACKPLANES = [
  {
    name: 'Redis',
    skip: redisAvailable() ? false : 'redis-server is not installed',
    start: (scope, args) => startCluster(scope, { args }),
  },
  ...BUSES.filter((bus) => SHARED_PRESENCE.has(bus.name)).map((bus) => ({
    name: bus.name,
    skip: bus.skip,
    start: async (scope, args) => {
      const started = await bus.start(scope);
      return startInstances(scope, (i) => bus.spec(started, i), { args });
    },
  })),
];

for (const backplane of BACKPLANES) describe(`presence across three instances on ${backplane.name}`, { skip: backplane.skip }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await backplane.start(scope, ['--presence-expiry', `${EXPIRY_MS}ms`]);
  });

  test('every instance agrees who is online; each user comes online and goes offline once', async (t) => {
    const [a, b, c] = cluster.servers;
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(unique);
    const watcher = await clientFor(t, a.url, carol);
    const aliceTab1 = await clientFor(t, a.url, alice);
    const aliceTab2 = await clientFor(t, b.url, alice);
    const bobTab = await clientFor(t, c.url, bob);
    for (const client of [watcher, aliceTab1, bobTab]) {
      await waitFor(async () => {
        const users = await online(client);
        return [alice, bob, carol].every((u) => users.includes(u));
      }, TIMEOUT, { message: () => `everyone online, asked on ${client.url}` });
    }
    await waitFor(() => onlineOf(watcher, alice) >= 1 && onlineOf(watcher, bob) >= 1, TIMEOUT);
    // A marker after the others: once it arrived, a duplicate UserOnline would have too.
    const dave = unique('dave');
    const daveTab = await clientFor(t, b.url, dave);
    await waitFor(() => onlineOf(watcher, dave) === 1, TIMEOUT);
    assert.equal(onlineOf(watcher, alice), 1, 'alice has two tabs on two instances: one UserOnline');
    assert.equal(onlineOf(watcher, bob), 1);

    await aliceTab1.stop();
    await daveTab.stop();
    await waitFor(() => offlineOf(watcher, dave) === 1, TIMEOUT);
    assert.equal(offlineOf(watcher, alice), 0, 'alice still has a tab open');
    assert.ok((await online(watcher)).includes(alice));
    await aliceTab2.stop();
    await waitFor(() => offlineOf(watcher, alice) === 1, TIMEOUT);
    assert.ok(!(await online(bobTab)).includes(alice));
  });

  test('group members are listed from any instance, for callers the group policy allows', async (t) => {
    const [a, , c] = cluster.servers;
    const room = unique('room');
    const member = await clientFor(t, c.url, unique('member'));
    const asker = await clientFor(t, a.url, unique('asker'));
    await member.connection.invoke('JoinGroup', room);
    await waitFor(async () => (await asker.connection.invoke('GetGroupMembers', room)).length === 1, TIMEOUT);
    const [entry] = await asker.connection.invoke('GetGroupMembers', room);
    assert.equal(entry.userId, member.user);
    assert.equal(entry.connectionId, member.connection.connectionId);
    await member.connection.invoke('LeaveGroup', room);
    await waitFor(async () => (await asker.connection.invoke('GetGroupMembers', room)).length === 0, TIMEOUT);
    await assert.rejects(asker.connection.invoke('GetGroupMembers', ''), /Group name must not be empty/);
  });

  // Last: it kills the third instance.
  test('the users of an instance killed with SIGKILL go offline within the expiry', async (t) => {
    const [a, , c] = cluster.servers;
    const watcher = await clientFor(t, a.url, unique('watcher'));
    const victim = unique('victim');
    const onC = await clientFor(t, c.url, victim);
    await waitFor(async () => (await online(watcher)).includes(victim), TIMEOUT);
    c.process.kill('SIGKILL');
    await c.exited;
    onC.stop().catch(() => {});
    const killed = Date.now();
    await waitFor(async () => !(await online(watcher)).includes(victim), TIMEOUT);
    const gone = Date.now() - killed;
    assert.ok(gone < EXPIRY_MS + 3_000, `left presence after ${gone} ms`);
    await waitFor(() => offlineOf(watcher, victim) === 1, TIMEOUT);

    // Reconnecting elsewhere, the user reappears and comes online again.
    const [, b] = cluster.servers;
    await clientFor(t, b.url, victim);
    await waitFor(async () => (await online(watcher)).includes(victim), TIMEOUT);
    await waitFor(() => onlineOf(watcher, victim) === 2, TIMEOUT); // its first arrival, then this one
  });
});
