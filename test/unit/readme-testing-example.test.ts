import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consume, deserialize, parseAssignments, resolveStart } from '../../src/index.js';
import type { DeserializedRecord, RecordBatch } from '../../src/index.js';
import { MemorySource, collect, fromBatches, record } from '../../src/testing.js';

// The stage under test: drops unpaid orders, keeps every batch's progress.
async function* onlyPaid(source: AsyncIterable<RecordBatch<DeserializedRecord>>) {
  for await (const batch of source) {
    yield { ...batch, records: batch.records.filter((r) => (r.message as { paid?: boolean }).paid) };
  }
}

test('onlyPaid drops unpaid orders, and they still count as read', async () => {
  const batches = await collect(
    onlyPaid(deserialize()(fromBatches([[record({ offset: 0, value: { paid: true } }), record({ offset: 1, value: { paid: false } })]]))),
  );
  assert.deepEqual(batches[0]?.records.map((r) => r.offset), [0]);
  assert.deepEqual(batches[0]?.progress, [{ topic: 'test', partition: 0, nextOffset: 2, lastTimestamp: 0 }]);
});

test('onlyPaid behind consume, reading a MemorySource as it would read Kafka', async () => {
  const source = new MemorySource();
  source.append({ topic: 'orders', value: { id: 1, paid: true } }, { topic: 'orders', value: { id: 2, paid: false } });
  const positions = await resolveStart(source, parseAssignments([{ topic: 'orders', partition: 0, offset: 0 }]));
  // consume waits for new records once it has caught up: tell collect when to stop.
  const [batch] = await collect(onlyPaid(deserialize()(consume(source, positions))), { until: 1 });
  assert.deepEqual(batch?.records.map((r) => (r.message as { id: number }).id), [1]);
});
