// Issue #4: the Redis traffic is byte-compatible with ASP.NET Core's StackExchangeRedis backplane
// (shared/specs/backplanes.md §1-2). A raw RESP connection plays the ASP.NET server: it PUBLISHes payloads
// built by hand from the documented layout, and SUBSCRIBEs to decode what Switchboard publishes.
//
// Ordering: a raw PUBLISH has been copied to every subscriber's output before Redis answers it, so a marker
// broadcast by a client after that answer reaches each instance after the injected message.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countEvents, unique, waitFor, waitForEvent } from '../server.mjs';
import { redisAvailable } from '../redis.mjs';
import {
  BY_NAME, aspnetGroupCommand, aspnetInvocation, clientOn, decodeInvocation, jsonFrame, marker, messagepackFrame,
  joinGroup, mpArray, mpBin, mpStr, startCluster, suiteScope,
} from './cluster.mjs';

const skip = redisAvailable() ? false : 'redis-server is not installed';
const TIMEOUT = 10_000;
const WS_JSON = BY_NAME['WebSockets/JSON'];
const SSE_JSON = BY_NAME['ServerSentEvents/JSON'];
const LP_JSON = BY_NAME['LongPolling/JSON'];
const WS_MSGPACK = BY_NAME['WebSockets/MessagePack'];
const LP_MSGPACK = BY_NAME['LongPolling/MessagePack'];

/** The §2.6 worked example: Clients.All.SendAsync("Send", "hi") from .NET with json and messagepack. */
const WORKED_EXAMPLE = Buffer.from([
  '92 90 82',
  'A4 6A 73 6F 6E C4 2E',
  '7B 22 74 79 70 65 22 3A 31 2C 22 74 61 72 67 65 74 22 3A 22 53 65 6E 64',
  '22 2C 22 61 72 67 75 6D 65 6E 74 73 22 3A 5B 22 68 69 22 5D 7D 1E',
  'AB 6D 65 73 73 61 67 65 70 61 63 6B C4 0F',
  '0E 96 01 80 C0 A4 53 65 6E 64 91 A2 68 69 90',
].join(' ').split(' ').map((h) => parseInt(h, 16)));

/**
 * Like aspnetInvocation, but the JSON and MessagePack serializations carry different texts, so a test can
 * tell which entry each client was given.
 */
function splitInvocation(target, jsonArgs, messagepackArgs, excluded = []) {
  return mpArray([
    mpArray(excluded.map(mpStr)),
    Buffer.concat([
      Buffer.from([0x82]),
      mpStr('json'), mpBin(jsonFrame(target, jsonArgs)),
      mpStr('messagepack'), mpBin(messagepackFrame(target, messagepackArgs)),
    ]),
  ]);
}

/** The text a client of `variant` must see from a splitInvocation built with `text`. */
const expectedText = (client, text) => (client.messagepack ? `${text}/messagepack` : `${text}/json`);

/** Clients of several transports and both protocols, spread over the instances. */
async function spread(t, servers, prefix, variants = [WS_JSON, LP_MSGPACK, SSE_JSON, WS_MSGPACK, LP_JSON]) {
  const clients = [];
  for (const [i, variant] of variants.entries()) {
    const instance = i % servers.length;
    const client = await clientOn(t, servers[instance], unique(`${prefix}${i}`), variant);
    client.instance = instance;
    client.messagepack = variant.messagepack;
    client.variant = variant.name;
    clients.push(client);
  }
  return clients;
}

