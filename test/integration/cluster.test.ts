// Streams from a production-shaped cluster: three KRaft nodes (localhost:29092..29094, RF 3, min ISR 2)
// of this file's own, beside the shared broker. Partitions led by different nodes; and, while an
// idempotent producer keeps writing, a partition leader killed (SIGKILL) under a running stream and
// under a connecting client, partitions reassigned off their leaders, and a rolling restart. The tests
// run one after another; each starts every node it stopped again.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { EventSource } from 'eventsource';
import { logLevel } from 'kafkajs';
import { closeSharedClient, type KafkaSseOptions } from '../../src/index.js';
import { clusterSkip, reassignSkip, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer } from '../helpers/sse.js';
import { delay, eventually } from '../helpers/wait.js';
import { assertExactlyOnce, keepProducing, type Received } from '../helpers/continuousProducer.js';

const skip = clusterSkip;
// Started at the top level: `after` hooks registered inside a `before` hook run as soon as that hook ends.
const cluster = (skip ? undefined : await startTestCluster()) as TestCluster;

/** The two ways a user gives kafkaSse its Kafka: one shared kafkajs instance, or a config for a client per connection. */
const CONFIGURATIONS: Array<{ name: string; options(): KafkaSseOptions }> = [
  {
    name: 'shared kafka instance',
    options() {
      // Made inside the test: its connections close when that test ends.
      const kafka = cluster.kafka({ clientId: 'cluster-sse-shared' });
      after(() => closeSharedClient(kafka));
      return { kafka };
    },
  },
  {
    name: 'kafkaConfig per connection',
    options: () => ({ kafkaConfig: { brokers: cluster.brokers, logLevel: logLevel.NOTHING } }),
  },
];

let topicCount = 0;
const topicName = (what: string) => `cluster-${what}-${++topicCount}-${Date.now().toString(36)}`;


/**
 * A plain `eventsource` EventSource, reconnecting by itself only (with Last-Event-ID, after the
 * server's `retry:`). `closedForGood` counts the times it gave up (readyState CLOSED), which a browser
 * would not recover from without the application's help.
 */
function openReader(url: string) {
  const received: Received[] = [];
  const errorEvents: Array<{ code?: string }> = [];
  const closedForGood: Array<number | undefined> = [];
  let opens = 0;
  const es = new EventSource(url);
  es.addEventListener('open', () => opens++);
  es.addEventListener('message', (e: MessageEvent<string>) => {
    const { n, _kafka } = JSON.parse(e.data) as { n: number; _kafka: { partition: number; offset: number } };
    received.push({ partition: _kafka.partition, offset: _kafka.offset, n });
  });
  es.addEventListener('error', (e: Event & { data?: unknown; code?: number }) => {
    if (typeof e.data === 'string') errorEvents.push(JSON.parse(e.data) as { code?: string });
    if (es.readyState === EventSource.CLOSED) closedForGood.push(e.code);
  });
  return {
    received,
    errorEvents,
    closedForGood,
    opens: () => opens,
    close: () => es.close(),
  };
}


async function partitionEnds(topic: string): Promise<Map<number, number>> {
  const offsets = await (await cluster.admin()).fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

/** Serves every partition of `topic` from offset 0 with these options. */
function serveFromStart(topic: string, partitions: number, options: KafkaSseOptions, ends: string[]) {
  return startServer({ ...options, retryMs: 500, onStreamEnd: (s) => ends.push(s.reason) }, () =>
    Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })),
  );
}

