// Regression guards for the performance design, none of them a timing test: streaming joins no consumer
// group, a client that stops reading stops its fetch loop, and streams on a shared kafkajs instance share
// one set of broker connections. Real broker; numbers live in bench/ and docs/performance.md.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { sharedClient, type KafkaInstrumentationEvent } from '../../src/index.js';
import { createTopic, fixtureKafka, produce, testBrokers } from '../helpers/kafka.js';
import { readRaw, startServer } from '../helpers/sse.js';
import { until } from '../helpers/wait.js';

/** A kafkajs socket factory (same as kafkajs's own for plain TCP) that counts the sockets it opens. */
function countingSockets() {
  const counter = { opened: 0, open: 0 };
  const factory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    counter.opened++;
    counter.open++;
    socket.once('close', () => counter.open--);
    return socket;
  };
  return { counter, factory };
}

/** Polls `read` until `done(value)` or the deadline; returns the last value. */
async function pollUntil<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

const fromStart = (topic: string) => JSON.stringify([{ topic, partition: 0, offset: 0 }]);

test('streaming creates no consumer group, with a shared kafkajs instance or a client per connection', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }, { partition: 0, value: { n: 1 } }]);
  const admin = await fixtureKafka().admin;
  const clientId = `perf-guard-${randomUUID().slice(0, 8)}`;
  const kafka = new Kafka({ clientId, brokers: testBrokers(), logLevel: logLevel.NOTHING });
  const requestId = `perf-guard-${randomUUID().slice(0, 8)}`;
  const server = await startServer((req) =>
    req.url?.includes('perConnection') ? { kafkaConfig: { brokers: testBrokers(), logLevel: logLevel.NOTHING } } : { kafka },
  () => [topic]);
  const before = new Set((await admin.listGroups()).groups.map((g) => g.groupId));

  // Groups are checked while the streams are open, when a group would still have its member.
  const twoEvents = (t: string) => (t.match(/\ndata: /g) ?? []).length >= 2;
  const opened = await Promise.all([
    readRaw(`${server.url}/shared`, { headers: { 'Last-Event-ID': fromStart(topic) }, until: twoEvents }),
    readRaw(`${server.url}/perConnection`, { headers: { 'Last-Event-ID': fromStart(topic), 'x-request-id': requestId }, until: twoEvents }),
  ]);
  assert.ok(opened.every((r) => twoEvents(r.text)), 'both streams delivered their records');
  const during = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !before.has(g));
  const described = during.length ? (await admin.describeGroups(during)).groups : [];
  const ours = described.filter((g) => g.members.some((m) => m.clientId === clientId || m.clientId === `KafkaSSE-${requestId}`));
  assert.deepEqual(ours.map((g) => g.groupId), [], 'no group has a member from our streams');

  await server.close();
  const after = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !before.has(g));
  // Other test files may create groups meanwhile; ours would be named after nothing we know, so the
  // check above (by member client id) is the exact one, and this one catches groups left behind empty.
  const leftEmpty = after.length ? (await admin.describeGroups(after)).groups.filter((g) => g.state === 'Empty' && g.members.length === 0) : [];
  for (const g of leftEmpty) assert.ok(!g.groupId.includes(clientId) && !g.groupId.includes(requestId), `group ${g.groupId} left behind`);
  await sharedClient(kafka).close();
});

