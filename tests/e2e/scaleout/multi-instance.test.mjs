// Issue #4: three `switchboard serve` instances on one real Redis, official JS clients spread over them.
//
// "Nothing (more) arrived" is asserted after an ordering marker: the marker is broadcast after the message
// under test by the same sender, so it leaves the sender's instance after it on the same Redis connection,
// and Redis and each instance keep that order per connection; once the marker is there, the message under
// test would have been there too.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VARIANTS, countEvents, unique, waitFor, waitForEvent } from '../server.mjs';
import { redisAvailable } from '../redis.mjs';
import { BY_NAME, clientOn, joinGroup, marker, received, startCluster, stillConnected, suiteScope } from './cluster.mjs';

const skip = redisAvailable() ? false : 'redis-server is not installed';
const TIMEOUT = 10_000; // cross-instance deliveries on a loaded 2-core machine

// Which transport/protocol the i-th client of a test uses.
const CONFIGS = [
  { name: 'WebSockets/JSON', pick: () => BY_NAME['WebSockets/JSON'] },
  { name: 'LongPolling/MessagePack', pick: () => BY_NAME['LongPolling/MessagePack'] },
  // JSON and MessagePack clients of every transport on the same instances: a publication must carry both.
  { name: 'mixed transports and protocols', pick: (i) => VARIANTS[i % VARIANTS.length] },
];

