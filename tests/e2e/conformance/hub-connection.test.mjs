// The HubConnection scenarios of the ASP.NET SignalR JS functional tests, for every transport × protocol
// pair the Node client runs, against the conformance app (TestHub at /testhub, detailed errors on).
import { after, describe, test as nodeTest } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState, Subject } from '@microsoft/signalr';
import { waitFor } from '../server.mjs';
import {
  PAIRS,
  closeEventSources,
  collectStream,
  connectionFor,
  messagePackRefusal,
  randomCase,
  record,
  startConformanceServer,
} from './app.mjs';

const server = await startConformanceServer();
after(async () => {
  closeEventSources();
  await server.stop();
});
// MessagePack pairs run only if the server takes the protocol (asked with a real handshake).
const messagePackSkip = await messagePackRefusal(server.url);

const GUID = '00010203-0405-0607-0706-050403020100';

/** ComplexObject as each protocol carries it (MessagePack: bin and timestamp; JSON: base64 and ISO text). */
function wireComplexObject(protocol, { string, intArray, bytes, date }) {
  return {
    String: string,
    IntArray: intArray,
    ByteArray: protocol === 'json' ? Buffer.from(bytes).toString('base64') : new Uint8Array(bytes),
    Guid: GUID,
    DateTime: protocol === 'json' ? date.toISOString().replace('.000Z', 'Z') : date,
  };
}

/** Compares received ComplexObjects field by field (Uint8Array and Date compare by content). */
function assertComplexObject(actual, expected) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `keys of ${JSON.stringify(actual)}`);
  for (const key of Object.keys(expected)) {
    const [a, e] = [actual[key], expected[key]];
    if (e instanceof Uint8Array) assert.deepEqual(Array.from(a), Array.from(e), key);
    else if (e instanceof Date) assert.equal(a instanceof Date ? a.getTime() : a, e.getTime(), key);
    else assert.deepEqual(a, e, key);
  }
}

