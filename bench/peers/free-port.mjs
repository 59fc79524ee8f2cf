// Prints a TCP port that is free on 127.0.0.1 right now (the OS picks it); the caller binds it
// next and retries with another if someone took it in between.
import net from 'node:net';

const server = net.createServer();
server.listen(0, process.argv[2] ?? '127.0.0.1', () => {
  const { port } = server.address();
  server.close(() => console.log(port));
});