describe('ASP.NET Core Redis backplane interop', { skip }, () => {
  const scope = suiteScope();
  let cluster;
  let sub; // raw subscriber, pub/sub mode
  before(async () => {
    cluster = await startCluster(scope);
    sub = await cluster.redis.connect();
  });

  describe('messages published by an ASP.NET server', () => {
    test('the §2.6 worked example bytes on chat:all reach JSON and MessagePack clients on every instance once', async (t) => {
      const clients = await spread(t, cluster.servers, 'send');
      const got = clients.map(() => []);
      clients.forEach((c, i) => c.connection.on('Send', (...args) => got[i].push(args)));
      const receivers = await cluster.redis.publish(cluster.channel('all'), WORKED_EXAMPLE);
      assert.equal(receivers, 3, 'every instance subscribes to chat:all');
      await waitFor(() => got.every((g) => g.length > 0), TIMEOUT, {
        message: () => `Send("hi") on every client; got ${JSON.stringify(got)}`,
      });
      await marker(clients[0], clients);
      for (const [i, client] of clients.entries()) {
        assert.deepEqual(got[i], [['hi']], `${client.variant} client on instance ${client.instance}`);
      }
    });

    test('each client is given the serialization of its own protocol (json / messagepack entry)', async (t) => {
      const clients = await spread(t, cluster.servers, 'proto');
      const text = unique('from dotnet');
      await cluster.redis.publish(cluster.channel('all'),
        splitInvocation('ReceiveMessage', ['dotnet', `${text}/json`], ['dotnet', `${text}/messagepack`]));
      for (const client of clients) {
        assert.deepEqual(
          await waitForEvent(client, 'ReceiveMessage', ([, m]) => m.startsWith(text), TIMEOUT),
          ['dotnet', expectedText(client, text)],
          `${client.variant} client on instance ${client.instance}`);
      }
      await marker(clients[1], clients);
      for (const client of clients) {
        assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m.startsWith(text)), 1);
      }
    });

    test('Clients.Group(...) on chat:group:{g} reaches the members on every instance, not the others', async (t) => {
      const members = await spread(t, cluster.servers, 'member', [WS_JSON, LP_MSGPACK, SSE_JSON, WS_MSGPACK]);
      const [outsider] = await spread(t, [cluster.servers[1]], 'outsider', [WS_JSON]);
      const group = unique('dotnet-group');
      await joinGroup(cluster, members, group, 3);
      const text = unique('to group');
      const receivers = await cluster.redis.publish(cluster.channel(`group:${group}`),
        splitInvocation('ReceiveGroupMessage', [group, 'dotnet', `${text}/json`], [group, 'dotnet', `${text}/messagepack`]));
      assert.equal(receivers, 3, 'members on three instances: three subscribers');
      for (const member of members) {
        assert.deepEqual(await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m.startsWith(text), TIMEOUT),
          [group, 'dotnet', expectedText(member, text)]);
      }
      await marker(members[0], [...members, outsider]);
      assert.equal(countEvents(outsider, 'ReceiveGroupMessage'), 0, 'a non-member received the group message');
      for (const member of members) {
        assert.equal(countEvents(member, 'ReceiveGroupMessage', ([, , m]) => m.startsWith(text)), 1);
      }
    });

    test('AllExcept / GroupExcept: excluded connection ids are honoured by the instance that holds them', async (t) => {
      const clients = await spread(t, cluster.servers, 'except', [WS_JSON, LP_MSGPACK, SSE_JSON, WS_MSGPACK, WS_JSON, LP_JSON]);
      // clients[1] (instance 1) and clients[5] (instance 2) are excluded; clients[4] shares instance 1.
      const excluded = [clients[1], clients[5]];
      const ids = excluded.map((c) => c.connection.connectionId);
      const text = unique('all except');
      await cluster.redis.publish(cluster.channel('all'), aspnetInvocation('ReceiveMessage', ['dotnet', text], ids));

      const group = unique('except-group');
      await joinGroup(cluster, clients, group, 3);
      const groupText = unique('group except');
      await cluster.redis.publish(cluster.channel(`group:${group}`),
        aspnetInvocation('ReceiveGroupMessage', [group, 'dotnet', groupText], ids));

      const included = clients.filter((c) => !excluded.includes(c));
      for (const client of included) {
        await waitForEvent(client, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
        await waitForEvent(client, 'ReceiveGroupMessage', ([, , m]) => m === groupText, TIMEOUT);
      }
      await marker(clients[0], clients);
      for (const client of excluded) {
        assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m === text), 0, `excluded ${client.variant} on instance ${client.instance} received AllExcept`);
        assert.equal(countEvents(client, 'ReceiveGroupMessage', ([, , m]) => m === groupText), 0, `excluded ${client.variant} received GroupExcept`);
      }
    });

    test('Clients.User(...) on chat:user:{u} reaches that user on every instance', async (t) => {
      const user = unique('dotnet-user');
      const a = await clientOn(t, cluster.servers[0], user, WS_MSGPACK);
      const b = await clientOn(t, cluster.servers[2], user, SSE_JSON);
      const other = await clientOn(t, cluster.servers[2], unique('someone-else'), WS_JSON);
      await cluster.redis.waitForSubscribers(cluster.channel(`user:${user}`), 2);
      const text = unique('direct');
      await cluster.redis.publish(cluster.channel(`user:${user}`), aspnetInvocation('ReceiveDirectMessage', ['dotnet', text]));
      for (const client of [a, b]) {
        assert.deepEqual(await waitForEvent(client, 'ReceiveDirectMessage', ([, m]) => m === text, TIMEOUT), ['dotnet', text]);
      }
      await marker(a, [a, b, other]);
      assert.equal(countEvents(other, 'ReceiveDirectMessage'), 0);
    });

    test('Groups.AddToGroupAsync / RemoveFromGroupAsync from an ASP.NET server: the owner acts and acks', async (t) => {
      const [member] = await spread(t, [cluster.servers[2]], 'remote-add', [LP_MSGPACK]);
      const [watcher] = await spread(t, [cluster.servers[0]], 'watch', [WS_JSON]);
      const dotnetServer = unique('dotnet-web1');
      const acks = await cluster.redis.connect();
      await acks.subscribe(cluster.channel(`internal:ack:${dotnetServer}`));
      const group = unique('added-by-dotnet');
      const id = member.connection.connectionId;

      await cluster.redis.publish(cluster.channel('internal:groups'), aspnetGroupCommand(7, dotnetServer, 1, group, id));
      const ack = await acks.waitForMessage(() => true, TIMEOUT, 'the ack of group command 7');
      assert.deepEqual([...ack.payload], [0x91, 0x07], 'ack is array(1) [id]');
      await cluster.redis.waitForSubscribers(cluster.channel(`group:${group}`), 1);
      const text = unique('now a member');
      await cluster.redis.publish(cluster.channel(`group:${group}`), aspnetInvocation('ReceiveGroupMessage', [group, 'dotnet', text]));
      await waitForEvent(member, 'ReceiveGroupMessage', ([, , m]) => m === text, TIMEOUT);

      await cluster.redis.publish(cluster.channel('internal:groups'), aspnetGroupCommand(8, dotnetServer, 2, group, id));
      await acks.waitForMessage((m) => m.payload.equals(Buffer.from([0x91, 0x08])), TIMEOUT, 'the ack of group command 8');
      const later = unique('no longer');
      await cluster.redis.publish(cluster.channel(`group:${group}`), aspnetInvocation('ReceiveGroupMessage', [group, 'dotnet', later]));
      await marker(watcher, [member, watcher]);
      assert.equal(countEvents(member, 'ReceiveGroupMessage', ([, , m]) => m === later), 0, 'still a member after the remove command');
      assert.equal(acks.messages.filter((m) => m.payload.equals(Buffer.from([0x91, 0x07]))).length, 1, 'only the owner acks, once');
      await acks.close();
    });
  });

  describe('what Switchboard publishes', () => {
    /** Publications on `channel` (raw subscriber) whose decoded json arguments include `text`. */
    const publicationsWith = (channel, text) => sub.messages
      .filter((m) => m.channel === channel)
      .map((m) => ({ ...m, decoded: decodeInvocation(m.payload) }))
      .filter((m) => JSON.stringify(m.decoded.json?.arguments ?? []).includes(text));

    test('SendMessage → one publication on chat:all in the ASP.NET layout', async (t) => {
      const channel = cluster.channel('all');
      await sub.subscribe(channel);
      const [alice, bob] = await spread(t, cluster.servers, 'pub', [WS_JSON, LP_MSGPACK]);
      const text = unique('héllo ✓ wire');
      await alice.connection.invoke('SendMessage', text);
      await waitForEvent(bob, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
      const last = await marker(alice, [alice, bob]);
      await sub.waitForMessage((m) => m.channel === channel && m.payload.includes(Buffer.from(last)), TIMEOUT, 'the marker on chat:all');

      const found = publicationsWith(channel, text);
      assert.equal(found.length, 1, 'published exactly once');
      const { decoded, payload } = found[0];
      assert.equal(payload[0], 0x92, 'array(2): a plain invocation (no client-result items)');
      assert.equal(decoded.raw.length, 2);
      assert.deepEqual(decoded.excluded, [], 'no exclusions for Clients.All');
      assert.deepEqual([...decoded.protocols].sort(), ['json', 'messagepack']);
      assert.deepEqual(decoded.json, { type: 1, target: 'ReceiveMessage', arguments: [alice.user, text] });
      assert.deepEqual(decoded.messagepack, [1, {}, null, 'ReceiveMessage', [alice.user, text], []]);
    });

    test('UserConnected (an "others" send) carries the new connection id as the exclusion', async (t) => {
      const channel = cluster.channel('all');
      await sub.subscribe(channel);
      const [watcher] = await spread(t, [cluster.servers[0]], 'w', [WS_JSON]);
      const [newcomer] = await spread(t, [cluster.servers[1]], 'newcomer', [WS_MSGPACK]);
      const id = newcomer.connection.connectionId;
      await waitForEvent(watcher, 'UserConnected', ([, c]) => c === id, TIMEOUT);
      const found = await waitFor(() => {
        const list = publicationsWith(channel, id).filter((m) => m.decoded.json.target === 'UserConnected');
        return list.length ? list : null;
      }, TIMEOUT, { message: 'the UserConnected publication' });
      assert.equal(found.length, 1);
      assert.deepEqual(found[0].decoded.excluded, [id], 'AllExcept(caller): [excluded ids] = [the connection id]');
      assert.deepEqual(found[0].decoded.json.arguments, [newcomer.user, id]);
      assert.deepEqual(found[0].decoded.messagepack, [1, {}, null, 'UserConnected', [newcomer.user, id], []]);
    });

    test('SendToGroup → chat:group:{g}; SendToUser → chat:user:{target} and chat:user:{sender}', async (t) => {
      const [alice, bob] = await spread(t, cluster.servers, 'route', [WS_JSON, WS_MSGPACK]);
      const group = unique('g:with:colons');
      const routed = await cluster.redis.connect();
      for (const channel of [`group:${group}`, `user:${alice.user}`, `user:${bob.user}`]) {
        await routed.subscribe(cluster.channel(channel));
      }
      await joinGroup(cluster, [bob], group, 1);
      const groupText = unique('group wire');
      await alice.connection.invoke('SendToGroup', group, groupText);
      await waitForEvent(bob, 'ReceiveGroupMessage', ([, , m]) => m === groupText, TIMEOUT);
      const direct = unique('direct wire');
      await alice.connection.invoke('SendToUser', bob.user, direct);
      await waitForEvent(bob, 'ReceiveDirectMessage', ([, m]) => m === direct, TIMEOUT);

      const onChannel = (suffix, text) => routed.waitForMessage(
        (m) => m.channel === cluster.channel(suffix) && m.payload.includes(Buffer.from(text)), TIMEOUT, `${text} on ${suffix}`);
      const g = decodeInvocation((await onChannel(`group:${group}`, groupText)).payload);
      assert.deepEqual(g.json, { type: 1, target: 'ReceiveGroupMessage', arguments: [group, alice.user, groupText] });
      assert.deepEqual(g.messagepack, [1, {}, null, 'ReceiveGroupMessage', [group, alice.user, groupText], []]);
      for (const user of [bob.user, alice.user]) {
        const d = decodeInvocation((await onChannel(`user:${user}`, direct)).payload);
        assert.deepEqual(d.excluded, []);
        assert.deepEqual(d.json, { type: 1, target: 'ReceiveDirectMessage', arguments: [alice.user, direct] });
      }
      await routed.close();
    });

    // Regression: SendToUser(self) names the same user twice (users({u, u})); it must be one PUBLISH.
    test('SendToUser to yourself is published once on chat:user:{you}', async (t) => {
      const [alice, watcher] = await spread(t, cluster.servers, 'self', [WS_JSON, WS_JSON]);
      const routed = await cluster.redis.connect();
      const channel = cluster.channel(`user:${alice.user}`);
      await routed.subscribe(channel);
      await routed.subscribe(cluster.channel('all'));
      const text = unique('self wire');
      await alice.connection.invoke('SendToUser', alice.user, text);
      const last = await marker(alice, [alice, watcher]);
      await routed.waitForMessage((m) => m.payload.includes(Buffer.from(last)), TIMEOUT, 'the marker');
      assert.equal(routed.messages.filter((m) => m.channel === channel && m.payload.includes(Buffer.from(text))).length, 1);
      await routed.close();
    });
  });

  // Regression: --chat-hub-name was once read from moved-from options and ignored.
  const FARMS = [
    { hubName: 'chat', prefix: 'app1' },
    { hubName: 'MyApp.Hubs.ChatHub', prefix: 'app1' },
  ];
  for (const farm of FARMS) {
    const { hubName, prefix } = farm;
    const root = `${prefix}${hubName}`;
    describe(`--chat-hub-name ${hubName} with channelPrefix=${prefix} (StackExchange connection string)`, { skip: farm.skip ?? false }, () => {
      let app;
      before(async () => {
        app = await startCluster(scope, {
          instances: 2,
          redis: cluster.redis, // the same Redis as the unprefixed `chat` farm: the prefix keeps the apps apart
          backplane: `127.0.0.1:${cluster.redis.port},channelPrefix=${prefix}`,
          hubName,
          channelPrefix: prefix,
        });
      });

      test(`channels are ${root}:*, cross-instance chat works on them`, async (t) => {
        assert.equal(await cluster.redis.numsub(`${root}:all`), 2);
        assert.equal(await cluster.redis.numsub(`${root}:internal:groups`), 2);
        for (const name of app.names) {
          assert.equal(await cluster.redis.numsub(`${root}:internal:ack:${name}`), 1, 'each instance listens on its own ack channel');
          assert.equal(await cluster.redis.numsub(`${root}:internal:return:${name}`), 1);
          assert.equal(await cluster.redis.numsub(`${hubName}:internal:ack:${name}`), 0, 'the prefix is glued on, not optional');
          assert.equal(await cluster.redis.numsub(`${prefix}:${hubName}:internal:ack:${name}`), 0, 'no separator is added after the prefix');
        }

        const raw = await cluster.redis.connect();
        await raw.subscribe(`${root}:all`);
        const [alice, bob] = await spread(t, app.servers, 'prefixed', [WS_JSON, LP_MSGPACK]);
        const text = unique('prefixed hello');
        await alice.connection.invoke('SendMessage', text);
        await waitForEvent(bob, 'ReceiveMessage', ([, m]) => m === text, TIMEOUT);
        const publication = await raw.waitForMessage((m) => m.payload.includes(Buffer.from(text)), TIMEOUT, 'the publication');
        assert.deepEqual(decodeInvocation(publication.payload).json.arguments, [alice.user, text]);
        await raw.close();
      });

      test(`an ASP.NET publication on ${root}:all and :group: reaches the clients; other prefixes and hubs do not`, async (t) => {
        const clients = await spread(t, app.servers, 'app', [WS_JSON, LP_MSGPACK, SSE_JSON, WS_MSGPACK]);
        const text = unique('dotnet prefixed');
        assert.equal(await cluster.redis.publish(`${root}:all`,
          splitInvocation('ReceiveMessage', ['dotnet', `${text}/json`], ['dotnet', `${text}/messagepack`])), 2);
        const group = unique('prefixed-group');
        await joinGroup(app, clients.slice(0, 2), group, 2);
        const groupText = unique('dotnet prefixed group');
        assert.equal(await cluster.redis.publish(`${root}:group:${group}`,
          aspnetInvocation('ReceiveGroupMessage', [group, 'dotnet', groupText])), 2);
        // The same hub without the prefix, another prefix, the default hub name: other apps, not ours.
        const stray = unique('stray');
        for (const channel of [`${hubName}:all`, `app2${hubName}:all`, `${prefix}:${hubName}:all`, 'chat:all']) {
          await cluster.redis.publish(channel, aspnetInvocation('ReceiveMessage', ['dotnet', stray]));
        }

        for (const client of clients) {
          assert.deepEqual(await waitForEvent(client, 'ReceiveMessage', ([, m]) => m.startsWith(text), TIMEOUT),
            ['dotnet', expectedText(client, text)]);
        }
        for (const client of clients.slice(0, 2)) {
          await waitForEvent(client, 'ReceiveGroupMessage', ([, , m]) => m === groupText, TIMEOUT);
        }
        await marker(clients[0], clients);
        for (const client of clients) {
          assert.equal(countEvents(client, 'ReceiveMessage', ([, m]) => m === stray), 0, 'a publication for another app arrived');
        }
        assert.equal(countEvents(clients[2], 'ReceiveGroupMessage'), 0);
      });
    });
  }
});
