// Failover between instances: two `kafka-sse serve` processes on one broker behind a loopback TCP proxy
// standing in for a load balancer. The instance serving a client crashes (SIGKILL: no clean end of
// stream); the client's EventSource reconnects through the proxy, lands on the other instance with its
// Last-Event-ID, and ends with every record exactly once. No state is shared between the instances.
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { EventSource } from 'eventsource';
import { startCli } from '../e2e/helpers/cliProcess.js';
import { createTopic, fixtureKafka } from '../helpers/kafka.js';
import { delay, eventually } from '../helpers/wait.js';


interface Balancer {
  url: string;
  /** Where new connections go from now on. */
  target: number;
  /** The request head of every connection, in order, and the port it went to. */
  requests: Array<{ port: number; head: string }>;
  /** Destroys every connection going through (a network blip between the client and the balancer). */
  cutAll(): void;
}

/**
 * A loopback TCP proxy: each client connection is piped to `target` as it was when the connection
 * came in; when either side closes or breaks, the other is destroyed (as a load balancer drops the
 * client's connection when its backend dies). Closed when the test file ends.
 */
async function startBalancer(target: number): Promise<Balancer> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const balancer: Balancer = {
    url: '',
    target,
    requests: [],
    cutAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
  const server = createServer((client) => {
    const port = balancer.target;
    const upstream = connect({ host: '127.0.0.1', port });
    track(client);
    track(upstream);
    const request = { port, head: '' };
    balancer.requests.push(request);
    client.on('data', (chunk: Buffer) => {
      if (!request.head.includes('\r\n\r\n')) request.head += chunk.toString('latin1');
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  balancer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return balancer;
}

/** The `Last-Event-ID` header of an HTTP request head, if any. */
function lastEventIdOf(head: string): string | undefined {
  return /^last-event-id: *(.*)$/im.exec(head)?.[1]?.trim();
}

interface Reader {
  received: string[];
  /** The id each event carried, and the connection (1st, 2nd, …) it came on. */
  ids: Array<{ id: string; connection: number }>;
  opens(): number;
  /** HTTP statuses (or undefined) of failures after which the EventSource gave up for good. */
  fatal: Array<number | undefined>;
  close(): void;
}

/** The real `eventsource` client, reconnecting by itself (after the server's `retry: 2000` hint). */
function read(url: string): Reader {
  const reader: Reader = { received: [], ids: [], opens: () => opens, fatal: [], close: () => es.close() };
  let opens = 0;
  const es = new EventSource(url);
  es.addEventListener('open', () => opens++);
  es.addEventListener('message', (e: MessageEvent<string>) => {
    const { _kafka } = JSON.parse(e.data) as { _kafka: { partition: number; offset: number } };
    reader.received.push(`${_kafka.partition}:${_kafka.offset}`);
    reader.ids.push({ id: e.lastEventId, connection: opens });
  });
  es.addEventListener('error', (e: Event & { code?: number }) => {
    if (es.readyState === EventSource.CLOSED) reader.fatal.push(e.code);
  });
  return reader;
}

/** Writes one record every ~10 ms round-robin over `partitions`, recording what was acked as `partition:offset`. */
async function startProducing(topic: string, partitions: number) {
  const producer = await fixtureKafka().producer;
  const produced: string[] = [];
  let producing = true;
  const production = (async () => {
    for (let n = 0; producing; n++) {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ partition: n % partitions, value: JSON.stringify({ n }) }] });
      produced.push(`${meta!.partition}:${meta!.baseOffset}`);
      await delay(10);
    }
  })();
  return {
    produced,
    async stop() {
      producing = false;
      await production;
    },
  };
}

/** Every record exactly once, each partition in order, and every reconnection resumed from the last id received before it. */
async function assertExactlyOnce(reader: Reader, produced: string[], balancer: Balancer): Promise<void> {
  await eventually(() => reader.received.length >= produced.length, 15_000, () => `${reader.received.length} of ${produced.length} events`);
  await delay(300); // a duplicate would arrive right behind the last record
  assert.deepEqual(reader.fatal, [], 'the EventSource never gave up');
  assert.equal(new Set(reader.received).size, reader.received.length, 'no record twice');
  assert.deepEqual([...reader.received].sort(), [...produced].sort(), 'every record exactly once');
  for (const partition of [0, 1, 2]) {
    const offsets = reader.received.filter((r) => r.startsWith(`${partition}:`)).map((r) => Number(r.split(':')[1]));
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), `partition ${partition} in order`);
  }
  for (let connection = 2; connection <= balancer.requests.length; connection++) {
    const sent = lastEventIdOf(balancer.requests[connection - 1]!.head);
    const lastBefore = reader.ids.filter((i) => i.connection < connection).at(-1)?.id;
    assert.ok(sent, `reconnection ${connection - 1} carried a Last-Event-ID`);
    assert.equal(sent, lastBefore, `reconnection ${connection - 1} resumed from the last id received before it`);
  }
}

