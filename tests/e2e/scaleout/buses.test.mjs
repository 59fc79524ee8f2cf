// Issue #13: three `switchboard serve` instances on PostgreSQL (the connection string of the ASP.NET chat
// system it replaces, Npgsql form) and on NATS (a three-node cluster, each instance attached to another
// node), official JS clients of every transport spread over them: every chat hub operation across
// instances, the bus restarted under them, an instance restarted under its clients.
//
// "Nothing (more) arrived" is asserted after an ordering marker, as in multi-instance.test.mjs: both buses
// keep one publisher's order on a channel.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { VARIANTS, clientFor, countEvents, startServer, unique, waitFor, waitForEvent } from '../server.mjs';
import { freePort } from '../redis.mjs';
import { BUSES, metric, startInstances, waitForMesh, waitForUser } from './buses.mjs';
import { marker, readyStatus, received, stillConnected, suiteScope, waitForReady } from './cluster.mjs';

const TIMEOUT = 10_000; // cross-instance deliveries on a loaded 2-core machine
const RECOVERY_TIMEOUT = 30_000; // reconnect backoff grows to 5 s, jittered

for (const bus of BUSES) {
  describe(`three instances on ${bus.name}`, { skip: bus.skip }, () => {
    const scope = suiteScope();
    let servers;
    let started;
    before(async () => {
      started = await bus.start(scope);
      // Chat messages up to 30,000 characters (default 4096): one test sends more than a NOTIFY holds.
      ({ servers } = await startInstances(scope, (i) => bus.spec(started, i), { args: ['--chat-max-message-length', '30000'] }));
    });

    /** Connects [instance, name] pairs over every transport/protocol in turn; same name, same user. */
    async function connectAll(t, ...specs) {
      const ids = new Map();
      const clients = [];
      for (const [i, [instance, name]] of specs.entries()) {
        if (!ids.has(name)) ids.set(name, unique(name));
        const variant = VARIANTS[i % VARIANTS.length];
        const client = await clientFor(t, servers[instance].url, ids.get(name),
          { transport: variant.transport, messagepack: variant.messagepack });
        client.instance = instance;
        clients.push(client);
      }
      // Each user heard from another instance before a test addresses it there.
      const probe = await clientFor(t, servers[0].url, unique('prober'));
      const probe1 = await clientFor(t, servers[1].url, unique('prober'));
      for (const c of clients) await waitForUser(c.instance === 0 ? probe1 : probe, c);
      return clients;
    }

    test('a broadcast from each instance reaches every client on every instance exactly once', async (t) => {
      const clients = await connectAll(t, [0, 'a'], [0, 'b'], [1, 'c'], [1, 'd'], [2, 'e'], [2, 'f']);
      const senders = [clients[0], clients[2], clients[4]];
      const texts = senders.map((s) => unique(`hello from instance ${s.instance}`));
      await Promise.all(senders.map((s, i) => s.connection.invoke('SendMessage', texts[i])));
      for (const client of clients) {
        for (const [i, text] of texts.entries()) {
          assert.deepEqual(await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT), [senders[i].user, text]);
        }
      }
      for (const sender of senders) await marker(sender, clients);
      for (const client of clients) {
        for (const text of texts) assert.equal(received(client, text), 1, `${client.user}@${client.instance} got "${text}" ${received(client, text)} times`);
      }
    });

    test('identical messages sent back to back arrive as many times as they were sent', async (t) => {
      const [sender, far] = await connectAll(t, [0, 'twice'], [2, 'far']);
      const text = unique('same bytes');
      await Promise.all([1, 2, 3].map(() => sender.connection.invoke('SendMessage', text)));
      await marker(sender, [sender, far]);
      assert.equal(received(far, text), 3, 'the bus folded identical publications');
      assert.equal(received(sender, text), 3);
    });

    test('bytes on the bus that are not ours are counted in /metrics and disturb nothing', async (t) => {
      const [a, b] = await connectAll(t, [0, 'calm'], [2, 'calm2']);
      const before = await Promise.all(servers.map((s) => metric(s, 'switchboard_backplane_rejected_messages_total')));
      await bus.inject(started, 'not ours');
      await waitFor(async () => {
        const now = await Promise.all(servers.map((s) => metric(s, 'switchboard_backplane_rejected_messages_total')));
        return now.every((n, i) => n === before[i] + 1);
      }, TIMEOUT, { message: 'every instance to count the foreign message once' });
      const text = unique('after the garbage');
      await a.connection.invoke('SendMessage', text);
      assert.deepEqual(await waitForEvent(b, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT), [a.user, text]);
      assert.ok(stillConnected(a) && stillConnected(b));
    });

    test('a message of 20 KB (over a NOTIFY payload, under the hub limit) crosses instances intact', async (t) => {
      const [sender, far] = await connectAll(t, [1, 'big'], [2, 'far']);
      const text = `${unique('large')}:${'x'.repeat(20 * 1024)}`;
      await sender.connection.invoke('SendMessage', text);
      assert.deepEqual(await waitForEvent(far, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT), [sender.user, text]);
      if (bus.payloadRows) assert.ok(await bus.payloadRows(started) >= 1, 'the payload went through the table');
    });

    test('group members on three instances get group messages, non-members do not; leave stops them', async (t) => {
      const [m0, m1, m2, n0, n1, n2] = await connectAll(t, [0, 'm0'], [1, 'm1'], [2, 'm2'], [0, 'n0'], [1, 'n1'], [2, 'n2']);
      const members = [m0, m1, m2];
      const everyone = [m0, m1, m2, n0, n1, n2];
      const group = unique('room with spaces: and "quotes" ünïcode');
      // JoinGroup completes once the group channel is in effect on the bus: no probing needed.
      for (const [i, member] of members.entries()) {
        await member.connection.invoke('JoinGroup', group);
        for (const earlier of members.slice(0, i + 1)) {
          await waitForEvent(earlier, 'UserJoinedGroup', ([u, g]) => u === member.user && g === group, TIMEOUT);
        }
      }
      const fromMember = unique('from m1');
      const fromOutsider = unique('from n2');
      await m1.connection.invoke('SendToGroup', group, fromMember);
      await n2.connection.invoke('SendToGroup', group, fromOutsider);
      for (const member of members) {
        assert.deepEqual(await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === fromMember, TIMEOUT), [group, m1.user, fromMember]);
        assert.deepEqual(await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === fromOutsider, TIMEOUT), [group, n2.user, fromOutsider]);
      }
      await marker(m1, everyone);
      await marker(n2, everyone);
      for (const member of members) {
        assert.equal(countEvents(member, 'ReceiveGroupMessage', ([, , m]) => m === fromMember), 1);
        assert.equal(countEvents(member, 'ReceiveGroupMessage', ([, , m]) => m === fromOutsider), 1);
      }
      for (const outsider of [n0, n1, n2]) {
        assert.equal(countEvents(outsider, 'ReceiveGroupMessage'), 0, `non-member ${outsider.user} received a group message`);
        assert.equal(countEvents(outsider, 'UserJoinedGroup'), 0);
      }

      await m2.connection.invoke('LeaveGroup', group);
      for (const client of members) await waitForEvent(client, 'UserLeftGroup', ([u, g]) => u === m2.user && g === group, TIMEOUT);
      const afterLeave = unique('after m2 left');
      await m0.connection.invoke('SendToGroup', group, afterLeave);
      await waitForEvent(m1, 'ReceiveGroupMessage', ([, , m]) => m === afterLeave, TIMEOUT);
      await marker(m0, everyone);
      assert.equal(countEvents(m2, 'ReceiveGroupMessage', ([, , m]) => m === afterLeave), 0, 'a member that left still receives');
    });

    test('a long group name (200 bytes) works across instances', async (t) => {
      const [a, b] = await connectAll(t, [0, 'longa'], [2, 'longb']);
      const group = `${unique('g')}-${'é'.repeat(95)}`;
      assert.ok(Buffer.byteLength(group) > 190);
      await a.connection.invoke('JoinGroup', group);
      await b.connection.invoke('JoinGroup', group);
      const text = unique('to the long group');
      await a.connection.invoke('SendToGroup', group, text);
      assert.deepEqual(await waitForEvent(b, 'ReceiveGroupMessage', ([, , m]) => m === text, TIMEOUT), [group, a.user, text]);
    });

    test('a user with connections on two instances gets SendToUser on both, nobody else does', async (t) => {
      const [alice0, alice1, bob, carol] = await connectAll(t, [0, 'alice'], [1, 'alice'], [2, 'bob'], [1, 'carol']);
      const text = unique('psst');
      await bob.connection.invoke('SendToUser', alice0.user, text);
      for (const client of [alice0, alice1, bob]) {
        assert.deepEqual(await waitForEvent(client, 'ReceiveDirectMessage', ([, m]) => m === text, TIMEOUT), [bob.user, text]);
      }
      await marker(bob, [alice0, alice1, bob, carol]);
      for (const client of [alice0, alice1, bob]) {
        assert.equal(countEvents(client, 'ReceiveDirectMessage', ([, m]) => m === text), 1, `${client.user}@${client.instance} got duplicates`);
      }
      assert.equal(countEvents(carol, 'ReceiveDirectMessage', ([, m]) => m === text), 0, 'a third user received a direct message');
    });

    test('UserConnected and UserDisconnected reach the other instances', async (t) => {
      const [w0, w1, w2] = await connectAll(t, [0, 'watch0'], [1, 'watch1'], [2, 'watch2']);
      const newcomer = await clientFor(t, servers[1].url, unique('newcomer'));
      const id = newcomer.connection.connectionId;
      for (const watcher of [w0, w1, w2]) {
        assert.deepEqual(await waitForEvent(watcher, 'UserConnected', ([u]) => u === newcomer.user, TIMEOUT), [newcomer.user, id]);
      }
      await newcomer.stop();
      for (const watcher of [w0, w1, w2]) {
        assert.deepEqual(await waitForEvent(watcher, 'UserDisconnected', ([u]) => u === newcomer.user, TIMEOUT), [newcomer.user, id]);
      }
      await marker(w1, [w0, w1, w2]);
      for (const watcher of [w0, w1, w2]) {
        assert.equal(countEvents(watcher, 'UserConnected', ([, c]) => c === id), 1, `duplicate UserConnected on instance ${watcher.instance}`);
      }
    });
  });

  describe(`${bus.name} restarted under three instances`, { skip: bus.skip }, () => {
    test('clients stay connected, /readyz goes 503 and back, groups and users are heard again, an outage message arrives', async (t) => {
      const started = await bus.start(t);
      const { servers } = await startInstances(t, (i) => bus.spec(started, i));
      const [a0, a0b, b1, c2] = await Promise.all([
        clientFor(t, servers[0].url, unique('a0')),
        clientFor(t, servers[0].url, unique('a0b'), { transport: VARIANTS[2].transport }),
        clientFor(t, servers[1].url, unique('b1'), { messagepack: true }),
        clientFor(t, servers[2].url, unique('c2'), { transport: VARIANTS[1].transport }),
      ]);
      const clients = [a0, a0b, b1, c2];
      const group = unique('survivors');
      for (const member of [a0, b1, c2]) await member.connection.invoke('JoinGroup', group);
      await waitForUser(c2, b1);

      await started.stop();
      await waitForReady(servers, 503, TIMEOUT);
      for (const client of clients) assert.ok(stillConnected(client), `${client.user} lost its connection with the bus`);
      // The sender's own instance delivers at once; the others get it once the bus is back.
      const during = unique('while the bus is down');
      await a0.connection.invoke('SendMessage', during);
      await waitForEvent(a0b, 'ReceiveMessage', ([, m]) => m === during, TIMEOUT);

      await started.start();
      await waitForReady(servers, 200, RECOVERY_TIMEOUT);
      for (const s of servers) assert.ok(await metric(s, 'switchboard_backplane_reconnects_total') >= 1, `${s.url} counted no reconnect`);
      for (const client of [b1, c2]) await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === during, RECOVERY_TIMEOUT);
      await waitForMesh(t, servers, RECOVERY_TIMEOUT);

      const groupAfter = unique('group after recovery');
      await c2.connection.invoke('SendToGroup', group, groupAfter);
      for (const member of [a0, b1, c2]) await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === groupAfter, TIMEOUT);
      const direct = unique('direct after recovery');
      await a0.connection.invoke('SendToUser', b1.user, direct);
      await waitForEvent(b1, 'ReceiveDirectMessage', ([, m]) => m === direct, TIMEOUT);

      await marker(b1, clients);
      assert.equal(countEvents(a0b, 'ReceiveGroupMessage'), 0, 'a non-member received a group message');
      for (const client of clients) {
        assert.equal(received(client, during), 1, `${client.user} got the outage message ${received(client, during)} times`);
        assert.ok(stillConnected(client), `${client.user} was disconnected`);
        assert.deepEqual(client.reconnecting, []);
      }
    });
  });

  describe(`an instance restarted on ${bus.name}`, { skip: bus.skip }, () => {
    // The chat system's "connection resilience" scenario: a server stopped and started again; its client
    // reconnects by itself and talks to the other instances again.
    test('its client reconnects automatically and reaches the other instances again', async (t) => {
      const started = await bus.start(t);
      const port = await freePort();
      const { servers } = await startInstances(t, (i) => bus.spec(started, i), { instances: 2, ports: [undefined, port] });
      const steady = await clientFor(t, servers[0].url, unique('steady'));
      const mover = await clientFor(t, servers[1].url, unique('mover'), { reconnect: [0, 200, 500, 1000, 1000, 1000, 2000, 2000, 2000, 5000] });

      const stopped = await servers[1].stop();
      assert.equal(stopped.forced, false, 'the instance did not stop by itself');
      await waitFor(() => mover.reconnecting.length > 0, TIMEOUT, { message: 'the client to notice its server left' });
      const restarted = await startServer(['--backplane', bus.spec(started, 1), '--server-name', unique('sb1-again')], { port });
      t.after(() => restarted.stop());
      await waitForReady([restarted]);
      assert.equal(await readyStatus(restarted), 200);
      // Reconnected with a new connection id, then heard from the steady instance and heard by it.
      await waitForReady([servers[0]]);
      await waitFor(() => mover.reconnected.length > 0, RECOVERY_TIMEOUT, { message: 'the client to reconnect' });
      await waitForMesh(t, [servers[0], restarted], RECOVERY_TIMEOUT);
      await waitForUser(steady, mover);
      const hello = unique('hello again');
      await mover.connection.invoke('SendMessage', hello);
      assert.deepEqual(await waitForEvent(steady, 'ReceiveMessage', ([, m]) => m === hello, TIMEOUT), [mover.user, hello]);
      const back = unique('welcome back');
      await steady.connection.invoke('SendMessage', back);
      await waitForEvent(mover, 'ReceiveMessage', ([, m]) => m === back, TIMEOUT);
      assert.equal(mover.closes.length, 0, 'the client gave up instead of reconnecting');
    });
  });
}
