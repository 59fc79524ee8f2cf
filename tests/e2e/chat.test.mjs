// Scenario 2: the chat hub at /hubs/chat with several clients (user from ?user=, development mode).
//
// "Nothing arrived" is asserted after an ordering marker: the sender broadcasts a marker after the message
// under test, the server delivers per-connection in order, so once the marker is there the message under
// test would have been there too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState } from '@microsoft/signalr';
import { VARIANTS, clientFor as connectClient, countEvents, startServer, unique, waitForEvent } from './server.mjs';

const BINDING_ERROR = "Failed to invoke 'SendMessage' due to an error on the server.";

/** sender broadcasts a marker and every client in `clients` waits for it. */
async function marker(sender, clients) {
  const text = unique('marker');
  await sender.connection.invoke('SendMessage', text);
  await Promise.all(clients.map((c) => waitForEvent(c, 'ReceiveMessage', ([, m]) => m === text)));
}

// The same chat scenarios run over every transport and protocol.
for (const variant of VARIANTS) {
  const clientFor = (t, url, user) => connectClient(t, url, user, variant);

  describe(`chat hub over ${variant.name}`, () => {
    let server;
    before(async () => {
      server = await startServer();
    });
    after(() => server?.stop());

    /** Connects users (names are made unique per test) and returns clients in the same order. */
    async function users(t, ...names) {
      const ids = new Map();
      const clients = [];
      for (const name of names) {
        if (!ids.has(name)) ids.set(name, unique(name));
        clients.push(await clientFor(t, server.url, ids.get(name)));
      }
      return clients;
    }

    test('SendMessage is broadcast to every connection, sender included, exactly once', async (t) => {
      const [alice, bob, carol] = await users(t, 'alice', 'bob', 'carol');
      const text = unique('hello everyone');
      const result = await alice.connection.invoke('SendMessage', text);
      assert.equal(result, null, 'a void hub method completes with result null');
      for (const client of [alice, bob, carol]) {
        const args = await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text);
        assert.deepEqual(args, [alice.user, text]);
      }
      await marker(bob, [alice, bob, carol]);
      for (const client of [alice, bob, carol]) {
        assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m === text), 1, `${client.user} got duplicates`);
      }
    });

    test('SendToUser reaches every connection of the target and of the sender, nobody else', async (t) => {
      const [alice, alice2, bob, bob2, carol] = await users(t, 'alice', 'alice', 'bob', 'bob', 'carol');
      assert.equal(alice.user, alice2.user);
      const text = unique('psst');
      assert.equal(await bob.connection.invoke('SendToUser', alice.user, text), null);

      for (const client of [alice, alice2, bob, bob2]) {
        const args = await waitForEvent(client, 'ReceiveDirectMessage', ([, m]) => m === text);
        assert.deepEqual(args, [bob.user, text], `${client.user} got the wrong direct message`);
      }
      await marker(bob, [alice, alice2, bob, bob2, carol]);
      assert.equal(countEvents(carol, 'ReceiveDirectMessage'), 0, 'a third user received a direct message');
      for (const client of [alice, alice2, bob, bob2]) {
        assert.equal(countEvents(client, 'ReceiveDirectMessage', ([, m]) => m === text), 1, `${client.user} got duplicates`);
      }
      assert.equal(countEvents(carol, 'ReceiveMessage', ([, m]) => m === text), 0, 'a direct message was broadcast');
    });

    test('a direct message to yourself arrives once on each of your connections', async (t) => {
      const [alice, alice2, bob] = await users(t, 'alice', 'alice', 'bob');
      const text = unique('note to self');
      await alice.connection.invoke('SendToUser', alice.user, text);
      await marker(alice, [alice, alice2, bob]);
      assert.equal(countEvents(alice, 'ReceiveDirectMessage', ([, m]) => m === text), 1);
      assert.equal(countEvents(alice2, 'ReceiveDirectMessage', ([, m]) => m === text), 1);
      assert.equal(countEvents(bob, 'ReceiveDirectMessage'), 0);
    });

    test('groups: join/leave notifications and group messages reach members only', async (t) => {
      const [alice, bob, carol] = await users(t, 'alice', 'bob', 'carol');
      const group = unique('team');

      assert.equal(await alice.connection.invoke('JoinGroup', group), null);
      assert.deepEqual(await waitForEvent(alice, 'UserJoinedGroup', ([, g]) => g === group), [alice.user, group],
        'the joiner receives its own UserJoinedGroup');

      await bob.connection.invoke('JoinGroup', group);
      for (const client of [alice, bob]) {
        assert.deepEqual(
          await waitForEvent(client, 'UserJoinedGroup', ([u, g]) => u === bob.user && g === group),
          [bob.user, group],
        );
      }

      const text = unique('team only');
      assert.equal(await alice.connection.invoke('SendToGroup', group, text), null);
      for (const client of [alice, bob]) {
        assert.deepEqual(
          await waitForEvent(client, 'ReceiveGroupMessage', ([, , m]) => m === text),
          [group, alice.user, text],
        );
      }
      await marker(alice, [alice, bob, carol]);
      assert.equal(countEvents(carol, 'ReceiveGroupMessage'), 0, 'a non-member received a group message');
      assert.equal(countEvents(carol, 'UserJoinedGroup'), 0, 'a non-member received UserJoinedGroup');
      assert.equal(countEvents(carol, 'ReceiveMessage', ([, m]) => m === text), 0, 'a group message was broadcast');
      assert.equal(countEvents(bob, 'ReceiveGroupMessage', ([, , m]) => m === text), 1, 'bob got duplicates');

      assert.equal(await bob.connection.invoke('LeaveGroup', group), null);
      assert.deepEqual(
        await waitForEvent(alice, 'UserLeftGroup', ([u, g]) => u === bob.user && g === group),
        [bob.user, group],
      );

      const later = unique('after bob left');
      await alice.connection.invoke('SendToGroup', group, later);
      await waitForEvent(alice, 'ReceiveGroupMessage', ([, , m]) => m === later);
      await marker(alice, [alice, bob, carol]);
      assert.equal(countEvents(bob, 'ReceiveGroupMessage', ([, , m]) => m === later), 0, 'a member that left still receives');
      assert.equal(countEvents(carol, 'UserLeftGroup'), 0, 'a non-member received UserLeftGroup');
    });

    test('joining the same group twice does not duplicate group messages', async (t) => {
      const [alice, bob] = await users(t, 'alice', 'bob');
      const group = unique('twice');
      await bob.connection.invoke('JoinGroup', group);
      await bob.connection.invoke('JoinGroup', group);
      const text = unique('once');
      await alice.connection.invoke('SendToGroup', group, text);
      await waitForEvent(bob, 'ReceiveGroupMessage', ([, , m]) => m === text);
      await marker(alice, [bob]);
      assert.equal(countEvents(bob, 'ReceiveGroupMessage', ([, , m]) => m === text), 1);
    });

    test('UserConnected and UserDisconnected go to the other connections with the public connection id', async (t) => {
      const [alice] = await users(t, 'alice');
      const bob = await clientFor(t, server.url, unique('bob'));
      const bobId = bob.connection.connectionId;

      assert.deepEqual(await waitForEvent(alice, 'UserConnected', ([u]) => u === bob.user), [bob.user, bobId],
        'UserConnected must carry the negotiate connectionId (never the connection token)');

      await marker(alice, [alice, bob]);
      assert.equal(countEvents(bob, 'UserConnected', ([, id]) => id === bobId), 0, 'a connection was told about itself');

      await bob.stop();
      assert.deepEqual(await waitForEvent(alice, 'UserDisconnected', ([u]) => u === bob.user), [bob.user, bobId]);
    });

    test('without ?user= the user name is the connection id', async (t) => {
      const [alice] = await users(t, 'alice');
      const anonymous = await clientFor(t, server.url, null);
      const id = anonymous.connection.connectionId;
      const text = unique('who am i');
      await anonymous.connection.invoke('SendMessage', text);
      assert.deepEqual(await waitForEvent(alice, 'ReceiveMessage', ([, m]) => m === text), [id, text]);
    });

    test('bad arguments reject the invoke and the connection stays usable', async (t) => {
      const [alice] = await users(t, 'alice');
      const stillWorks = async (label) => {
        const text = unique(`still works after ${label}`);
        await alice.connection.invoke('SendMessage', text);
        await waitForEvent(alice, 'ReceiveMessage', ([, m]) => m === text);
        assert.equal(alice.connection.state, HubConnectionState.Connected);
      };

      await assert.rejects(alice.connection.invoke('JoinGroup', ''), Error);
      await stillWorks('empty group');

      await assert.rejects(alice.connection.invoke('SendMessage', 'a', 'b'), { message: BINDING_ERROR });
      await stillWorks('two arguments');

      await assert.rejects(alice.connection.invoke('SendMessage', 42), { message: BINDING_ERROR });
      await stillWorks('a number argument');

      await assert.rejects(alice.connection.invoke('SendMessage'), { message: BINDING_ERROR });
      await stillWorks('no arguments');

      await assert.rejects(alice.connection.invoke('SendToUser', alice.user), {
        message: "Failed to invoke 'SendToUser' due to an error on the server.",
      });
      await stillWorks('SendToUser with one argument');

      assert.deepEqual(alice.closes, []);
    });
  });

  describe(`chat hub with --chat-max-message-length 16 over ${variant.name}`, () => {
    let server;
    before(async () => {
      server = await startServer(['--chat-max-message-length', '16']);
    });
    after(() => server?.stop());

    test('a message over the limit is rejected, one at the limit is delivered', async (t) => {
      const alice = await clientFor(t, server.url, 'alice');
      await assert.rejects(alice.connection.invoke('SendMessage', 'x'.repeat(17)), (error) => {
        assert.match(error.message, /exceeds/);
        return true;
      });
      assert.equal(countEvents(alice, 'ReceiveMessage'), 0);

      const atLimit = 'y'.repeat(16);
      await alice.connection.invoke('SendMessage', atLimit);
      assert.deepEqual(await waitForEvent(alice, 'ReceiveMessage', ([, m]) => m === atLimit), ['alice', atLimit]);
      assert.equal(countEvents(alice, 'ReceiveMessage', ([, m]) => m.length > 16), 0, 'the oversized message was delivered');
      assert.equal(alice.connection.state, HubConnectionState.Connected);
    });

    test('the limit also applies to group and direct messages', async (t) => {
      const alice = await clientFor(t, server.url, 'alice');
      await alice.connection.invoke('JoinGroup', 'g');
      await assert.rejects(alice.connection.invoke('SendToGroup', 'g', 'z'.repeat(17)), /exceeds/);
      await assert.rejects(alice.connection.invoke('SendToUser', 'alice', 'z'.repeat(17)), /exceeds/);
      await alice.connection.invoke('SendMessage', 'ok');
      await waitForEvent(alice, 'ReceiveMessage', ([, m]) => m === 'ok');
      assert.equal(countEvents(alice, 'ReceiveGroupMessage'), 0);
      assert.equal(countEvents(alice, 'ReceiveDirectMessage'), 0);
    });
  });
}
