// Stateful reconnect with messages that arrive through the backplane: ASP.NET once lost them on resume
// because they did not count in the sequence ids (dotnet/aspnetcore #55575). Here a listener on one
// instance, whose socket drops twice, gets every message a sender on another instance broadcast, exactly
// once and in order, on the same connection.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';
import { clientFor, unique, waitFor } from '../server.mjs';
import { redisAvailable } from '../redis.mjs';
import { startCluster, suiteScope } from './cluster.mjs';

const skip = redisAvailable() ? false : 'redis-server is not installed';

describe('stateful reconnect across instances', { skip }, () => {
  const scope = suiteScope();
  let cluster;
  before(async () => {
    cluster = await startCluster(scope, { instances: 2 });
  });

  test('messages from another instance survive two dropped sockets, once each and in order', async (t) => {
    const listener = new HubConnectionBuilder()
      .withUrl(`${cluster.servers[1].url}/hubs/chat?user=${unique('listener')}`,
        { transport: HttpTransportType.WebSockets })
      .withStatefulReconnect()
      .configureLogging(LogLevel.None)
      .build();
    const received = [];
    const closes = [];
    listener.on('ReceiveMessage', (_user, message) => received.push(message));
    listener.onclose((error) => closes.push(error ?? null));
    t.after(() => listener.stop());
    await listener.start();
    const idBefore = listener.connectionId;
    const sender = await clientFor(t, cluster.servers[0].url, unique('sender'));

    const tag = unique('seq');
    const total = 200;
    for (let i = 0; i < total; i++) {
      await sender.connection.invoke('SendMessage', `${tag}-${i}`);
      // Without a close frame, as a network failure: the server keeps the connection and its replay.
      if (i === 50 || i === 120) listener.connection.transport._webSocket._socket.destroy();
    }
    const mine = () => received.filter((m) => m.startsWith(tag));
    await waitFor(() => mine().length >= total, 15_000, {
      message: () => `${total} messages; got ${mine().length}`,
    });
    assert.deepEqual(mine(), Array.from({ length: total }, (_, i) => `${tag}-${i}`));
    assert.equal(listener.connectionId, idBefore, 'same connection after resuming');
    assert.equal(closes.length, 0);
  });
});