for (const { transport, protocol } of PAIRS) {
  const skip = protocol === 'messagepack' && messagePackSkip ? messagePackSkip : false;

  describe(`${transport} with ${protocol}`, () => {
    // Each test is skipped on its own, so that the counts show what did not run.
    const test = (name, fn) => nodeTest(name, { skip }, fn);
    const connect = (t, options = {}) => connectionFor(t, server.url, '/testhub', { transport, protocol, ...options });

    test('connects over the requested transport', async (t) => {
      const connection = await connect(t);
      assert.equal(connection.state, HubConnectionState.Connected);
      assert.equal(await connection.invoke('GetActiveTransportName'), transport);
    });

    test('invoke returns the result', async (t) => {
      const connection = await connect(t);
      const message = `Hi ${transport} ${protocol} ✓`;
      assert.equal(await connection.invoke('Echo', message), message);
    });

    test('send does not wait for a result and the server still runs the method', async (t) => {
      const connection = await connect(t);
      const messages = record(connection, 'Message');
      assert.equal(await connection.send('InvokeWithString', 'sent'), undefined);
      await waitFor(() => messages.length === 1, 5_000, { message: 'the Message call' });
      assert.deepEqual(messages, [['sent']]);
    });

    test('a structural object round-trips with PascalCase properties', async (t) => {
      const connection = await connect(t);
      const objects = record(connection, 'CustomObject');
      await connection.invoke('SendCustomObject', { Name: 'test', Value: 42 });
      await waitFor(() => objects.length === 1, 5_000, { message: 'the CustomObject call' });
      assert.deepEqual(objects[0], [{ Name: 'test', Value: 42 }]);
    });

    test('server calls reach handlers registered with any letter case', async (t) => {
      const connection = await connect(t);
      const messages = record(connection, randomCase('message'));
      await connection.invoke('InvokeWithString', 'case-insensitive');
      await waitFor(() => messages.length === 1, 5_000, { message: 'the Message call' });
      assert.deepEqual(messages[0], ['case-insensitive']);
    });

    test('server calls still arrive after stop and start', async (t) => {
      const connection = await connect(t);
      const messages = record(connection, 'Message');
      await connection.stop();
      assert.equal(connection.state, HubConnectionState.Disconnected);
      await connection.start();
      await connection.invoke('InvokeWithString', 'after restart');
      await waitFor(() => messages.length === 1, 5_000, { message: 'the Message call' });
      assert.deepEqual(messages[0], ['after restart']);
    });

    test('a server stream delivers every item, then completes', async (t) => {
      const connection = await connect(t);
      assert.deepEqual(await collectStream(connection.stream('Stream')), ['a', 'b', 'c']);
    });

    test('an empty server stream completes without items', async (t) => {
      const connection = await connect(t);
      assert.deepEqual(await collectStream(connection.stream('EmptyStream')), []);
    });

    test('cancelling a stream reaches the server (InfiniteStream answers StreamCanceled)', async (t) => {
      const connection = await connect(t);
      const canceled = record(connection, 'StreamCanceled');
      const items = [];
      const subscription = connection.stream('InfiniteStream').subscribe({
        next: (item) => items.push(item),
        complete: () => {},
        error: () => {},
      });
      subscription.dispose();
      await waitFor(() => canceled.length === 1, 5_000, { message: 'the StreamCanceled call' });
      assert.deepEqual(canceled[0], []);
      assert.deepEqual(items, []);
      assert.equal(await connection.invoke('Echo', 'still open'), 'still open');
    });

    test('a server exception on invoke gives the detailed error', async (t) => {
      const connection = await connect(t);
      await assert.rejects(connection.invoke('ThrowException', 'An error occurred.'), {
        message: "An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: An error occurred.",
      });
      assert.equal(connection.state, HubConnectionState.Connected);
    });

    test('a C++ exception thrown by a hub method is contained and reported', async (t) => {
      const connection = await connect(t);
      await assert.rejects(connection.invoke('ThrowStdException', 'An error occurred.'), {
        message: "An unexpected error occurred invoking 'ThrowStdException' on the server. std::runtime_error: An error occurred.",
      });
      assert.equal(connection.state, HubConnectionState.Connected);
      assert.equal(await connection.invoke('Echo', 'still here'), 'still here');
    });

    test('a server exception on stream gives the detailed error', async (t) => {
      const connection = await connect(t);
      await assert.rejects(collectStream(connection.stream('StreamThrowException', 'An error occurred.')), {
        message: "An unexpected error occurred invoking 'StreamThrowException' on the server. InvalidOperationException: An error occurred.",
      });
    });

    test('invoke on a streaming method is refused', async (t) => {
      const connection = await connect(t);
      await assert.rejects(connection.invoke('Stream'), {
        message: "The client attempted to invoke the streaming 'Stream' method with a non-streaming invocation.",
      });
      await assert.rejects(connection.invoke('EmptyStream'), {
        message: "The client attempted to invoke the streaming 'EmptyStream' method with a non-streaming invocation.",
      });
    });

    test('stream on a non-streaming method is refused', async (t) => {
      const connection = await connect(t);
      await assert.rejects(collectStream(connection.stream('Echo', '42')), {
        message: "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation.",
      });
    });

    test('a client-to-server stream is consumed by the method', async (t) => {
      const connection = await connect(t);
      const subject = new Subject();
      const result = connection.invoke('StreamingConcat', subject);
      subject.next('Hello ');
      subject.next('world');
      subject.next('!');
      subject.complete();
      assert.equal(await result, 'Hello world!');
    });

    test('a client-to-server stream that fails fails the invocation with its message', async (t) => {
      const connection = await connect(t);
      const subject = new Subject();
      const result = connection.invoke('StreamingConcat', subject);
      subject.next('Hello ');
      subject.error(new Error('Something bad'));
      await assert.rejects(result, {
        message: "An unexpected error occurred invoking 'StreamingConcat' on the server. HubException: Something bad",
      });
    });

    test('a client result is returned to the server', async (t) => {
      const connection = await connect(t);
      connection.on('Result', () => 10);
      const response = await fetch(`${server.url}/clientresult/${connection.connectionId}`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), '10');
    });

    test('a client result handler that throws sends the error to the server', async (t) => {
      const connection = await connect(t);
      connection.on('Result', () => {
        throw new Error('from callback');
      });
      const response = await fetch(`${server.url}/clientresult/${connection.connectionId}`);
      assert.equal(await response.text(), 'Error: from callback');
    });

    test('a client without a result handler tells the server', async (t) => {
      const connection = await connect(t);
      const response = await fetch(`${server.url}/clientresult/${connection.connectionId}`);
      assert.equal(await response.text(), "Client didn't provide a result.");
    });

    test('a complex object round-trips (bytes, date, guid, int array)', async (t) => {
      const connection = await connect(t);
      const sent = wireComplexObject(protocol, {
        string: 'Hello, World!',
        intArray: [1, 2, 3, 255],
        bytes: [0x68, 0x65, 0x6c, 0x6c, 0x6f],
        date: new Date(Date.UTC(2002, 3, 1, 10, 20, 15)),
      });
      assertComplexObject(await connection.invoke('EchoComplexObject', sent), sent);
    });

    test('a complex object from the server has the expected types', async (t) => {
      const connection = await connect(t);
      const expected = wireComplexObject(protocol, {
        string: 'hello world',
        intArray: [1, 2, 3],
        bytes: [1, 2, 3],
        date: new Date(Date.UTC(2000, 0, 1)),
      });
      assertComplexObject(await connection.invoke('SendComplexObject'), expected);
    });

    test('connectionId is the server connection id', async (t) => {
      const connection = await connect(t);
      assert.equal(typeof connection.connectionId, 'string');
      assert.equal(await connection.invoke('GetCallerConnectionId'), connection.connectionId);
    });

    test('the server sees the client User-Agent', async (t) => {
      const connection = await connect(t);
      const agent = await connection.invoke('GetHeader', 'User-Agent');
      assert.match(agent ?? '', /^Microsoft SignalR\/\d+\.\d+ \(.*; NodeJS; .*\)$/);
    });

    test('custom headers reach the server, and can override the User-Agent', async (t) => {
      const connection = await connect(t, { headers: { 'X-HEADER': 'VALUE', 'User-Agent': 'Custom Agent' } });
      assert.equal(await connection.invoke('GetHeader', 'X-HEADER'), 'VALUE');
      assert.equal(await connection.invoke('GetHeader', 'User-Agent'), 'Custom Agent');
      assert.equal(await connection.invoke('GetHeader', 'X-Not-Sent'), null);
    });

    test('cookies set by negotiate are sent on the connection; expired ones are not', async (t) => {
      const connection = await connect(t);
      assert.equal(await connection.invoke('GetCookie', 'testCookie'), 'testValue');
      assert.equal(await connection.invoke('GetCookie', 'testCookie2'), 'testValue2');
      assert.equal(await connection.invoke('GetCookie', 'expiredCookie'), null);
    });
  });
}
