// Child process of tls.test.mjs: the official client against an https server whose self-signed
// certificate it trusts through NODE_EXTRA_CA_CERTS (Node reads that variable only at startup,
// hence a process of its own). Connects over each transport, sends a chat message, waits for
// it to come back; then a stateful reconnect over wss (the TLS session follows the socket to
// its connection's shard). Prints one line per step and exits non-zero on the first failure.
import { HubConnectionBuilder, HttpTransportType, LogLevel } from '@microsoft/signalr';
import { connect, unique, waitFor, waitForEvent } from './server.mjs';

const [baseUrl] = process.argv.slice(2);
const transports = [
  ['WebSockets', HttpTransportType.WebSockets],
  ['ServerSentEvents', HttpTransportType.ServerSentEvents],
  ['LongPolling', HttpTransportType.LongPolling],
];

try {
  for (const [name, transport] of transports) {
    const user = unique(`tls-${name}`);
    const client = await connect(baseUrl, user, { transport });
    const text = unique('over-tls');
    await client.connection.invoke('SendMessage', text);
    await waitForEvent(client, 'ReceiveMessage', ([from, message]) => from === user && message === text);
    await client.stop();
    console.log(`ok ${name}`);
  }

  const listener = new HubConnectionBuilder()
    .withUrl(`${baseUrl}/hubs/chat?user=${unique('stateful')}`, { transport: HttpTransportType.WebSockets })
    .withStatefulReconnect()
    .configureLogging(LogLevel.None)
    .build();
  const received = [];
  listener.on('ReceiveMessage', (_user, message) => received.push(message));
  await listener.start();
  const idBefore = listener.connectionId;
  const sender = await connect(baseUrl, unique('sender'));
  const tag = unique('seq');
  const total = 60;
  for (let i = 0; i < total; i++) {
    await sender.connection.invoke('SendMessage', `${tag}-${i}`);
    // A network failure: the TLS socket goes away without a close frame or close_notify.
    if (i === 10 || i === 30) listener.connection.transport._webSocket._socket.destroy();
  }
  const mine = () => received.filter((m) => m.startsWith(tag));
  await waitFor(() => mine().length >= total, 10_000, { message: () => `${total} messages; got ${mine().length}` });
  const expected = Array.from({ length: total }, (_, i) => `${tag}-${i}`);
  if (JSON.stringify(mine()) !== JSON.stringify(expected)) throw new Error(`out of order or duplicated: ${mine()}`);
  if (listener.connectionId !== idBefore) throw new Error('a new connection instead of a resumed one');
  await listener.stop();
  await sender.stop();
  console.log('ok StatefulReconnect');
} catch (error) {
  console.log(`failed: ${error.stack ?? error}`);
  process.exit(1);
}