for (const configuration of CONFIGURATIONS) {
  test(`6 partitions led by all three nodes, ${configuration.name}: every record of every partition exactly once, in partition order`, { skip }, async () => {
    const topic = topicName('spread');
    await cluster.createSpreadTopic(topic, 6);
    const leaders = await Promise.all([0, 1, 2, 3, 4, 5].map((p) => cluster.leaderOf(topic, p)));
    assert.deepEqual([...new Set(leaders)].sort(), [1, 2, 3], `partition leaders ${leaders.join(',')} cover every node`);

    const perPartition = 50;
    const producer = cluster.kafka().producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = [];
    for (let n = 0; n < perPartition; n++) {
      for (let partition = 0; partition < 6; partition++) messages.push({ partition, value: JSON.stringify({ n }) });
    }
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();

    const ends: string[] = [];
    const server = await serveFromStart(topic, 6, configuration.options(), ends);
    const reader = openReader(server.url);
    try {
      await eventually(() => reader.received.length >= 6 * perPartition, 20_000, () => `${reader.received.length} of ${6 * perPartition} events`);
      await delay(300); // a duplicate would arrive right behind the last record
      for (let partition = 0; partition < 6; partition++) {
        const got = reader.received.filter((r) => r.partition === partition);
        const expected = Array.from({ length: perPartition }, (_, i) => ({ partition, offset: i, n: i }));
        assert.deepEqual(got, expected, `partition ${partition} (led by node ${leaders[partition]}): offsets and records 0..${perPartition - 1}, once each, in order`);
      }
      assert.equal(reader.received.length, 6 * perPartition, 'nothing more');
      assert.deepEqual(reader.errorEvents, [], 'no SSE error event');
    } finally {
      reader.close();
      await server.close();
    }
  });
}

/** What a disturbance may do: open the client (when the test connects it mid-way), and note what happened. */
interface Disturbance {
  topic: string;
  producer: ReturnType<typeof keepProducing>;
  /** Opens the client now (once; a no-op when it was opened before the disturbance). */
  connect(): void;
  /** Waits until `count` more records have been acked, through whatever is going on. */
  moreAcks(count: number, what: string): Promise<void>;
}

/**
 * Streams every partition of a topic (made by `create`) from offset 0 while an idempotent producer
 * writes; runs `disturb` once records flow (and the client has 30 events, when it connects
 * `before`), then produces a little more, and waits until the client has every partition up to its
 * end. Checks that every offset arrived once, in order, with every acked record; returns the reader for
 * the test's own checks. Every node is running again afterwards.
 */
async function streamThrough(
  t: { diagnostic(message: string): void },
  setup: {
    options: KafkaSseOptions;
    create(topic: string): Promise<void>;
    partitions: number;
    connect: 'before' | 'during';
    disturb(d: Disturbance): Promise<string>;
  },
): Promise<ReturnType<typeof openReader>> {
  const topic = topicName('stream');
  await setup.create(topic);
  const streamEnds: string[] = [];
  const server = await serveFromStart(topic, setup.partitions, setup.options, streamEnds);
  // Idempotent (acks -1, one request in flight): a send retried across a failover is de-duplicated by the broker.
  const producer = keepProducing(
    cluster.kafka({ clientId: 'cluster-producer' }).producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } }),
    topic,
    setup.partitions,
    { sendTimeoutMs: 5000, pauseMs: 5 },
  );
  let reader: ReturnType<typeof openReader> | undefined;
  const moreAcks = async (count: number, what: string) => {
    const from = producer.acked.length;
    await eventually(() => producer.acked.length >= from + count, 45_000, () => `${producer.acked.length - from} of ${count} acks ${what}`);
  };
  try {
    await moreAcks(30, 'before the disturbance');
    if (setup.connect === 'before') {
      reader = openReader(server.url);
      await eventually(() => reader!.received.length >= 30, 20_000, () => `${reader!.received.length} events before the disturbance`);
    }
    const ackedBefore = producer.acked.length;
    const happened = await setup.disturb({
      topic,
      producer,
      connect: () => {
        reader ??= openReader(server.url);
      },
      moreAcks,
    });
    reader ??= openReader(server.url);
    const r = reader;
    await moreAcks(20, 'after the disturbance');
    await producer.stop();

    const ends = await partitionEnds(topic);
    const summary = () =>
      `${r.opens()} opens, SSE error events [${r.errorEvents.map((e) => e.code).join(',')}], ` +
      `gave up [${r.closedForGood.join(',')}], streams ended [${streamEnds.join(',')}]`;
    const offsetsReceived = () =>
      [...ends]
        .map(([p, end]) => `partition ${p}: ${r.received.filter((x) => x.partition === p).length} events, last ${r.received.filter((x) => x.partition === p).at(-1)?.offset} (end ${end})`)
        .join('; ');
    const reachedEnds = () => [...ends].every(([p, end]) => end === 0 || r.received.some((x) => x.partition === p && x.offset === end - 1));
    await eventually(reachedEnds, 45_000, () => `${offsetsReceived()}; ${summary()}`);
    await delay(300); // a duplicate would arrive right behind the last record

    t.diagnostic(`${happened}; ${producer.failedSends()} failed sends, ${producer.acked.length} acked; ${summary()}`);
    assert.ok(ackedBefore > 0 && producer.acked.length > ackedBefore, 'records were acked before and after the disturbance');
    assertExactlyOnce(r.received, ends, producer.acked);
    return r;
  } finally {
    reader?.close();
    await producer.stop().catch(() => {});
    await server.close();
    await cluster.restoreAll();
  }
}

