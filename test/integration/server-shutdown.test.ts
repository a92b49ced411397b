// Graceful shutdown of `kafka-sse serve`: on SIGTERM/SIGINT it stops accepting, ends every stream
// cleanly, closes Kafka and exits 0 within 5 s; clients resume on another instance with no gap.
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { EventSource } from 'eventsource';
import { createTopic, fixtureKafka } from '../helpers/kafka.js';
import { openStream, startCli } from '../e2e/helpers/cliProcess.js';
import { within } from '../helpers/wait.js';


test('SIGTERM ends every stream cleanly and exits 0 within 5 s; the client resumes on another instance exactly once', async () => {
  const topic = await createTopic(2, 'shutdown');
  const [first, second] = await Promise.all([startCli([]), startCli([])]);

  // An EventSource whose reconnections go wherever `target` points, as behind a load balancer.
  let target = first.url;
  const received: string[] = [];
  const ids: string[] = [];
  let opens = 0;
  const onOpen: Array<() => void> = [];
  const messageWaiters: Array<{ count: number; resolve: () => void }> = [];
  const es = new EventSource(`${first.url}/v1/stream/${topic}`, {
    fetch: (input, init) => fetch(String(input).replace(first.url, target), init),
  });
  es.addEventListener('open', () => {
    opens++;
    for (const f of onOpen.splice(0)) f();
  });
  es.addEventListener('message', (e: MessageEvent<string>) => {
    const { _kafka } = JSON.parse(e.data) as { _kafka: { partition: number; offset: number } };
    received.push(`${_kafka.partition}:${_kafka.offset}`);
    ids.push(e.lastEventId);
    for (const w of messageWaiters) if (received.length >= w.count) w.resolve();
  });
  const opened = () => within(new Promise<void>((resolve) => onOpen.push(resolve)), 15_000, 'EventSource open');
  const receivedAtLeast = (count: number) =>
    within(new Promise<void>((resolve) => (received.length >= count ? resolve() : messageWaiters.push({ count, resolve }))), 15_000, `${count} events`);

  const firstOpen = opened();

  // A second client reading the raw body tells a clean end of the response from a cut connection.
  const raw = await openStream(`${first.url}/v1/stream/${topic}`);
  const producer = await fixtureKafka().producer;
  const produced: string[] = [];
  let producing = true;
  try {
    await firstOpen;
    await raw.until((t) => t.includes('id: '));
    const production = (async () => {
      for (let n = 0; producing; n++) {
        const [meta] = await producer.send({ topic, acks: -1, messages: [{ partition: n % 2, value: JSON.stringify({ n }) }] });
        produced.push(`${meta!.partition}:${meta!.baseOffset}`);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    await receivedAtLeast(10);

    target = second.url; // the "load balancer" now sends reconnections to the second instance
    const reconnected = opened();
    const signalledAt = Date.now();
    const exit = await within(first.stop('SIGTERM', 8000), 8000, 'exit after SIGTERM');
    const took = Date.now() - signalledAt;
    assert.deepEqual(exit, { code: 0, signal: null }, first.stderr());
    assert.ok(took < 5000, `exited after ${took} ms`);
    assert.equal(await within(raw.ended, 1000, 'raw stream end'), 'clean', 'the response ended cleanly, not by a cut connection');

    await reconnected;
    const before = received.length;
    await receivedAtLeast(before + 10);
    producing = false;
    await production;
    await receivedAtLeast(produced.length);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive right behind the last record
  } finally {
    producing = false;
    es.close();
    raw.close();
  }

  assert.equal(opens, 2);
  assert.deepEqual([...received].sort(), [...produced].sort(), 'every record exactly once across the shutdown');
  const shutdownLog = first.logs.find((l) => l.msg === 'shut down');
  assert.equal(shutdownLog?.clean, true);
  assert.equal(first.logs.filter((l) => l.msg === 'stream closed').length, 2, 'both streams were closed by the server');
  assert.ok(second.logs.some((l) => l.msg === 'stream opened'), 'the client resumed on the second instance');
});

test('SIGINT shuts down the same way, with a stream open', async () => {
  const topic = await createTopic(1, 'shutdown-int');
  const server = await startCli([]);
  const stream = await openStream(`${server.url}/v1/stream/${topic}`);
  await stream.until((t) => t.includes('id: '));
  const signalledAt = Date.now();
  const exit = await within(server.stop('SIGINT', 8000), 8000, 'exit after SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  assert.ok(Date.now() - signalledAt < 5000);
  assert.equal(await stream.ended, 'clean');
  // Nothing listens any more.
  await assert.rejects(fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(2000) }));
});

test('a stream still waiting on a silent broker is cut at shutdown (its client retries) and does not delay the exit', async () => {
  // A "broker" that accepts connections and never answers: stream setup hangs on it.
  const sockets = new Set<Socket>();
  const silent = createNetServer();
  const connected = new Promise<void>((resolve) => {
    silent.on('connection', (socket: Socket) => {
      sockets.add(socket);
      resolve();
    });
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const server = await startCli(['--brokers', `127.0.0.1:${(silent.address() as AddressInfo).port}`]);
  const pending = fetch(`${server.url}/v1/stream/anything`).then(
    (res) => `answered ${res.status}`,
    () => 'cut',
  );
  await within(connected, 10_000, 'the server connecting to the silent broker');
  const signalledAt = Date.now();
  const exit = await within(server.stop('SIGTERM', 8000), 8000, 'exit after SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  assert.ok(Date.now() - signalledAt < 5000);
  assert.equal(await pending, 'cut', 'no empty 200: the client sees a network error and retries');
});