test('a client that stops reading stops its fetch loop; reading again resumes it', async (t) => {
  const topic = await createTopic(1);
  // ~24 MiB of SSE: far more than the socket buffers between server and client can hold.
  const padding = 'x'.repeat(1000);
  const total = 24_000;
  for (let n = 0; n < total; n += 500) {
    await produce(topic, Array.from({ length: 500 }, (_, i) => ({ partition: 0, value: { n: n + i, padding } })));
  }
  const kafka = new Kafka({ clientId: 'perf-guard-paused', brokers: testBrokers(), logLevel: logLevel.NOTHING });
  const client = sharedClient(kafka);
  let recordsFetched = 0;
  let fetches = 0;
  const server = await startServer(
    {
      kafka,
      kafkaEventHandlers: {
        'consumer.fetch': () => void fetches++,
        'consumer.start_batch_process': (e: KafkaInstrumentationEvent) => void (recordsFetched += Number(e.payload.batchSize)),
      },
    },
    () => [topic],
  );
  const { port } = new URL(server.url);
  // A raw TCP client that sends its request and then reads nothing.
  const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
  socket.pause();
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /x HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nLast-Event-ID: ${fromStart(topic)}\r\n\r\n`);

  // Wait until the fetch counters stop moving for a whole second (bounded).
  const kafkaFetches = () => client.directFetches + client.tailFetches;
  let last = { at: Date.now(), value: -1 };
  await pollUntil(
    () => {
      const value = kafkaFetches() + fetches;
      if (value !== last.value) last = { at: Date.now(), value };
      return Date.now() - last.at;
    },
    (stillFor) => stillFor >= 1000 && fetches > 0,
    30_000,
  );
  const stalled = { kafka: kafkaFetches(), stream: fetches, records: recordsFetched };
  t.diagnostic(`paused after ${stalled.stream} fetches, ${stalled.records} of ${total} records`);
  assert.ok(stalled.stream > 0, 'the stream fetched before it was paused');
  assert.ok(stalled.records < total, `the server stopped fetching (${stalled.records} of ${total} records fetched)`);
  // Still paused a little later: nothing fetched, nothing buffered behind the client's back.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.deepEqual({ kafka: kafkaFetches(), stream: fetches, records: recordsFetched }, stalled);
  assert.equal(client.waitingStreams, 0, 'the stream is not waiting in a long-poll either');

  // Reading again resumes the loop, and every record arrives.
  let received = 0;
  let tail = '';
  const lastRecord = `"n":${total - 1},`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received} bytes arrived after resuming`)), 60_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-4096);
      if (tail.includes(lastRecord)) {
        clearTimeout(timer);
        resolve();
      }
    });
    socket.resume();
  });
  assert.equal(recordsFetched, total);
  socket.destroy();
  await server.close();
  await sharedClient(kafka).close();
});

test('streams on a shared kafkajs instance share one client and one set of broker connections', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  const shared = countingSockets();
  const kafka = new Kafka({ clientId: 'perf-guard-shared', brokers: testBrokers(), logLevel: logLevel.NOTHING, socketFactory: shared.factory });
  const perConnection = countingSockets();
  const server = await startServer(
    (req) =>
      req.url?.includes('perConnection')
        ? { kafkaConfig: { brokers: testBrokers(), logLevel: logLevel.NOTHING, socketFactory: perConnection.factory } }
        : { kafka },
    () => [{ topic, partition: 0, offset: 0 }],
  );
  const client = sharedClient(kafka);
  const oneEvent = (t: string) => t.includes('\ndata: ');
  const stream = (path: string) => readRaw(`${server.url}/${path}`, { until: oneEvent });

  // A first stream that reads its record and then waits at the end of the log: by then the shared client
  // has opened everything it uses (metadata, offsets, catch-up fetch and tail long-poll connections).
  const abort = new AbortController();
  const res = await fetch(`${server.url}/shared`, { signal: abort.signal });
  const reader = res.body!.getReader();
  let text = '';
  while (!oneEvent(text)) text += new TextDecoder().decode((await reader.read()).value);
  assert.equal(await pollUntil(() => client.waitingStreams, (n) => n === 1, 10_000), 1, 'the first stream waits at the tail');
  abort.abort();
  await reader.cancel().catch(() => {});
  const afterOne = shared.counter.opened;
  assert.ok(afterOne > 0, 'the shared client connected through the kafka instance');
  // Twenty more streams, ten of them at once: no new connection, the same client object.
  for (let i = 0; i < 10; i++) assert.ok(oneEvent((await stream('shared')).text));
  const concurrent = await Promise.all(Array.from({ length: 10 }, () => stream('shared')));
  assert.ok(concurrent.every((r) => oneEvent(r.text)));
  assert.equal(shared.counter.opened, afterOne, 'no broker connection was opened for the later streams');
  assert.equal(sharedClient(kafka), client, 'sharedClient(kafka) is one object for the process');

  // The contrast that makes the check meaningful: a client per connection opens connections per stream.
  for (let i = 0; i < 3; i++) assert.ok(oneEvent((await stream('perConnection')).text));
  assert.ok(perConnection.counter.opened >= 3, `a client per connection connects per stream (${perConnection.counter.opened})`);
  await pollUntil(() => perConnection.counter.open, (n) => n === 0, 10_000);
  assert.equal(perConnection.counter.open, 0, 'per-connection clients close their connections when the stream ends');

  await server.close();
  await client.close();
  await pollUntil(() => shared.counter.open, (n) => n === 0, 10_000);
  assert.equal(shared.counter.open, 0, 'closing the shared client closes its connections');
});