/** A 3-partition topic whose partitions are led by nodes 1, 2, 3, each on all three nodes. */
const spreadTopic = (topic: string) => cluster.createSpreadTopic(topic, 3);

/**
 * Kills (SIGKILL) the node leading a partition of the stream that is (`'controller'`) or is not the
 * active controller, opens the client right after when `connectAfterKill`, produces through the
 * failover, and starts the node again.
 */
function killLeader(victim: 'controller' | 'not controller', connectAfterKill: boolean) {
  return async ({ topic, connect, moreAcks }: Disturbance): Promise<string> => {
    const controller = cluster.activeController();
    assert.ok(controller !== undefined, 'the nodes logged which of them is the active controller');
    const leaders = await Promise.all([0, 1, 2].map((p) => cluster.leaderOf(topic, p)));
    const partition = leaders.findIndex((leader) => (victim === 'controller' ? leader === controller : leader > 0 && leader !== controller));
    assert.ok(partition >= 0, `a partition led by ${victim === 'controller' ? 'the active controller' : 'another node'} (leaders ${leaders.join(',')}, controller ${controller})`);
    const killed = leaders[partition]!;
    const killedAt = Date.now();
    await cluster.kill(killed, 'SIGKILL');
    if (connectAfterKill) connect();
    // Through the failover: the dead node is fenced after its session timeout and another takes over.
    await moreAcks(30, `after killing node ${killed}`);
    const newLeader = await cluster.leaderOf(topic, partition);
    const failoverMs = Date.now() - killedAt;
    await cluster.start(killed);
    return (
      `killed node ${killed} (${victim === 'controller' ? 'the active controller' : `not the controller, node ${controller}`}, leader of partition ${partition}); ` +
      `node ${newLeader} led it ${failoverMs} ms later, controller then ${cluster.activeController()}`
    );
  };
}

for (const configuration of CONFIGURATIONS) {
  test(`partition leader that is also the active controller killed (SIGKILL) under a stream while an idempotent producer writes, ${configuration.name}: every acked record exactly once, in order, no SSE error`, { skip }, async (t) => {
    const reader = await streamThrough(t, {
      options: configuration.options(),
      create: spreadTopic,
      partitions: 3,
      connect: 'before',
      disturb: killLeader('controller', false),
    });
    assert.deepEqual(reader.errorEvents, [], 'no SSE error event: the stream rode through the failover');
    assert.deepEqual(reader.closedForGood, [], 'the EventSource never gave up');
  });
}

for (const configuration of CONFIGURATIONS) {
  test(`a client connecting right after a partition leader (not the controller) was killed (SIGKILL), ${configuration.name}: it ends up streaming every record exactly once, and its EventSource never gives up`, { skip }, async (t) => {
    const reader = await streamThrough(t, {
      options: configuration.options(),
      create: spreadTopic,
      partitions: 3,
      connect: 'during',
      disturb: killLeader('not controller', true),
    });
    assert.deepEqual(reader.closedForGood, [], 'the plain EventSource never reached readyState CLOSED');
    assert.ok(reader.opens() >= 1, 'the stream opened');
    for (const e of reader.errorEvents) assert.match(e.code ?? '', /^KSSE_/, 'SSE error events carry a code');
  });
}

