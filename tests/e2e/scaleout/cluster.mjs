// Helpers for the scale-out suites: several `switchboard serve` instances on one real Redis.
// (Not a test file: node --test only runs *.test.mjs here.)

import { after } from 'node:test';
import { HubConnectionState } from '@microsoft/signalr';
import { decode } from '@msgpack/msgpack';
import { VARIANTS, clientFor, countEvents, onCleanup, startServer, unique, waitFor, waitForEvent } from '../server.mjs';
import { redisFor } from '../redis.mjs';


export const BY_NAME = Object.fromEntries(VARIANTS.map((v) => [v.name, v]));

/**
 * A cleanup scope for a whole describe(): call it in the describe body, pass the result where a helper
 * takes `scope`. Cleanups run last-registered first in the suite's after hook (clients, then servers, then
 * Redis).
 */
export function suiteScope() {
  const cleanups = [];
  after(async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning up
      }
    }
  });
  return (fn) => cleanups.push(fn);
}

/** GET /readyz → status code (0 when the request failed). */
export async function readyStatus(server) {
  try {
    const response = await fetch(`${server.url}/readyz`);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Polls every server's /readyz until it answers `status`. */
export function waitForReady(servers, status = 200, timeoutMs = 15_000) {
  const last = new Map();
  return waitFor(async () => {
    const codes = await Promise.all(servers.map((s) => readyStatus(s)));
    servers.forEach((s, i) => last.set(s.url, codes[i]));
    return codes.every((c) => c === status);
  }, timeoutMs, { interval: 50, message: () => `/readyz ${status} on every instance (now ${JSON.stringify(Object.fromEntries(last))})` });
}

/**
 * Starts a Redis (unless `redis` is given) and `instances` switchboard servers using it, waits until every
 * instance is ready and subscribed to `{prefix}{hub}:all`, and registers cleanup on `scope`.
 *
 * options: instances (3), redis, backplane (connection string; default redis.url), args (extra server
 * flags), hubName ('chat'), channelPrefix ('') for the readiness check.
 */
export async function startCluster(scope, {
  instances = 3, redis, backplane, args = [], hubName = 'chat', channelPrefix = '',
} = {}) {
  redis ??= await redisFor(scope);
  const servers = [];
  const names = [];
  for (let i = 0; i < instances; i += 1) {
    const name = unique(`sb${i}`);
    names.push(name);
    const extra = ['--backplane', backplane ?? redis.url, '--server-name', name, ...args];
    if (hubName !== 'chat') extra.push('--chat-hub-name', hubName);
    const server = await startServer(extra);
    onCleanup(scope, () => server.stop());
    servers.push(server);
  }
  await waitForReady(servers);
  const root = `${channelPrefix}${hubName}`;
  await redis.waitForSubscribers(`${root}:all`, instances);
  return { redis, servers, names, root, channel: (suffix) => `${root}:${suffix}` };
}

/** Connects `user` to `server` with `variant` ({transport, messagepack}); cleanup on `scope`. */
export function clientOn(scope, server, user, variant = VARIANTS[0]) {
  return clientFor(scope, server.url, user, { transport: variant.transport, messagepack: variant.messagepack });
}

/**
 * Every client in `members` joins `group`; then checks that Redis has `instances` subscribers on the group
 * channel (JoinGroup completes once its SUBSCRIBE is confirmed; multi-instance.test.mjs tests that itself).
 */
export async function joinGroup(cluster, members, group, instances) {
  for (const member of members) await member.connection.invoke('JoinGroup', group);
  await cluster.redis.waitForSubscribers(cluster.channel(`group:${group}`), instances);
}

/** `sender` broadcasts a marker; resolves once every client in `clients` received it (ordering barrier). */
export async function marker(sender, clients, timeoutMs = 10_000) {
  const text = unique('marker');
  await sender.connection.invoke('SendMessage', text);
  await Promise.all(clients.map((c) => waitForEvent(c, 'ReceiveMessage', ([, m]) => m === text, timeoutMs)));
  return text;
}

/** Asserts-friendly: how many ReceiveMessage with text `text` the client got. */
export const received = (client, text) => countEvents(client, 'ReceiveMessage', ([, m]) => m === text);

/** True when the client is still connected and never closed. */
export const stillConnected = (client) => client.connection.state === HubConnectionState.Connected && client.closes.length === 0;

// -----------------------------------------------------------------------------------------------------
// The ASP.NET Core Redis backplane payloads (shared/specs/backplanes.md §2.1), built by hand.

const utf8 = (text) => Buffer.from(text, 'utf8');

/** MessagePack str: fixstr, str8 or str16. */
export function mpStr(text) {
  const bytes = utf8(text);
  if (bytes.length < 32) return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes]);
  if (bytes.length < 256) return Buffer.concat([Buffer.from([0xd9, bytes.length]), bytes]);
  const head = Buffer.alloc(3);
  head[0] = 0xda;
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** MessagePack bin: bin8 or bin16. */
export function mpBin(bytes) {
  if (bytes.length < 256) return Buffer.concat([Buffer.from([0xc4, bytes.length]), bytes]);
  const head = Buffer.alloc(3);
  head[0] = 0xc5;
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** MessagePack fixarray header (< 16 items). */
export function mpArray(items) {
  if (items.length >= 16) throw new Error('fixarray only');
  return Buffer.concat([Buffer.from([0x90 | items.length]), ...items]);
}

/** VarInt (7-bit groups, low first) length prefix of the SignalR binary framing. */
export function varint(length) {
  const bytes = [];
  let value = length;
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Buffer.from(bytes);
}

/** The "json" entry: a JSON hub invocation (no invocation id) + 0x1E. */
export function jsonFrame(target, args) {
  return utf8(`${JSON.stringify({ type: 1, target, arguments: args })}\u001e`);
}

/** The "messagepack" entry: VarInt length + [1, {}, nil, target, [args], []] (string arguments only). */
export function messagepackFrame(target, args) {
  const body = mpArray([
    Buffer.from([0x01]), // type 1: Invocation
    Buffer.from([0x80]), // headers: empty map
    Buffer.from([0xc0]), // invocation id: nil
    mpStr(target),
    mpArray(args.map(mpStr)),
    Buffer.from([0x90]), // stream ids: none
  ]);
  return Buffer.concat([varint(body.length), body]);
}

/**
 * What `IHubContext<ChatHub>.Clients.All.SendAsync(target, ...args)` (or AllExcept, Group, GroupExcept) on an
 * ASP.NET Core server with AddStackExchangeRedis() and AddMessagePackProtocol() publishes:
 * array(2) [excluded ids, map { "json": bin, "messagepack": bin }].
 */
export function aspnetInvocation(target, args, excluded = []) {
  return mpArray([
    mpArray(excluded.map(mpStr)),
    Buffer.concat([
      Buffer.from([0x82]),
      mpStr('json'), mpBin(jsonFrame(target, args)),
      mpStr('messagepack'), mpBin(messagepackFrame(target, args)),
    ]),
  ]);
}

/** A group command as ASP.NET publishes on {root}:internal:groups (§2.2): [id, server, action, group, connection]. */
export function aspnetGroupCommand(id, serverName, action, group, connectionId) {
  if (id < 0 || id > 127) throw new Error('positive fixint ids only');
  return mpArray([Buffer.from([id]), mpStr(serverName), Buffer.from([action]), mpStr(group), mpStr(connectionId)]);
}

/**
 * Decodes a publication in the ASP.NET invocation layout; returns
 * { raw, excluded, protocols: [...keys], json: parsed JSON message, messagepack: decoded array,
 *   jsonBytes, messagepackBytes, lengthPrefix }.
 * Throws (with a reason) when the layout is not the documented one.
 */
export function decodeInvocation(payload) {
  const raw = decode(payload);
  if (!Array.isArray(raw)) throw new Error('not an array');
  const [excluded, map] = raw;
  const result = { raw, excluded, protocols: map instanceof Map ? [...map.keys()] : Object.keys(map ?? {}) };
  const entries = map instanceof Map ? Object.fromEntries(map) : map;
  const json = entries?.json;
  const messagepack = entries?.messagepack;
  if (json instanceof Uint8Array) {
    result.jsonBytes = Buffer.from(json);
    if (result.jsonBytes.at(-1) !== 0x1e) throw new Error('json entry does not end with the record separator 0x1E');
    result.json = JSON.parse(result.jsonBytes.subarray(0, -1).toString('utf8'));
  }
  if (messagepack instanceof Uint8Array) {
    const bytes = Buffer.from(messagepack);
    result.messagepackBytes = bytes;
    let length = 0;
    let shift = 0;
    let offset = 0;
    for (;;) {
      const byte = bytes[offset];
      offset += 1;
      length |= (byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    result.lengthPrefix = length;
    if (length !== bytes.length - offset) {
      throw new Error(`messagepack VarInt prefix ${length} != body length ${bytes.length - offset}`);
    }
    result.messagepack = decode(bytes.subarray(offset));
  }
  return result;
}