test('an idle shared client keeps no timer armed (kafkajs 2.2.4 re-armed a 1 ms timer per connection forever)', async () => {
  const topic = await createTopic(1);
  const kafka = new Kafka({ clientId: 'perf-guard-idle', brokers: testBrokers(), logLevel: logLevel.NOTHING });
  const client = sharedClient(kafka);
  // Requests on every kind of connection: metadata, offsets, a catch-up fetch and a tail long-poll.
  const [start] = await client.resolve([{ topic, partition: 0, offset: 0 }]);
  await client.fetch([start!], { wait: false, signal: new AbortController().signal });
  const polling = new AbortController();
  const poll = client.fetch([start!], { wait: true, signal: polling.signal }).catch(() => []);
  await pollUntil(() => client.tailFetches, (n) => n > 0, 5000);
  polling.abort();
  await poll;

  // The request queues of the client's own connections (kafkajs internals, pinned version).
  interface Queue { throttleCheckTimeoutId: unknown; pending: unknown[] }
  interface Pool { pool: Array<{ requestQueue: Queue; isConnected(): boolean }> }
  interface Cluster { brokerPool: { seedBroker?: { connectionPool: Pool }; brokers: Record<string, { connectionPool: Pool }> } }
  const clusters = client as unknown as { direct: Cluster; tail: Cluster };
  const connections = [clusters.direct, clusters.tail].flatMap((c) =>
    [c.brokerPool.seedBroker, ...Object.values(c.brokerPool.brokers)].flatMap((b) => b?.connectionPool.pool ?? []),
  );
  const connected = connections.filter((c) => c.isConnected());
  assert.ok(connected.length >= 3, `the client has its connections (${connected.length})`);
  // Once the long-poll's answer is in, nothing is pending and no queue keeps a check scheduled.
  await pollUntil(() => client.waitingStreams, (n) => n === 0, 5000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const armed = connected.filter((c) => c.requestQueue.throttleCheckTimeoutId !== null && c.requestQueue.throttleCheckTimeoutId !== undefined);
  assert.equal(armed.length, 0, `${armed.length} of ${connected.length} idle connections keep a timer armed`);
  await client.close();
});

test('clientTuning applies to the shared client of `kafka`; conflicting tuning is a 500 that takes no connection slot', async () => {
  const topic = await createTopic(1, 'guard-tuning');
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  const kafka = new Kafka({ clientId: `tuning-${randomUUID()}`, brokers: testBrokers(), logLevel: logLevel.NOTHING });
  // Connection limits count per options object: the refused requests share theirs.
  const tuned = { kafka, clientTuning: { retryWindowMs: 4321 } };
  const other = { kafka, maxConnections: 1, clientTuning: { retryWindowMs: 1234 } };
  const server = await startServer((req) => (req.url?.includes('other') ? other : tuned), () => [{ topic, partition: 0, offset: 0 }]);
  try {
    const first = await readRaw(`${server.url}/tuned`, { until: (t) => t.includes('\ndata: ') });
    assert.equal(first.status, 200);
    assert.equal(sharedClient(kafka).tuning.retryWindowMs, 4321, 'the shared client was made with the request\'s tuning');
    for (let i = 0; i < 3; i++) {
      const refused = await readRaw(`${server.url}/other`, { until: () => false, timeoutMs: 5000 });
      assert.equal(refused.status, 500);
      assert.equal(JSON.parse(refused.text).code, 'KSSE_INTERNAL');
    }
    // `other` allows one connection and three of its requests were refused: had they kept their slot, the
    // fourth would be a 503 (too many connections) rather than the same 500.
    await until(() => server.finished === 4, () => `${server.finished} of 4 requests settled`);
    const again = await readRaw(`${server.url}/other`, { until: () => false, timeoutMs: 5000 });
    assert.equal(again.status, 500, 'refused requests gave their connection slot back');
  } finally {
    await server.close();
    await sharedClient(kafka).close();
  }
});
