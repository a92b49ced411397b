import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filter } from '../../src/stages/filter.js';
import { collect, fromBatches } from '../../src/testing.js';
import type { DeserializedRecord, RecordBatch } from '../../src/types.js';
import { countingSource, deserializedRecord } from './support.js';

const records = (...offsets: number[]) => offsets.map((offset) => deserializedRecord({ offset, message: { n: offset } }));

describe('filter', () => {
  it('keeps the records the filterer accepts, in order', async () => {
    const out = await collect(filter((r) => (r.message as { n: number }).n % 2 === 0)(fromBatches([records(0, 1, 2, 3, 4)])));
    assert.deepEqual(out[0]!.records.map((r) => r.offset), [0, 2, 4]);
  });

  it('keeps the batch progress when it drops records, so dropped records still count as read', async () => {
    const progress = [{ topic: 't', partition: 0, nextOffset: 10, lastTimestamp: 5 }];
    async function* source(): AsyncGenerator<RecordBatch<DeserializedRecord>> {
      yield { records: records(7, 8, 9), progress };
    }
    const out = await collect(filter(() => false)(source()));
    assert.deepEqual(out, [{ records: [], progress }]);
  });

  it('yields one batch per input batch, including empty ones', async () => {
    const out = await collect(filter(() => true)(fromBatches([records(0), [], records(1, 2)])));
    assert.deepEqual(out.map((b) => b.records.length), [1, 0, 2]);
  });

  it('calls the filterer once per record with the deserialized record', async () => {
    const seen: DeserializedRecord[] = [];
    const input = records(0, 1);
    await collect(filter((r) => (seen.push(r), true))(fromBatches([input])));
    assert.deepEqual(seen, input);
  });

  it('propagates an error the filterer throws', async () => {
    const boom = new Error('filter exploded');
    await assert.rejects(collect(filter(() => { throw boom; })(fromBatches([records(0)]))), (err) => err === boom);
  });

  it('closes the upstream source when the filterer throws', async () => {
    const source = countingSource<RecordBatch<DeserializedRecord>>([{ records: records(0), progress: [] }, { records: records(1), progress: [] }]);
    await assert.rejects(collect(filter(() => { throw new Error('no'); })(source)));
    assert.equal(source.pulls, 1);
    assert.equal(source.finished, true);
  });
});
