// The promise of the project: a client cut off three times, reconnecting by itself with Last-Event-ID,
// ends with every record exactly once, in partition order. Real broker, real `eventsource` client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeserializedRecord, RecordBatch } from '../../src/index.js';
import { createTopic, produce, recordsPerPartition } from '../helpers/kafka.js';
import { collectEvents, kafkaCoordinates, sharedKafka, startServer } from '../helpers/sse.js';

/**
 * Slows the server down so that cuts land mid-stream: re-slices each batch into small ones, a few ms
 * apart. Only the last slice carries the batch's progress, so ids never run ahead of what was sent.
 */
async function* slowly(source: AsyncIterable<RecordBatch<DeserializedRecord>>): AsyncGenerator<RecordBatch<DeserializedRecord>> {
  for await (const batch of source) {
    for (let i = 0; i < batch.records.length; i += 20) {
      await new Promise((r) => setTimeout(r, 2));
      const last = i + 20 >= batch.records.length;
      yield { records: batch.records.slice(i, i + 20), progress: last ? batch.progress : [] };
    }
    if (batch.records.length === 0) yield batch;
  }
}

test('three server-side cuts: every record of 3 partitions x 1,000 arrives exactly once, in order', async () => {
  const topic = await createTopic(3);
  await produce(topic, recordsPerPartition(3, 1000));
  const server = await startServer({ kafka: sharedKafka(), retryMs: 20, transform: slowly });
  // Cut at arbitrary points, chosen per run so no batch boundary is special.
  const cutAt = new Set([0, 1, 2].map((i) => 300 + i * 800 + Math.floor(Math.random() * 300)));
  const { events, opens } = await collectEvents(`${server.url}/x`, {
    lastEventId: JSON.stringify([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 }))),
    onEvent: (_e, all) => {
      if (cutAt.has(all.length)) server.cutAll();
    },
    until: (all) => all.length >= 3000,
    timeoutMs: 60_000,
  });
  assert.equal(opens, 4, 'the client should have connected once and reconnected three times');
  // Every reconnection carried the id of the last event the client received.
  const resumedWith = server.lastEventIds.slice(1);
  assert.equal(resumedWith.length, 3);
  for (const header of resumedWith) assert.ok(header && JSON.parse(header).length === 3, `bad Last-Event-ID ${header}`);

  const coordinates = kafkaCoordinates(events);
  assert.equal(coordinates.length, 3000);
  for (const p of [0, 1, 2]) {
    const offsets = coordinates.filter(([pp]) => pp === p).map(([, o]) => o);
    assert.deepEqual(offsets, Array.from({ length: 1000 }, (_, i) => i), `partition ${p} out of order, missing or duplicated`);
  }
});
