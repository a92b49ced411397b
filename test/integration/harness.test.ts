// Proves the harness: a real broker answers, topics are made and removed, records go round trip,
// and offsets can be looked up by timestamp.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTopic, fixtureKafka, produce, recordsPerPartition } from '../helpers/kafka.js';

test('a 3-partition topic takes 1,000 JSON records and gives them all back, and offsets resolve by timestamp', async () => {
  const topic = await createTopic(3);
  const base = Date.now() - 60_000;
  // Explicit timestamps: the first 500 records one minute ago, the rest 30 seconds later.
  const records = recordsPerPartition(1, 1000).map((r, i) => ({
    ...r,
    partition: i % 3,
    value: { i },
    timestamp: i < 500 ? base + i : base + 30_000 + i,
  }));
  await produce(topic, records);

  const { kafka, admin: adminP } = fixtureKafka();
  const admin = await adminP;
  const offsets = await admin.fetchTopicOffsets(topic);
  const total = offsets.reduce((sum, p) => sum + Number(p.high), 0);
  assert.equal(total, 1000);

  // Read everything back with a plain kafkajs consumer.
  const consumer = kafka.consumer({ groupId: `${topic}-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set<number>();
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.add((JSON.parse(message.value!.toString()) as { i: number }).i);
          if (seen.size === 1000) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  await admin.deleteGroups([`${topic}-reader`]).catch(() => {});
  assert.equal(seen.size, 1000);

  // Offsets for times: the first record at or after base+30s is record 500 → offset 500/3 rounded per partition.
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, base + 30_000);
  const expected = [0, 1, 2].map((p) => ({ partition: p, offset: String(Math.ceil((500 - p) / 3)) }));
  assert.deepEqual(
    byTime.map(({ partition, offset }) => ({ partition, offset })).sort((a, b) => a.partition - b.partition),
    expected,
  );
  // A timestamp after the last record resolves to the end of each partition.
  const future = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() + 3_600_000);
  assert.deepEqual(
    future.map((p) => p.offset).sort(),
    offsets.map((p) => p.high).sort(),
  );
});
