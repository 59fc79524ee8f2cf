// `switchboard chat`, the console chat client, driven as a person and as a script would: under a
// pseudo-terminal (util-linux `script` gives it a real tty: libedit, prompt, colour) and through a pipe
// (plain lines). Two chat clients on two instances sharing a Redis backplane talk to each other; the
// instance of one is stopped and started again on the same port and the client reconnects.
//
// No fixed sleeps: every expectation polls the client's output with a deadline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, onCleanup, startServer, unique, waitFor, withTimeout } from './server.mjs';
import { freePort, redisAvailable } from './redis.mjs';
import { startCluster, suiteScope } from './scaleout/cluster.mjs';

const BIN = path.resolve(ROOT, process.env.SWITCHBOARD_BIN ?? 'build/switchboard');
const scriptAvailable = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !redisAvailable() ? 'redis-server is not installed'
  : !scriptAvailable ? 'script (util-linux) is not installed' : false;
const TIMEOUT = 10_000;
// The default reconnect policy retries after 0, 2 and 10 s: the restarted instance is found within ~12 s.
const RECONNECT_TIMEOUT = 20_000;
const ESC = '\u001b';

const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Terminal output as a person reads it: escape sequences and carriage returns gone. */
function readable(text) {
  return text
    .replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)/g, '')
    .replace(/\u001b\[[0-9;?]*[ -\/]*[@-~]/g, '')
    .replace(/\u001b[()][0-9A-Za-z]/g, '')
    .replace(/\u001b[=>78]/g, '')
    .replace(/\r/g, '');
}

