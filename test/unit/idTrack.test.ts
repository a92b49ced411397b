import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLastEventId } from '../../src/position.js';
import { idTrack } from '../../src/stages/idTrack.js';
import { collect } from '../../src/testing.js';
import type { DeserializedRecord, PartitionProgress, Position, RecordBatch, TrackedBatch } from '../../src/types.js';
import { countingSource, deserializedRecord } from './support.js';

type Batch = RecordBatch<DeserializedRecord>;

async function* batches(...list: Batch[]): AsyncGenerator<Batch> {
  yield* list;
}

const rec = (topic: string, partition: number, offset: number, timestamp = 1000 + offset) =>
  deserializedRecord({ topic, partition, offset, timestamp, message: { offset } });
const progress = (topic: string, partition: number, nextOffset: number, lastTimestamp?: number): PartitionProgress =>
  lastTimestamp === undefined ? { topic, partition, nextOffset } : { topic, partition, nextOffset, lastTimestamp };

/** An id as the positions it names. */
const positionsOf = (id: string) => JSON.parse(id) as Array<Record<string, unknown>>;

const assigned: Position[] = [
  { topic: 'b', partition: 1, offset: 5 },
  { topic: 'a', partition: 0, offset: 0 },
  { topic: 'b', partition: 0, offset: 7 },
];