describe('three instances on one Redis', { skip }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope);
  });

  for (const config of CONFIGS) {
    describe(config.name, () => {
      /** Connects [instanceIndex, userName] pairs (names made unique per test, same name → same user). */
      async function connectAll(t, ...specs) {
        const ids = new Map();
        const clients = [];
        let i = 0;
        for (const [instance, name] of specs) {
          if (!ids.has(name)) ids.set(name, unique(name));
          const client = await clientOn(t, cluster.servers[instance], ids.get(name), config.pick(i));
          client.instance = instance;
          clients.push(client);
          i += 1;
        }
        // A connection's user channel is subscribed right after its handshake; make sure Redis has it
        // before a test addresses the user from another instance.
        const perUser = new Map();
        for (const c of clients) {
          perUser.set(c.user, (perUser.get(c.user) ?? new Set()).add(c.instance));
        }
        await Promise.all([...perUser].map(([user, instances]) =>
          cluster.redis.waitForSubscribers(cluster.channel(`user:${user}`), instances.size)));
        return clients;
      }

      test('a broadcast from each instance reaches every client on every instance exactly once', async (t) => {
        const clients = await connectAll(t, [0, 'a'], [0, 'b'], [1, 'c'], [1, 'd'], [2, 'e'], [2, 'f']);
        const senders = [clients[0], clients[2], clients[4]];
        const texts = senders.map((s) => unique(`hello from instance ${s.instance}`));
        await Promise.all(senders.map((s, i) => s.connection.invoke('SendMessage', texts[i])));
        for (const client of clients) {
          for (const [i, text] of texts.entries()) {
            assert.deepEqual(await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT),
              [senders[i].user, text]);
          }
        }
        // One marker per sender: each orders after that sender's message.
        for (const sender of senders) await marker(sender, clients);
        for (const client of clients) {
          for (const text of texts) {
            assert.equal(received(client, text), 1, `${client.user} on instance ${client.instance} got "${text}" ${received(client, text)} times`);
          }
        }
      });

      test('group members on three instances get group messages, non-members do not', async (t) => {
        const [m0, m1, m2, n0, n1, n2] = await connectAll(t,
          [0, 'm0'], [1, 'm1'], [2, 'm2'], [0, 'n0'], [1, 'n1'], [2, 'n2']);
        const members = [m0, m1, m2];
        const everyone = [m0, m1, m2, n0, n1, n2];
        const group = unique('room');

        // Joins one by one: every earlier member, whatever its instance, hears about each later one.
        for (const [i, member] of members.entries()) {
          await joinGroup(cluster, [member], group, i + 1);
          for (const earlier of members.slice(0, i + 1)) {
            assert.deepEqual(
              await waitForEvent(earlier, 'UserJoinedGroup', ([u, g]) => u === member.user && g === group, TIMEOUT),
              [member.user, group],
              `${earlier.user} (instance ${earlier.instance}) did not hear ${member.user} (instance ${member.instance}) join`);
          }
        }

        const fromMember = unique('from m1');
        const fromOutsider = unique('from n2');
        await m1.connection.invoke('SendToGroup', group, fromMember);
        await n2.connection.invoke('SendToGroup', group, fromOutsider);
        for (const member of members) {
          assert.deepEqual(await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === fromMember, TIMEOUT),
            [group, m1.user, fromMember]);
          assert.deepEqual(await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === fromOutsider, TIMEOUT),
            [group, n2.user, fromOutsider]);
        }
        await marker(m1, everyone);
        await marker(n2, everyone);
        for (const member of members) {
          assert.equal(countEvents(member, 'ReceiveGroupMessage', ([, , m]) => m === fromMember), 1, `${member.user} got duplicates`);
          assert.equal(countEvents(member, 'ReceiveGroupMessage', ([, , m]) => m === fromOutsider), 1, `${member.user} got duplicates`);
          assert.equal(countEvents(member, 'UserJoinedGroup', ([u, g]) => u === m2.user && g === group), 1);
        }
        for (const outsider of [n0, n1, n2]) {
          assert.equal(countEvents(outsider, 'ReceiveGroupMessage'), 0, `non-member ${outsider.user} received a group message`);
          assert.equal(countEvents(outsider, 'UserJoinedGroup'), 0, `non-member ${outsider.user} received UserJoinedGroup`);
        }

        // m2 leaves: the others (on instances 0 and 1) hear it, m2 is told once, and stops receiving.
        await m2.connection.invoke('LeaveGroup', group);
        for (const client of [m0, m1, m2]) {
          await waitForEvent(client, 'UserLeftGroup', ([u, g]) => u === m2.user && g === group, TIMEOUT);
        }
        const afterLeave = unique('after m2 left');
        await m0.connection.invoke('SendToGroup', group, afterLeave);
        await waitForEvent(m1, 'ReceiveGroupMessage', ([, , m]) => m === afterLeave, TIMEOUT);
        await waitForEvent(m0, 'ReceiveGroupMessage', ([, , m]) => m === afterLeave, TIMEOUT);
        await marker(m0, everyone);
        assert.equal(countEvents(m2, 'ReceiveGroupMessage', ([, , m]) => m === afterLeave), 0, 'a member that left still receives');
        assert.equal(countEvents(m2, 'UserLeftGroup', ([u]) => u === m2.user), 1, 'the leaver is told exactly once');
        for (const outsider of [n0, n1, n2]) {
          assert.equal(countEvents(outsider, 'UserLeftGroup'), 0, `non-member ${outsider.user} received UserLeftGroup`);
        }
      });

      test('a user with connections on two instances gets SendToUser on both, nobody else does', async (t) => {
        const [alice0, alice1, bob, carol] = await connectAll(t, [0, 'alice'], [1, 'alice'], [2, 'bob'], [1, 'carol']);
        const everyone = [alice0, alice1, bob, carol];
        const text = unique('psst');
        await bob.connection.invoke('SendToUser', alice0.user, text);
        for (const client of [alice0, alice1, bob]) {
          assert.deepEqual(await waitForEvent(client, 'ReceiveDirectMessage', ([, m]) => m === text, TIMEOUT), [bob.user, text]);
        }
        // The reverse direction: alice on instance 1 to bob on instance 2; alice's other connection sees it too.
        const reply = unique('reply');
        await alice1.connection.invoke('SendToUser', bob.user, reply);
        for (const client of [alice0, alice1, bob]) {
          assert.deepEqual(await waitForEvent(client, 'ReceiveDirectMessage', ([, m]) => m === reply, TIMEOUT), [alice1.user, reply]);
        }
        await marker(bob, everyone);
        await marker(alice1, everyone);
        for (const client of [alice0, alice1, bob]) {
          assert.equal(countEvents(client, 'ReceiveDirectMessage', ([, m]) => m === text), 1, `${client.user}@${client.instance} got duplicates`);
          assert.equal(countEvents(client, 'ReceiveDirectMessage', ([, m]) => m === reply), 1, `${client.user}@${client.instance} got duplicates`);
        }
        assert.equal(countEvents(carol, 'ReceiveDirectMessage'), 0, 'a third user received a direct message');
      });

      // Regression: SendToUser(self) names the same user twice; other instances once delivered it twice.
      test('a direct message to yourself arrives once on each of your connections across instances', async (t) => {
        const [alice0, alice2, bob] = await connectAll(t, [0, 'alice'], [2, 'alice'], [1, 'bob']);
        const text = unique('note to self');
        await alice0.connection.invoke('SendToUser', alice0.user, text);
        await waitForEvent(alice2, 'ReceiveDirectMessage', ([, m]) => m === text, TIMEOUT);
        await marker(alice0, [alice0, alice2, bob]);
        assert.equal(countEvents(alice0, 'ReceiveDirectMessage', ([, m]) => m === text), 1);
        assert.equal(countEvents(alice2, 'ReceiveDirectMessage', ([, m]) => m === text), 1);
        assert.equal(countEvents(bob, 'ReceiveDirectMessage'), 0);
      });

      test('UserConnected and UserDisconnected reach the other instances, not the connection itself', async (t) => {
        const [w0, w2, w1] = await connectAll(t, [0, 'watch0'], [2, 'watch2'], [1, 'watch1']);
        const [newcomer] = await connectAll(t, [1, 'newcomer']);
        const id = newcomer.connection.connectionId;
        for (const watcher of [w0, w1, w2]) {
          assert.deepEqual(await waitForEvent(watcher, 'UserConnected', ([u]) => u === newcomer.user, TIMEOUT), [newcomer.user, id],
            `watcher on instance ${watcher.instance}`);
        }
        // "others": the newcomer's own instance and the rest must not echo it back to the newcomer.
        await marker(newcomer, [w0, w1, w2, newcomer]);
        assert.equal(countEvents(newcomer, 'UserConnected', ([, c]) => c === id), 0, 'a connection was told about itself');
        for (const watcher of [w0, w1, w2]) {
          assert.equal(countEvents(watcher, 'UserConnected', ([, c]) => c === id), 1, `duplicate UserConnected on instance ${watcher.instance}`);
        }

        await newcomer.stop();
        for (const watcher of [w0, w1, w2]) {
          assert.deepEqual(await waitForEvent(watcher, 'UserDisconnected', ([u]) => u === newcomer.user, TIMEOUT), [newcomer.user, id]);
        }
        await marker(w1, [w0, w1, w2]);
        for (const watcher of [w0, w1, w2]) {
          assert.equal(countEvents(watcher, 'UserDisconnected', ([, c]) => c === id), 1, `duplicate UserDisconnected on instance ${watcher.instance}`);
        }
        for (const client of [w0, w1, w2]) assert.ok(stillConnected(client));
      });
    });
  }

  // JoinGroup completes only once Redis confirmed the group channel's SUBSCRIBE (as ASP.NET's
  // AddToGroupAsync does): a send from another instance right after it must reach the new member. When
  // JoinGroup did not wait, the subscription was missing in 10 of 240 joins and this test failed 1 run in 3.
  test('right after JoinGroup completed, the group channel is subscribed and a send from another instance arrives', async (t) => {
    const sender = await clientOn(t, cluster.servers[0], unique('sender'));
    const probe = await cluster.redis.connect();
    const sends = [];
    const unsubscribed = [];
    for (let i = 0; i < 24; i += 1) {
      // A fresh connection each time: its own SUBSCRIBEs (connection, user) are in flight too.
      const joiner = await clientOn(t, cluster.servers[1 + (i % 2)], unique('joiner'), VARIANTS[i % VARIANTS.length]);
      const group = unique('fresh');
      await joiner.connection.invoke('JoinGroup', group);
      const text = unique('first');
      const [numsub] = await Promise.all([
        probe.command('PUBSUB', 'NUMSUB', cluster.channel(`group:${group}`)),
        sender.connection.invoke('SendToGroup', group, text),
      ]);
      if (Number(numsub[1]) === 0) unsubscribed.push(group);
      sends.push([joiner, text]);
    }
    await probe.close();
    const missed = [];
    for (const [joiner, text] of sends) {
      try {
        await waitForEvent(joiner, 'ReceiveGroupMessage', ([, , m]) => m === text, TIMEOUT);
      } catch {
        missed.push(joiner.user);
      }
    }
    assert.deepEqual({ missed, unsubscribed }, { missed: [], unsubscribed: [] },
      `of ${sends.length} joins: ${missed.length} missed the first group message, ${unsubscribed.length} had no SUBSCRIBE in Redis yet`);
  });

  // The handshake is answered only once Redis confirmed the connection's SUBSCRIBEs (its connection and
  // user channels): a send from another instance right after start() must reach it. ASP.NET answers
  // first; here a REST send right after start() went missing about one run in three before.
  test('right after start() resolved, the connection and user channels are subscribed; sends from another instance arrive', async (t) => {
    const sender = await clientOn(t, cluster.servers[0], unique('sender'));
    const probe = await cluster.redis.connect();
    const sends = [];
    const unsubscribed = [];
    for (let i = 0; i < 24; i += 1) {
      const fresh = await clientOn(t, cluster.servers[1 + (i % 2)], unique('fresh'), VARIANTS[i % VARIANTS.length]);
      const channels = [`connection:${fresh.connection.connectionId}`, `user:${fresh.user}`].map((c) => cluster.channel(c));
      const text = unique('first');
      const [numsub] = await Promise.all([
        probe.command('PUBSUB', 'NUMSUB', ...channels),
        sender.connection.invoke('SendToUser', fresh.user, text),
      ]);
      for (const [k, channel] of channels.entries()) if (Number(numsub[2 * k + 1]) === 0) unsubscribed.push(channel);
      sends.push([fresh, text]);
    }
    await probe.close();
    const missed = [];
    for (const [fresh, text] of sends) {
      try {
        await waitForEvent(fresh, 'ReceiveDirectMessage', ([, m]) => m === text, TIMEOUT);
      } catch {
        missed.push(fresh.user);
      }
    }
    assert.deepEqual({ missed, unsubscribed }, { missed: [], unsubscribed: [] },
      `of ${sends.length} connections: ${missed.length} missed their first direct message, ${unsubscribed.length} channels had no SUBSCRIBE in Redis yet`);
  });

  test('a disconnect drops the user subscription only when the last local connection of the user is gone', async (t) => {
    const user = unique('twice');
    const first = await clientOn(t, cluster.servers[1], user);
    const second = await clientOn(t, cluster.servers[1], user);
    const sender = await clientOn(t, cluster.servers[0], unique('sender'));
    await cluster.redis.waitForSubscribers(cluster.channel(`user:${user}`), 1);
    await first.stop();
    const text = unique('still here');
    await sender.connection.invoke('SendToUser', user, text);
    await waitForEvent(second, 'ReceiveDirectMessage', ([, m]) => m === text, TIMEOUT);
    await second.stop();
    await waitFor(async () => (await cluster.redis.numsub(cluster.channel(`user:${user}`))) === 0, TIMEOUT,
      { message: `instance 1 to UNSUBSCRIBE ${cluster.channel(`user:${user}`)} after its last connection left` });
  });
});
