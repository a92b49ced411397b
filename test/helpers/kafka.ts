// Test fixtures on the real broker: uniquely named topics per test, produced records, clean-up afterwards.
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { Kafka, logLevel, type Admin, type Message, type Producer } from 'kafkajs';

/** The cluster the test run uses (set by scripts/test.ts; falls back to KAFKA_BROKERS, then the local harness). */
export function testBrokers(): string[] {
  const list = process.env.KAFKA_SSE_TEST_BROKERS ?? process.env.KAFKA_BROKERS ?? 'localhost:9092';
  return list.split(',').map((s) => s.trim()).filter(Boolean);
}

let shared: { kafka: Kafka; admin: Promise<Admin>; producer: Promise<Producer>; topics: string[] } | undefined;

/** One kafkajs client per test file for fixtures; disconnected when the file's tests end. */
export function fixtureKafka() {
  if (!shared) {
    const kafka = new Kafka({ clientId: 'kafka-sse-tests', brokers: testBrokers(), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    // Idempotent: a send that a busy broker answers late is retried by kafkajs, and without idempotence
    // the retry could write the records twice (it did once: a partition with 8 records instead of 4).
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    shared = {
      kafka,
      admin: admin.connect().then(() => admin),
      producer: producer.connect().then(() => producer),
      topics: [],
    };
    const current = shared;
    // One hook deletes the file's topics and then disconnects: hooks run in registration order, so
    // per-topic hooks registered later would find the admin already gone.
    after(async () => {
      if (current.topics.length > 0) await (await current.admin).deleteTopics({ topics: current.topics }).catch(() => {});
      await (await current.producer).disconnect().catch(() => {});
      await (await current.admin).disconnect().catch(() => {});
      if (shared === current) shared = undefined;
    });
  }
  return shared;
}

/**
 * Creates topics and waits until every partition has a leader in the broker's metadata. kafkajs's own
 * `waitForLeaders` retries only LEADER_NOT_AVAILABLE, and a KRaft broker under load may first answer
 * UNKNOWN_TOPIC_OR_PARTITION for a topic it has just created, which failed a test now and then.
 */
export async function createTopicsReady(admin: Admin, topics: Array<{ topic: string; numPartitions: number }>, timeoutMs = 20_000): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ready = await admin
      .fetchTopicMetadata({ topics: topics.map((t) => t.topic) })
      .then(({ topics: found }) =>
        topics.every((t) => {
          const meta = found.find((f) => f.name === t.topic);
          return meta !== undefined && meta.partitions.length === t.numPartitions && meta.partitions.every((p) => p.leader >= 0);
        }),
      )
      .catch(() => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`topics ${topics.map((t) => t.topic).join(', ')} have no leaders after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Creates a topic with a unique name (deleted when the test file ends) and returns its name. */
export async function createTopic(partitions = 1, prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 8)}-${Date.now().toString(36)}`;
  const fixture = fixtureKafka();
  const admin = await fixture.admin;
  await createTopicsReady(admin, [{ topic: name, numPartitions: partitions }]);
  fixture.topics.push(name);
  return name;
}

export interface FixtureRecord {
  partition: number;
  value: unknown;
  key?: string | null;
  timestamp?: number;
  headers?: Record<string, string>;
}

/** Produces records (values JSON-encoded unless already a Buffer or null), in batches, and waits for the acks. */
export async function produce(topic: string, records: FixtureRecord[]): Promise<void> {
  const producer = await fixtureKafka().producer;
  const toMessage = (r: FixtureRecord): Message => ({
    partition: r.partition,
    key: r.key ?? null,
    value: r.value === null ? null : Buffer.isBuffer(r.value) ? r.value : JSON.stringify(r.value),
    ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
    ...(r.headers ? { headers: r.headers } : {}),
  });
  for (let i = 0; i < records.length; i += 5000) {
    await producer.send({ topic, acks: -1, messages: records.slice(i, i + 5000).map(toMessage) });
  }
}

/** `count` JSON records per partition, `{ p, n }` each, for partitions 0..partitions-1. */
export function recordsPerPartition(partitions: number, count: number, extra: (p: number, n: number) => object = () => ({})) {
  const out: FixtureRecord[] = [];
  for (let n = 0; n < count; n++) {
    for (let p = 0; p < partitions; p++) out.push({ partition: p, value: { p, n, ...extra(p, n) } });
  }
  return out;
}