describe('idTrack', () => {
  it('first yields the initial position, idle, before reading anything', async () => {
    const source = countingSource<Batch>([]);
    const it1 = idTrack(assigned)(source)[Symbol.asyncIterator]();
    const first = await it1.next();
    assert.deepEqual(first.value, {
      records: [],
      id: '[{"topic":"b","partition":1,"offset":5},{"topic":"a","partition":0,"offset":0},{"topic":"b","partition":0,"offset":7}]',
      idle: true,
    });
    assert.equal(source.pulls, 0, 'the initial position is known without reading');
    await it1.return?.(undefined);
  });

  it('gives every record an id covering every assigned partition, in assignment order', async () => {
    const [, batch] = await collect(idTrack(assigned)(batches({ records: [rec('a', 0, 0)], progress: [progress('a', 0, 1)] })));
    assert.deepEqual(positionsOf(batch!.records[0]!.id), [
      { topic: 'b', partition: 1, offset: 5 },
      { topic: 'a', partition: 0, offset: 1 },
      { topic: 'b', partition: 0, offset: 7 },
    ]);
  });

  it('names the next offset to read: last delivered + 1, record by record', async () => {
    const records = [rec('b', 1, 5), rec('a', 0, 0), rec('b', 1, 6), rec('b', 0, 7)];
    const [, batch] = await collect(idTrack(assigned)(batches({ records, progress: [progress('b', 1, 7), progress('a', 0, 1), progress('b', 0, 8)] })));
    const offsets = batch!.records.map((r) => positionsOf(r.id).map((p) => p.offset));
    assert.deepEqual(offsets, [
      [6, 0, 7],
      [6, 1, 7],
      [7, 1, 7],
      [7, 1, 8],
    ]);
    assert.deepEqual(batch!.records.map((r) => r.record), records);
    assert.deepEqual(positionsOf(batch!.id).map((p) => p.offset), [7, 1, 8]);
    assert.equal(batch!.idle, false);
  });

  it('carries positions over from batch to batch', async () => {
    const out = await collect(
      idTrack(assigned)(
        batches(
          { records: [rec('a', 0, 0)], progress: [progress('a', 0, 1)] },
          { records: [rec('b', 0, 7)], progress: [progress('b', 0, 8)] },
        ),
      ),
    );
    assert.deepEqual(positionsOf(out[2]!.id).map((p) => p.offset), [5, 1, 8]);
  });

  it('moves the batch id past records dropped upstream (progress beyond the last record)', async () => {
    // Records 1..9 of a/0 were skipped or filtered; only offset 0 reached idTrack.
    const [, batch] = await collect(idTrack(assigned)(batches({ records: [rec('a', 0, 0)], progress: [progress('a', 0, 10)] })));
    assert.equal(positionsOf(batch!.records[0]!.id)[1]!.offset, 1);
    assert.equal(positionsOf(batch!.id)[1]!.offset, 10);
  });

  it('moves the id on a progress-only batch (every record dropped), without being idle', async () => {
    const [, batch] = await collect(idTrack(assigned)(batches({ records: [], progress: [progress('b', 0, 100)] })));
    assert.deepEqual(batch!.records, []);
    assert.deepEqual(positionsOf(batch!.id).map((p) => p.offset), [5, 0, 100]);
    assert.equal(batch!.idle, false);
  });

  it('marks an empty batch (caught up) idle, keeping the id', async () => {
    const out = await collect(
      idTrack(assigned)(batches({ records: [rec('a', 0, 0)], progress: [progress('a', 0, 1)] }, { records: [], progress: [] })),
    );
    assert.equal(out[2]!.idle, true);
    assert.equal(out[2]!.id, out[1]!.id);
  });

  it('ignores records and progress of partitions it was not assigned', async () => {
    const [, batch] = await collect(
      idTrack(assigned)(batches({ records: [rec('zzz', 0, 3), rec('a', 9, 3)], progress: [progress('zzz', 0, 4), progress('a', 9, 4)] })),
    );
    assert.deepEqual(batch!.records, []);
    assert.deepEqual(positionsOf(batch!.id).map((p) => p.offset), [5, 0, 7]);
  });

  it('writes ids that parse back, as a Last-Event-ID, to the positions to resume from', async () => {
    const out = await collect(
      idTrack(assigned)(batches({ records: [rec('a', 0, 0), rec('b', 1, 5)], progress: [progress('a', 0, 3), progress('b', 1, 6)] })),
    );
    assert.deepEqual(parseLastEventId(out[1]!.records[0]!.id).partitions, [
      { topic: 'b', partition: 1, offset: 5 },
      { topic: 'a', partition: 0, offset: 1 },
      { topic: 'b', partition: 0, offset: 7 },
    ]);
    assert.deepEqual(parseLastEventId(out[1]!.id).partitions, [
      { topic: 'b', partition: 1, offset: 6 },
      { topic: 'a', partition: 0, offset: 3 },
      { topic: 'b', partition: 0, offset: 7 },
    ]);
  });

  it('does not change the positions it was given', async () => {
    const mine = assigned.map((p) => ({ ...p }));
    await collect(idTrack(mine)(batches({ records: [rec('a', 0, 0)], progress: [progress('a', 0, 1)] })));
    assert.deepEqual(mine, assigned);
  });

  describe('with useTimestampForId', () => {
    const options = { useTimestampForId: true, startTimestamp: 500 };

    it('starts every partition at startTimestamp', async () => {
      const [first] = await collect(idTrack(assigned, options)(batches()));
      assert.deepEqual(positionsOf(first!.id), [
        { topic: 'b', partition: 1, timestamp: 500 },
        { topic: 'a', partition: 0, timestamp: 500 },
        { topic: 'b', partition: 0, timestamp: 500 },
      ]);
    });

    it('starts at the current time when no startTimestamp is given', async () => {
      const before = Date.now();
      const [first] = await collect(idTrack(assigned, { useTimestampForId: true })(batches()));
      const after = Date.now();
      for (const p of positionsOf(first!.id)) {
        assert.ok((p.timestamp as number) >= before && (p.timestamp as number) <= after);
        assert.equal('offset' in p, false);
      }
    });

    it('puts the last delivered timestamp + 1 in place of the offset', async () => {
      const [, batch] = await collect(
        idTrack(assigned, options)(batches({ records: [rec('a', 0, 0, 2000), rec('b', 0, 7, 3000)], progress: [progress('a', 0, 1, 2000), progress('b', 0, 8, 3000)] })),
      );
      assert.deepEqual(positionsOf(batch!.records[0]!.id).map((p) => p.timestamp), [500, 2001, 500]);
      assert.deepEqual(positionsOf(batch!.records[1]!.id).map((p) => p.timestamp), [500, 2001, 3001]);
      assert.deepEqual(positionsOf(batch!.id).map((p) => p.timestamp), [500, 2001, 3001]);
    });

    it('moves past dropped records by their last timestamp', async () => {
      const [, batch] = await collect(idTrack(assigned, options)(batches({ records: [], progress: [progress('a', 0, 50, 9000)] })));
      assert.deepEqual(positionsOf(batch!.id).map((p) => p.timestamp), [500, 9001, 500]);
    });

    it('keeps the timestamp when progress carries none', async () => {
      const [, batch] = await collect(idTrack(assigned, options)(batches({ records: [], progress: [progress('a', 0, 50)] })));
      assert.deepEqual(positionsOf(batch!.id).map((p) => p.timestamp), [500, 500, 500]);
    });

    it('writes ids that parse back as timestamp positions', async () => {
      const [, batch] = await collect(idTrack(assigned, options)(batches({ records: [rec('a', 0, 0, 2000)], progress: [] })));
      assert.deepEqual(parseLastEventId(batch!.id).partitions, [
        { topic: 'b', partition: 1, timestamp: 500 },
        { topic: 'a', partition: 0, timestamp: 2001 },
        { topic: 'b', partition: 0, timestamp: 500 },
      ]);
    });
  });

  it('pulls upstream only when asked for the next batch', async () => {
    const source = countingSource<Batch>([
      { records: [rec('a', 0, 0)], progress: [] },
      { records: [rec('a', 0, 1)], progress: [] },
    ]);
    const iterator = idTrack(assigned)(source)[Symbol.asyncIterator]();
    await iterator.next();
    const second = (await iterator.next()).value as TrackedBatch;
    assert.equal(second.records[0]!.record.offset, 0);
    assert.equal(source.pulls, 1);
    await iterator.return?.(undefined);
    assert.equal(source.finished, true);
  });
});