const quote = (arg) => `'${String(arg).replace(/'/g, `'\\''`)}'`;

/**
 * Runs `switchboard chat` with `args`. tty: under `script`, keystrokes through type(); otherwise stdin is a
 * pipe and `input` (if given) is written to it and closed.
 */
function chat(args, { tty = true, input } = {}) {
  const argv = ['chat', ...args];
  const child = tty
    ? spawn('script', ['-qfec', [BIN, ...argv].map(quote).join(' '), '/dev/null'], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm' },
    })
    : spawn(BIN, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once('close', (code, signal) => {
    live.delete(child);
    resolve({ code, signal });
  }));
  child.stdin.on('error', () => {});
  if (input !== undefined) child.stdin.end(input);
  let mark = 0;
  // The prompt is drawn again after every line printed above it: what a person sees is the lines.
  const user = args[args.indexOf('--user') + 1];
  const prompt = tty && args.includes('--user') ? `${user}> ` : null;
  const console = {
    child,
    exited,
    raw: () => stdout,
    text: () => (prompt ? readable(stdout).split(prompt).join('') : readable(stdout)),
    stderr: () => stderr,
    /** Types a line and presses Enter. Output expected after it is looked for from here on. */
    type(line) {
      mark = console.text().length;
      child.stdin.write(`${line}\r`);
    },
    /** Waits until the output (after the last type(), or all of it) has a line matching `pattern`. */
    expect(pattern, { timeoutMs = TIMEOUT, all = false } = {}) {
      const matches = (line) => (typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line));
      return waitFor(() => console.text().slice(all ? 0 : mark).split('\n').find(matches), timeoutMs, {
        message: () => `chat output to show ${pattern}; it shows:\n${console.text()}\nstderr:\n${stderr}`,
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if (!(await withTimeout(exited, 3_000))) child.kill('SIGKILL');
    },
  };
  return console;
}

describe('switchboard chat on a terminal, two instances sharing Redis', { skip }, () => {
  const scope = suiteScope();
  let cluster;
  let alice;
  let bob;
  const names = { alice: unique('alice'), bob: unique('bob') };
  const room = unique('room');

  before(async () => {
    // Group names must match room*: an error from the server has a case to show in.
    cluster = await startCluster(scope, {
      instances: 2, args: ['--chat-group-policy', 'patterns', '--chat-group-pattern', 'room*'],
    });
    alice = chat(['--url', `${cluster.servers[0].url}/hubs/chat`, '--user', names.alice]);
    scope(() => alice.stop());
    await alice.expect(/^connected to .* over WebSockets/, { all: true });
    bob = chat(['--url', `${cluster.servers[1].url}/hubs/chat`, '--user', names.bob, '--no-color']);
    scope(() => bob.stop());
    await bob.expect(/^connected to /, { all: true });
    await alice.expect(`* ${names.bob} connected`, { all: true });
  });

  test('shows a prompt and colours events; --no-color does not', async () => {
    assert.ok(readable(alice.raw()).includes(`${names.alice}> `), alice.raw());
    assert.ok(alice.raw().includes(`${ESC}[2m* ${names.bob} connected${ESC}[0m`), JSON.stringify(alice.raw()));
    const text = unique('colourless');
    alice.type(text);
    await bob.expect(`${names.alice}: ${text}`);
    assert.ok(!/\u001b\[3[0-9]m/.test(bob.raw()), JSON.stringify(bob.raw()));
  });

  test('a plain message reaches both instances, with the time', async () => {
    const text = unique('hello everyone');
    bob.type(text);
    assert.match(await alice.expect(`${names.bob}: ${text}`), /^\d\d:\d\d:\d\d /);
    await bob.expect(`${names.bob}: ${text}`);
  });

  test('/join, /group and /leave', async () => {
    bob.type(`/join ${room}`);
    await bob.expect(`* ${names.bob} joined group ${room}`);
    alice.type(`/join ${room}`);
    await alice.expect(`* ${names.alice} joined group ${room}`);
    await bob.expect(`* ${names.alice} joined group ${room}`);
    const text = unique('for the room');
    alice.type(`/group ${room} ${text}`);
    await bob.expect(`[${room}] ${names.alice}: ${text}`);
    await alice.expect(`[${room}] ${names.alice}: ${text}`);
    bob.type(`/leave ${room}`);
    await bob.expect(`* ${names.bob} left group ${room}`);
    await alice.expect(`* ${names.bob} left group ${room}`);
  });

  test("the server's error for a command is shown", async () => {
    alice.type('/join secret');
    await alice.expect("error: Not allowed to join group 'secret'.");
  });

  test('/dm reaches the user and is echoed to the sender', async () => {
    const text = unique('psst');
    alice.type(`/dm ${names.bob} ${text}`);
    await bob.expect(`[dm] ${names.alice}: ${text}`);
    await alice.expect(`[dm] ${names.alice}: ${text}`);
  });

  test('/who lists the users seen connecting, /help the commands, unknown commands an error', async () => {
    alice.type('/who');
    const line = await alice.expect('seen connecting since this client started');
    assert.ok(line.includes(names.bob), line);
    alice.type('/help');
    await alice.expect('/group <group> <message>');
    await alice.expect('/dm <user> <message>');
    bob.type('/frobnicate now');
    await bob.expect("error: unknown command '/frobnicate'");
    bob.type('/dm');
    await bob.expect('error: usage: /dm <user> <message>');
  });

  test('the instance is restarted on the same port: reconnecting…, reconnected, and on it goes', async () => {
    const [s0] = cluster.servers;
    const { port } = s0;
    const name = cluster.names[0];
    alice.type('');
    await s0.stop();
    await alice.expect('reconnecting…');
    const restarted = await startServer(['--backplane', cluster.redis.url, '--server-name', name,
      '--chat-group-policy', 'patterns', '--chat-group-pattern', 'room*'], { port });
    onCleanup(scope, () => restarted.stop());
    await alice.expect('reconnected', { timeoutMs: RECONNECT_TIMEOUT });
    // A broadcast only crosses once the restarted instance subscribed again: repeat until one does.
    await waitFor(async () => {
      const text = unique('back again');
      alice.type(text);
      try {
        await bob.expect(`${names.alice}: ${text}`, { timeoutMs: 500 });
        return true;
      } catch {
        return false;
      }
    }, TIMEOUT, { message: 'a message from the reconnected client to reach the other instance' });
  });

  test('/quit exits with status 0', async () => {
    bob.type('/quit');
    assert.deepEqual(await withTimeout(bob.exited, TIMEOUT), { code: 0, signal: null });
  });

  after(() => Promise.all([alice?.stop(), bob?.stop()]));
});

describe('switchboard chat through a pipe', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(() => server?.stop());

  test('every line is a command, the output is plain, end of input waits for the sends and exits 0', async (t) => {
    const url = `${server.url}/hubs/chat`;
    const carol = unique('carol');
    const watcher = chat(['--url', url, '--user', unique('watcher')], { tty: false });
    onCleanup(t, () => watcher.stop());
    await watcher.expect(/^connected to /, { all: true });
    const group = unique('piped');
    const script = chat(['--url', url, '--user', carol], {
      tty: false,
      input: `piped hello\n/join ${group}\n/group ${group} piped group\n/nope\n//slash text\n/dm ${carol} last line`,
    });
    assert.deepEqual(await withTimeout(script.exited, TIMEOUT), { code: 0, signal: null }, script.stderr());
    await watcher.expect(`${carol}: piped hello`, { all: true });
    await watcher.expect(`${carol}: /slash text`, { all: true });
    const out = script.raw();
    assert.ok(!out.includes(ESC), JSON.stringify(out));
    assert.ok(!out.includes(`${carol}> `), out);
    assert.match(out, /error: unknown command '\/nope'/);
    // The last line, without a line break, counts too: its DM completed before the exit.
    await watcher.stop();
  });

  test('exit 3 with the reason once reconnecting gives up', async () => {
    const own = await startServer();
    const lost = chat(['--url', `${own.url}/hubs/chat`, '--user', unique('lost'), '--reconnect-delays', '10ms,10ms'],
      { tty: false });
    await lost.expect(/^connected to /, { all: true });
    await own.stop();
    assert.equal((await withTimeout(lost.exited, TIMEOUT)).code, 3, lost.raw());
    assert.match(lost.raw(), /reconnecting/);
    assert.match(lost.raw(), /disconnected: /);
  });

  test('exit 1 when the connection cannot be started, 2 for bad flags', async () => {
    const port = await freePort();
    const down = chat(['--url', `http://127.0.0.1:${port}/hubs/chat`], { tty: false, input: '' });
    assert.equal((await withTimeout(down.exited, TIMEOUT)).code, 1);
    assert.match(down.stderr(), /could not connect/);
    const bad = chat(['--transport', 'carrier-pigeon'], { tty: false, input: '' });
    assert.equal((await withTimeout(bad.exited, TIMEOUT)).code, 2);
    const badUrl = chat(['--url', 'not a url'], { tty: false, input: '' });
    assert.equal((await withTimeout(badUrl.exited, TIMEOUT)).code, 2);
    const badDelays = chat(['--reconnect-delays', '1s,soon'], { tty: false, input: '' });
    assert.equal((await withTimeout(badDelays.exited, TIMEOUT)).code, 2);
  });
});