test('an instance crashes (SIGKILL) under a stream: the client reconnects through the balancer to the other instance with its Last-Event-ID, every record exactly once', async (t) => {
  const topic = await createTopic(3, 'faults-failover');
  const [first, second] = await Promise.all([startCli([]), startCli([])]);
  const balancer = await startBalancer(first.port);
  const reader = read(`${balancer.url}/v1/stream/${topic}`);
  let producer: Awaited<ReturnType<typeof startProducing>> | undefined;
  try {
    await eventually(() => reader.opens() === 1, 15_000, () => 'the EventSource did not open');
    producer = await startProducing(topic, 3);
    await eventually(() => reader.received.length >= 30, 15_000, () => `${reader.received.length} events on the first instance`);

    balancer.target = second.port; // the balancer now sends new connections to the second instance
    const exit = await first.stop('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    const receivedAtCrash = reader.received.length;
    await eventually(() => reader.opens() === 2, 15_000, () => `opens: ${reader.opens()}, fatal errors: ${reader.fatal.join(',')}`);
    await eventually(() => reader.received.length >= receivedAtCrash + 30, 15_000, () => `${reader.received.length - receivedAtCrash} events on the second instance`);
    await producer.stop();

    await assertExactlyOnce(reader, producer.produced, balancer);
    assert.equal(reader.opens(), 2);
    assert.deepEqual(balancer.requests.map((r) => r.port), [first.port, second.port], 'one connection to each instance');
    assert.ok(second.logs.some((l) => l.msg === 'stream opened'), 'the second instance served the resumed stream');
    const onFirst = reader.ids.filter((i) => i.connection === 1).length;
    t.diagnostic(`${onFirst} events from the first instance, ${reader.received.length - onFirst} from the second`);
  } finally {
    await producer?.stop().catch(() => {});
    reader.close();
    await second.stop();
  }
});

test('connections cut between client and balancer, reconnections sent alternately to two live instances: every record exactly once', async (t) => {
  const topic = await createTopic(3, 'faults-alternate');
  const instances = await Promise.all([startCli([]), startCli([])]);
  const balancer = await startBalancer(instances[0]!.port);
  const reader = read(`${balancer.url}/v1/stream/${topic}`);
  let producer: Awaited<ReturnType<typeof startProducing>> | undefined;
  try {
    await eventually(() => reader.opens() === 1, 15_000, () => 'the EventSource did not open');
    producer = await startProducing(topic, 3);
    // Three cuts: instance 1 → 2 → 1 → 2, no stickiness, no state shared between the instances.
    for (let cut = 1; cut <= 3; cut++) {
      const before = reader.received.length;
      await eventually(() => reader.received.length >= before + 20, 15_000, () => `${reader.received.length - before} events on connection ${cut}`);
      balancer.target = instances[cut % 2]!.port;
      balancer.cutAll();
      await eventually(() => reader.opens() === cut + 1, 15_000, () => `opens: ${reader.opens()}, fatal errors: ${reader.fatal.join(',')}`);
    }
    const before = reader.received.length;
    await eventually(() => reader.received.length >= before + 20, 15_000, () => `${reader.received.length - before} events on the last connection`);
    await producer.stop();

    await assertExactlyOnce(reader, producer.produced, balancer);
    const ports = instances.map((i) => i.port);
    assert.deepEqual(balancer.requests.map((r) => r.port), [ports[0], ports[1], ports[0], ports[1]]);
    // Each instance noticed its client leave and closed the stream (nothing left running on the old one).
    await eventually(
      () => instances[0]!.logs.filter((l) => l.msg === 'stream closed' && l.reason === 'client disconnected').length === 2,
      5000,
      () => 'the first instance did not close both of its streams',
    );
    t.diagnostic(`${reader.received.length} events over ${reader.opens()} connections`);
  } finally {
    await producer?.stop().catch(() => {});
    reader.close();
    await Promise.all(instances.map((i) => i.stop()));
  }
});
