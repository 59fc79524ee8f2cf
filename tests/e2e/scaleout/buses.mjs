// Helpers for the scale-out suites on a bus other than Redis (PostgreSQL, NATS): start the bus, start
// instances on it, and wait for cross-instance paths by probing them end to end, since neither bus can be
// asked who listens (PostgreSQL keeps LISTENs per session; NATS interest is not per channel name here).
// (Not a test file: node --test only runs *.test.mjs here.)

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
  },
  {
    name: 'NATS',
    skip: natsAvailable() ? false : 'nats-server is not installed',
    // A three-node cluster, instance i attached to node i only: messages must cross the cluster's routes.
    start: (scope) => natsFor(scope, { nodes: 3 }),
    spec: (nats, i = 0) => nats.nodes[i % nats.nodes.length].url,
  },
];

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
