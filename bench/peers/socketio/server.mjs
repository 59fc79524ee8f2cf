// Socket.IO 4 peer: the chat hub's scenarios as Socket.IO events, so one load scenario drives
// Switchboard and Socket.IO alike. Scale-out through @socket.io/redis-adapter when REDIS_URL is set.
//
//   node server.mjs [PORT]        PORT (or env PORT): 0 = any free port; HOST defaults to 127.0.0.1
//
// Events (client -> server, then what the server emits):
//   broadcast (text)             io.emit('broadcast', user, text)            ~ SendMessage / ReceiveMessage
//   group join (group, ack)      socket.join(group); ack()                   ~ JoinGroup
//   group leave (group, ack)     socket.leave(group); ack()                  ~ LeaveGroup
//   group send (group, text)     to(group).emit('group', group, user, text)  ~ SendToGroup / ReceiveGroupMessage
//   direct (to, text)            to user rooms of `to` and the sender:       ~ SendToUser / ReceiveDirectMessage
//                                emit('direct', user, text)
//   echo (payload)               socket.emit('echo', payload)                (Azure's echo scenario)
// The user id comes from the handshake (`auth: { user }` or `?user=`), else the socket id; each
// socket joins the room `user:<id>`, as the chat hub's users are addressed across instances.

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';

const require = createRequire(import.meta.url);
const version = (name) => require(`${name}/package.json`).version;

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL ?? '';

const httpServer = createServer();
// Library defaults otherwise (perMessageDeflate off, 1 MB max message): the peer as users run it.
const io = new Server(httpServer, { serveClient: false });

const redisClients = [];
if (redisUrl) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) {
    client.on('error', (error) => console.error(`redis: ${error.message}`));
  }
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients.push(pub, sub);
  io.adapter(createAdapter(pub, sub));
}

const text = (value) => (typeof value === 'string' ? value : String(value ?? ''));
const acknowledge = (ack) => {
  if (typeof ack === 'function') ack();
};

io.on('connection', (socket) => {
  const handshake = socket.handshake;
  const user = text(handshake.auth?.user || handshake.query?.user || socket.id);
  socket.join(`user:${user}`);

  socket.on('broadcast', (message) => io.emit('broadcast', user, message));
  socket.on('group join', (group, ack) => {
    socket.join(`group:${text(group)}`);
    acknowledge(ack);
  });
  socket.on('group leave', (group, ack) => {
    socket.leave(`group:${text(group)}`);
    acknowledge(ack);
  });
  socket.on('group send', (group, message) =>
    io.to(`group:${text(group)}`).emit('group', group, user, message));
  // The sender's own sockets get it too, as with the chat hub's SendToUser.
  socket.on('direct', (to, message) =>
    io.to([`user:${text(to)}`, `user:${user}`]).emit('direct', user, message));
  socket.on('echo', (payload) => socket.emit('echo', payload));
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // Bounded: a peer that cannot close in time is ended anyway.
  setTimeout(() => process.exit(1), 5_000).unref();
  io.disconnectSockets(true);
  await new Promise((resolve) => io.close(() => resolve()));
  await Promise.allSettled(redisClients.map((client) => client.quit()));
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

httpServer.listen(port, host, () => {
  const { port: bound } = httpServer.address();
  const scaleOut = redisUrl ? `, @socket.io/redis-adapter ${version('@socket.io/redis-adapter')} on ${redisUrl}` : '';
  console.log(`socket.io ${version('socket.io')} on node ${process.versions.node}${scaleOut}`);
  console.log(`listening on http://${host}:${bound}`);
});
