// Helpers for the scale-out suites on a bus other than Redis (PostgreSQL, NATS): start the bus, start
// instances on it, and wait for cross-instance paths by probing them end to end, since neither bus can be
// asked who listens (PostgreSQL keeps LISTENs per session; NATS interest is not per channel name here).
// (Not a test file: node --test only runs *.test.mjs here.)

import net from 'node:net';
import { clientFor, onCleanup, startServer, unique, waitFor, waitForEvent } from '../server.mjs';
import { natsAvailable, natsFor } from '../nats.mjs';
import { postgresAvailable, postgresFor } from '../postgres.mjs';
import { waitForReady } from './cluster.mjs';

/**
 * The buses: `start(scope)` runs one, `spec(bus, i)` is instance i's --backplane value; the handle's
 * `stop`/`start` take the bus down and up (clients of the instances stay connected meanwhile).
 */
export const BUSES = [
  {
    name: 'PostgreSQL',
    skip: postgresAvailable() ? false : 'PostgreSQL server binaries are not installed',
    // The connection string exactly as the ASP.NET chat system writes it (Npgsql form).
    start: (scope) => postgresFor(scope, { database: 'signalr_demo' }),
    spec: (pg) => pg.npgsql,
    // Where a message too large for a NOTIFY went: the chat hub's table, named as the ASP.NET
    // Npgsql backplane's TableSlugGenerator names it, in the default schema.
    payloadRows: async (pg) => Number(await pg.psql('SELECT count(*) FROM signalr.chat_payloads')),
    // A NOTIFY from someone else on the chat hub's all channel (short names go to the bus as they are).
    inject: (pg, text) => pg.psql(`SELECT pg_notify('chat:all', '${text}')`),
  },
  {
    name: 'NATS',
    skip: natsAvailable() ? false : 'nats-server is not installed',
    // A three-node cluster, instance i attached to node i only: messages must cross the cluster's routes.
    start: (scope) => natsFor(scope, { nodes: 3 }),
    spec: (nats, i = 0) => nats.nodes[i % nats.nodes.length].url,
    // Raw bytes on the chat hub's all subject (prefix "switchboard.", ':' escaped as %3A).
    inject: (nats, text) => natsPublish(nats.nodes[0].port, 'switchboard.chat%3Aall', text),
  },
];

/** Publishes `text` on `subject` over a raw NATS connection; resolves once the server answered PING. */
function natsPublish(port, subject, text) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let seen = '';
    socket.setTimeout(5_000, () => { socket.destroy(); reject(new Error('no PONG from nats-server')); });
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      seen += chunk.toString('utf8');
      if (seen.startsWith('INFO ') && !socket.sent) {
        socket.sent = true;
        socket.write(`CONNECT {"verbose":false}\r\nPUB ${subject} ${Buffer.byteLength(text)}\r\n${text}\r\nPING\r\n`);
      }
      if (seen.includes('PONG')) {
        socket.end();
        resolve();
      }
    });
  });
}

/** A counter of an instance's /metrics. */
export async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** A probe client per instance: connected, not part of any test's expectations. */
async function probes(scope, servers) {
  return Promise.all(servers.map((s) => clientFor(scope, s.url, unique('probe'))));
}

/**
 * Resolves once a broadcast from every instance reaches a client on every other instance: the `all`
 * channel is in effect on the bus everywhere. Repeats a send until it arrives (a send before the
 * subscription took effect is lost, by the bus contract), with a deadline.
 */
export async function waitForMesh(scope, servers, timeoutMs = 20_000) {
  const clients = await probes(scope, servers);
  for (const [i, sender] of clients.entries()) {
    const others = clients.filter((_, j) => j !== i);
    await waitFor(async () => {
      const text = unique(`mesh from ${i}`);
      await sender.connection.invoke('SendMessage', text);
      const arrived = await Promise.all(others.map((c) =>
        waitForEvent(c, 'ReceiveMessage', ([, m]) => m === text, 500).then(() => true, () => false)));
      return arrived.every(Boolean);
    }, timeoutMs, { interval: 0, message: `instance ${i}'s broadcasts to reach every other instance` });
  }
  await Promise.all(clients.map((c) => c.stop()));
}

/**
 * Resolves once `client`'s user channel is in effect on the bus: a direct message from `from` (a client
 * on another instance) reaches it. The probes are ReceiveDirectMessage events with their own texts.
 */
export async function waitForUser(from, client, timeoutMs = 15_000) {
  await waitFor(async () => {
    const text = unique('user probe');
    await from.connection.invoke('SendToUser', client.user, text);
    return waitForEvent(client, 'ReceiveDirectMessage', ([, m]) => m === text, 500).then(() => true, () => false);
  }, timeoutMs, { interval: 0, message: `${client.user}'s user channel to be heard from another instance` });
}

/**
 * Starts `instances` servers, instance i on `spec(i)`; resolves once all are ready and meshed. Returns
 * { servers }. `ports`: fixed ports (for a server stopped and started again on its port).
 */
export async function startInstances(scope, spec, { instances = 3, args = [], ports = [] } = {}) {
  const servers = [];
  for (let i = 0; i < instances; i += 1) {
    const server = await startServer(['--backplane', spec(i), '--server-name', unique(`sb${i}`), ...args],
      { port: ports[i] });
    onCleanup(scope, () => server.stop());
    servers.push(server);
  }
  await waitForReady(servers);
  await waitForMesh(scope, servers);
  return { servers };
}
