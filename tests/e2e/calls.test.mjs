// Call sessions (/hubs/calls, docs/presence.md "Calls") across three instances on a real Redis,
// PostgreSQL and NATS (whose presence stores keep the sessions there):
// ring every tab of the recipient wherever it is, accept, relay signals to the other party only,
// end; strangers are refused; a restarted instance loses no session; a party gone past the grace
// period ends the call; the session TTL ends a stale one.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';
import { onCleanup, startServer, unique, waitFor } from './server.mjs';
import { redisAvailable } from './redis.mjs';
import { BUSES, startInstances } from './scaleout/buses.mjs';
import { startCluster, suiteScope } from './scaleout/cluster.mjs';

const TIMEOUT = 10_000;
const EVENTS = ['IncomingCall', 'CallAccepted', 'CallEnded', 'ReceiveSignal'];

/** A /hubs/calls client of `user` on `server`, recording every call event. */
async function caller(scope, server, user) {
  const connection = new HubConnectionBuilder()
    .withUrl(`${server.url}/hubs/calls?user=${encodeURIComponent(user)}`, { transport: HttpTransportType.WebSockets })
    .configureLogging(LogLevel.None)
    .build();
  const events = Object.fromEntries(EVENTS.map((name) => [name, []]));
  for (const name of EVENTS) connection.on(name, (...args) => events[name].push(args));
  onCleanup(scope, () => connection.stop());
  await connection.start();
  return { user, connection, events, invoke: (...args) => connection.invoke(...args) };
}

/**
 * Calls `recipient` from `from`, retrying while the recipient's presence (written by its own
 * instance) has not reached the caller's yet; any other refusal fails the test.
 */
async function initiate(from, recipient) {
  let callId;
  await waitFor(async () => {
    try {
      callId = await from.invoke('InitiateCall', recipient);
      return true;
    } catch (error) {
      assert.match(String(error), /is not online/);
      return false;
    }
  }, TIMEOUT);
  return callId;
}

const ARGS = ['--presence-expiry', '2s', '--calls-grace', '1s'];
// Each starts three instances with `args`; `spec` is the --backplane of one started again.
const BACKPLANES = [
  {
    name: 'Redis',
    skip: redisAvailable() ? false : 'redis-server is not installed',
    start: async (scope, args) => {
      const cluster = await startCluster(scope, { args });
      return { servers: cluster.servers, spec: cluster.redis.url };
    },
  },
  ...BUSES.map((bus) => ({
    name: bus.name,
    skip: bus.skip,
    start: async (scope, args) => {
      const started = await bus.start(scope);
      const { servers } = await startInstances(scope, (i) => bus.spec(started, i), { args });
      return { servers, spec: bus.spec(started, 2) };
    },
  })),
];

for (const backplane of BACKPLANES) describe(`calls across three instances on ${backplane.name}`, { skip: backplane.skip }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await backplane.start(scope, ARGS);
  });

  test('ring, accept, signal both ways, end; strangers get an error', async (t) => {
    const [a, b, c] = cluster.servers;
    const doctor = unique('doctor');
    const patient = unique('patient');
    const patientTab1 = await caller(t, b, patient);
    const patientTab2 = await caller(t, c, patient);
    const doc = await caller(t, a, doctor);
    const stranger = await caller(t, a, unique('stranger'));
    const callId = await initiate(doc, patient);
    for (const tab of [patientTab1, patientTab2]) {
      await waitFor(() => tab.events.IncomingCall.length === 1, TIMEOUT);
      assert.deepEqual(tab.events.IncomingCall[0], [callId, doctor]);
    }
    await assert.rejects(stranger.invoke('AcceptCall', callId), /No such call/);
    await assert.rejects(stranger.invoke('SendSignal', callId, { sdp: 'x' }), /No such call/);
    await assert.rejects(doc.invoke('AcceptCall', callId), /Only the recipient/);
    await patientTab2.invoke('AcceptCall', callId);
    for (const client of [doc, patientTab1, patientTab2]) {
      await waitFor(() => client.events.CallAccepted.length === 1, TIMEOUT);
    }
    assert.equal((await doc.invoke('GetCall', callId)).status, 'active');

    await doc.invoke('SendSignal', callId, { type: 'offer', sdp: 'v=0' });
    await patientTab2.invoke('SendSignal', callId, { type: 'answer', sdp: 'v=0' });
    await waitFor(() => patientTab2.events.ReceiveSignal.length === 1 && doc.events.ReceiveSignal.length === 1, TIMEOUT);
    assert.deepEqual(patientTab2.events.ReceiveSignal[0], [callId, doctor, { type: 'offer', sdp: 'v=0' }]);
    assert.deepEqual(doc.events.ReceiveSignal[0], [callId, patient, { type: 'answer', sdp: 'v=0' }]);
    assert.equal(stranger.events.ReceiveSignal.length, 0);

    await patientTab1.invoke('EndCall', callId);
    await waitFor(() => doc.events.CallEnded.length === 1, TIMEOUT);
    assert.deepEqual(doc.events.CallEnded[0], [callId, patient, 'ended']);
    await assert.rejects(doc.invoke('GetCall', callId), /No such call/);
    assert.equal(stranger.events.CallEnded.length, 0);
  });

  test('a party offline everywhere past the grace period ends the call for the other', async (t) => {
    const [a, b] = cluster.servers;
    const doc = await caller(t, a, unique('doctor'));
    const patient = await caller(t, b, unique('patient'));
    const callId = await initiate(doc, patient.user);
    await waitFor(() => patient.events.IncomingCall.length === 1, TIMEOUT);
    await patient.connection.stop();
    await waitFor(() => doc.events.CallEnded.length === 1, TIMEOUT);
    assert.deepEqual(doc.events.CallEnded[0], [callId, patient.user, 'disconnected']);
  });

  // Last: it restarts the third instance.
  test('a restarted instance serves a call it started, from the shared session', async (t) => {
    const [a, , c] = cluster.servers;
    const doctor = unique('doctor');
    const patient = await caller(t, a, unique('patient'));
    let doc = await caller(t, c, doctor);
    const callId = await initiate(doc, patient.user);
    await doc.connection.stop();
    c.process.kill('SIGKILL');
    await c.exited;
    const again = await startServer(['--backplane', cluster.spec, ...ARGS]);
    onCleanup(t, () => again.stop());
    doc = await caller(t, again, doctor);
    assert.equal((await doc.invoke('GetCall', callId)).status, 'ringing');
    await patient.invoke('AcceptCall', callId);
    await waitFor(() => doc.events.CallAccepted.length === 1, TIMEOUT);
  });
});

describe('call sessions expire', () => {
  test('a session outlives its TTL by nothing', async (t) => {
    const server = await startServer(['--calls-session-ttl', '300ms']);
    onCleanup(t, () => server.stop());
    const doc = await caller(t, server, unique('doctor'));
    const patient = await caller(t, server, unique('patient'));
    const callId = await doc.invoke('InitiateCall', patient.user);
    assert.equal((await doc.invoke('GetCall', callId)).status, 'ringing');
    await waitFor(async () => {
      try {
        await doc.invoke('GetCall', callId);
        return false;
      } catch (error) {
        return /No such call/.test(String(error));
      }
    }, TIMEOUT);
    await assert.rejects(doc.invoke('InitiateCall', ''), /Call someone else/);
  });
});