for (const configuration of CONFIGURATIONS) {
  test(`partitions reassigned away from their leaders under a stream while an idempotent producer writes (the old leader drops its replica), ${configuration.name}: every acked record exactly once, in order, no SSE error`, { skip: reassignSkip }, async (t) => {
    const reader = await streamThrough(t, {
      options: configuration.options(),
      // Two replicas each, so that a reassignment can take a partition off a node entirely.
      create: (topic) => cluster.createTopicOn(topic, [[1, 2], [2, 3], [3, 1]]),
      partitions: 3,
      connect: 'before',
      async disturb({ topic, moreAcks }) {
        const before = await Promise.all([0, 1, 2].map((p) => cluster.leaderOf(topic, p)));
        await cluster.reassign(topic, 0, [3, 2]); // node 1 leaves partition 0
        await moreAcks(10, 'after the first reassignment');
        await cluster.reassign(topic, 1, [1, 3]); // node 2 leaves partition 1
        // The reassignment is complete; the leader election that follows may show in metadata a moment later.
        let after = before;
        for (const deadline = Date.now() + 15_000; ; await delay(200)) {
          after = await Promise.all([0, 1, 2].map((p) => cluster.leaderOf(topic, p)));
          if ((after[0] !== 1 && after[1] !== 2) || Date.now() > deadline) break;
        }
        assert.ok(after[0] !== 1 && after[1] !== 2, `leaders moved off the nodes that left (${before.join(',')} → ${after.join(',')})`);
        return `partition 0 [1,2] → [3,2], partition 1 [2,3] → [1,3]: leaders ${before.join(',')} → ${after.join(',')}`;
      },
    });
    assert.deepEqual(reader.errorEvents, [], 'no SSE error event: the stream followed the moved partitions');
    assert.deepEqual(reader.closedForGood, [], 'the EventSource never gave up');
  });
}

/** Waits until every partition of `topic` has all three replicas in sync again (a restarted node caught up). */
async function fullIsr(topic: string): Promise<void> {
  const admin = await cluster.admin();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0]?.partitions ?? [];
    if (partitions.length > 0 && partitions.every((p) => p.isr.length === 3)) return;
    const state = partitions.map((p) => `${p.partitionId}: isr ${p.isr.join(',')}`).join('; ');
    if (Date.now() > deadline) throw new Error(`${topic}: replicas not back in sync after 30 s (${state})`);
    await delay(200);
  }
}

test('rolling restart (each node stopped with SIGTERM and started again in turn) under a stream while an idempotent producer writes, shared kafka instance: every acked record exactly once, in order, no SSE error', { skip }, async (t) => {
  const reader = await streamThrough(t, {
    options: CONFIGURATIONS[0]!.options(),
    create: spreadTopic,
    partitions: 3,
    connect: 'before',
    async disturb({ topic, moreAcks }) {
      const moves: string[] = [];
      for (const node of cluster.nodeIds) {
        const before = await Promise.all([0, 1, 2].map((p) => cluster.leaderOf(topic, p)));
        // A controlled shutdown: the node hands its leaderships over before it exits.
        await cluster.kill(node, 'SIGTERM');
        await moreAcks(20, `with node ${node} down`);
        const during = await Promise.all([0, 1, 2].map((p) => cluster.leaderOf(topic, p)));
        moves.push(`node ${node} down: leaders ${before.join(',')} → ${during.join(',')}`);
        assert.ok(!during.includes(node), `node ${node} leads nothing while it is down`);
        await cluster.start(node);
        await fullIsr(topic); // as an operator would, before the next node
      }
      return moves.join('; ');
    },
  });
  assert.deepEqual(reader.errorEvents, [], 'no SSE error event: the stream rode through every leader move');
  assert.deepEqual(reader.closedForGood, [], 'the EventSource never gave up');
});
