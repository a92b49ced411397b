import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consume, type RecordSource } from '../../src/stages/consume.js';
import { MemorySource } from '../../src/testing.js';
import type { KafkaRecord, Position, RecordBatch } from '../../src/types.js';
import { isSettled, settle, within } from './support.js';

/**
 * A MemorySource that also remembers every fetch call's positions and `wait` flag, and fails fast if
 * consume spins (fetching without waiting, over and over) instead of hanging the test.
 */
class RecordingSource extends MemorySource {
  calls: Array<{ positions: Position[]; wait: boolean }> = [];
  override fetch(positions: Position[], options: { wait: boolean; signal: AbortSignal }) {
    this.calls.push({ positions: positions.map((p) => ({ ...p })), wait: options.wait });
    if (this.calls.length > 100) return Promise.reject(new Error('consume is spinning: more than 100 fetches'));
    return super.fetch(positions, options);
  }
}

const at = (topic: string, partition: number, offset: number): Position => ({ topic, partition, offset });

function fill(source: MemorySource, topic: string, partition: number, count: number, timestamp = (i: number) => 1000 + i) {
  for (let i = 0; i < count; i++) source.append({ topic, partition, value: { i }, timestamp: timestamp(i) });
}

async function next(iterator: AsyncIterator<RecordBatch<KafkaRecord>>): Promise<RecordBatch<KafkaRecord>> {
  const result = await within(iterator.next(), 2000, 'consume.next()');
  assert.equal(result.done, false, 'consume ended unexpectedly');
  return result.value as RecordBatch<KafkaRecord>;
}

describe('consume', () => {
  it('reads every partition from its start position', async () => {
    const source = new RecordingSource();
    fill(source, 't', 0, 5);
    fill(source, 't', 1, 3);
    const iterator = consume(source, [at('t', 0, 2), at('t', 1, 0)]);
    const batch = await next(iterator);
    assert.deepEqual(
      batch.records.map((r) => `${r.partition}:${r.offset}`),
      ['0:2', '0:3', '0:4', '1:0', '1:1', '1:2'],
    );
    assert.deepEqual(batch.progress, [
      { topic: 't', partition: 0, nextOffset: 5, lastTimestamp: 1004 },
      { topic: 't', partition: 1, nextOffset: 3, lastTimestamp: 1002 },
    ]);
    await iterator.return(undefined);
  });

  it('carries the records as the source stored them (key, value, headers, timestamp)', async () => {
    const source = new RecordingSource();
    const [stored] = source.append({ topic: 't', partition: 0, value: { a: 1 }, key: 'k', timestamp: 42, headers: { h: 'v' } });
    const iterator = consume(source, [at('t', 0, 0)]);
    const batch = await next(iterator);
    assert.deepEqual(batch.records, [stored]);
    await iterator.return(undefined);
  });

  it('moves each partition forward by the progress of the previous fetch', async () => {
    const source = new RecordingSource(2);
    fill(source, 't', 0, 5);
    const iterator = consume(source, [at('t', 0, 0)]);
    const offsets: number[][] = [];
    const nextOffsets: number[] = [];
    for (let i = 0; i < 3; i++) {
      const batch = await next(iterator);
      offsets.push(batch.records.map((r) => r.offset));
      nextOffsets.push(batch.progress[0]!.nextOffset);
    }
    assert.deepEqual(offsets, [[0, 1], [2, 3], [4]]);
    assert.deepEqual(nextOffsets, [2, 4, 5]);
    assert.deepEqual(source.calls.map((c) => c.positions[0]!.offset), [0, 2, 4]);
    await iterator.return(undefined);
  });

  it('reports progress only for partitions that returned records', async () => {
    const source = new RecordingSource();
    fill(source, 't', 1, 1);
    const iterator = consume(source, [at('t', 0, 0), at('t', 1, 0)]);
    const batch = await next(iterator);
    assert.deepEqual(batch.progress.map((p) => p.partition), [1]);
    await iterator.return(undefined);
  });

  it('does not change the start positions it was given', async () => {
    const source = new RecordingSource();
    fill(source, 't', 0, 3);
    const start = [at('t', 0, 0)];
    const iterator = consume(source, start);
    await next(iterator);
    assert.deepEqual(start, [at('t', 0, 0)]);
    await iterator.return(undefined);
  });

  describe('when caught up', () => {
    it('yields one empty batch, then waits for new records with wait: true', async () => {
      const source = new RecordingSource();
      fill(source, 't', 0, 2);
      const iterator = consume(source, [at('t', 0, 0)]);
      assert.equal((await next(iterator)).records.length, 2);
      assert.deepEqual(await next(iterator), { records: [], progress: [] });
      assert.deepEqual(source.calls.map((c) => c.wait), [false, false]);

      const pending = iterator.next();
      assert.equal(await isSettled(pending), false, 'a caught-up consume must wait, not yield another empty batch');
      assert.deepEqual(source.calls.map((c) => c.wait), [false, false, true]);

      source.append({ topic: 't', partition: 0, value: { late: true } });
      const woken = await within(pending, 2000, 'wake-up on append');
      assert.equal(woken.done, false);
      assert.deepEqual((woken.value as RecordBatch<KafkaRecord>).records.map((r) => r.offset), [2]);
      await iterator.return(undefined);
    });

    it('yields an empty batch straight away when there is nothing to read from the start', async () => {
      const source = new RecordingSource();
      const iterator = consume(source, [at('t', 0, 0)]);
      assert.deepEqual(await next(iterator), { records: [], progress: [] });
      assert.equal(source.calls[0]!.wait, false);
      await iterator.return(undefined);
    });

    it('yields no further empty batch when a waiting fetch comes back empty (a long poll that timed out)', async () => {
      // The Kafka client answers a waiting fetch with nothing once the broker's max wait elapses.
      const calls: boolean[] = [];
      const record = new MemorySource().append({ topic: 't', partition: 0, value: 1 })[0]!;
      const longPolling: RecordSource = {
        async fetch(_positions, { wait }) {
          calls.push(wait);
          if (calls.length < 5) return [];
          return [{ topic: 't', partition: 0, records: [record], nextOffset: 1 }];
        },
      };
      const iterator = consume(longPolling, [at('t', 0, 0)]);
      assert.deepEqual(await next(iterator), { records: [], progress: [] });
      assert.deepEqual((await next(iterator)).records, [record]);
      assert.deepEqual(calls, [false, true, true, true, true]);
      await iterator.return(undefined);
    });

    it('yields another empty batch each time it catches up again', async () => {
      const source = new RecordingSource();
      const iterator = consume(source, [at('t', 0, 0)]);
      assert.deepEqual((await next(iterator)).records, []);
      const pending = iterator.next();
      await settle();
      source.append({ topic: 't', partition: 0, value: 1 });
      assert.equal(((await within(pending)).value as RecordBatch<KafkaRecord>).records.length, 1);
      assert.deepEqual(await next(iterator), { records: [], progress: [] });
      assert.deepEqual(source.calls.map((c) => c.wait), [false, true, false]);
      await iterator.return(undefined);
    });
  });

  describe('ending', () => {
    it('ends promptly when aborted while waiting for records', async () => {
      const source = new RecordingSource();
      const controller = new AbortController();
      const iterator = consume(source, [at('t', 0, 0)], { signal: controller.signal });
      await next(iterator); // the "caught up" batch
      const pending = iterator.next();
      assert.equal(await isSettled(pending), false);
      controller.abort();
      assert.deepEqual(await within(pending, 1000, 'end after abort'), { done: true, value: undefined });
    });

    it('ends without fetching when the signal is already aborted', async () => {
      const source = new RecordingSource();
      fill(source, 't', 0, 3);
      const iterator = consume(source, [at('t', 0, 0)], { signal: AbortSignal.abort() });
      assert.deepEqual(await iterator.next(), { done: true, value: undefined });
      assert.equal(source.fetches, 0);
    });

    it('stops after the current batch when aborted between pulls', async () => {
      const source = new RecordingSource(1);
      fill(source, 't', 0, 3);
      const controller = new AbortController();
      const iterator = consume(source, [at('t', 0, 0)], { signal: controller.signal });
      await next(iterator);
      controller.abort();
      assert.deepEqual(await iterator.next(), { done: true, value: undefined });
      assert.equal(source.fetches, 1);
    });

    it('ends when the consumer returns (for await … break)', async () => {
      const source = new RecordingSource();
      fill(source, 't', 0, 3);
      for await (const batch of consume(source, [at('t', 0, 0)])) {
        assert.equal(batch.records.length, 3);
        break;
      }
      assert.equal(source.fetches, 1);
    });

    it('propagates a fetch error when not aborted', async () => {
      const failure = new Error('broker gone');
      const failing: RecordSource = { fetch: () => Promise.reject(failure) };
      await assert.rejects(consume(failing, [at('t', 0, 0)]).next(), (err) => err === failure);
    });

    it('swallows the fetch error caused by its own abort', async () => {
      const controller = new AbortController();
      const failing: RecordSource = {
        fetch: () => {
          controller.abort();
          return Promise.reject(new Error('aborted'));
        },
      };
      assert.deepEqual(await consume(failing, [at('t', 0, 0)], { signal: controller.signal }).next(), { done: true, value: undefined });
    });
  });

  describe('instrumentation', () => {
    it('calls onEvent with consumer.fetch_start and consumer.fetch around every fetch', async () => {
      const source = new RecordingSource();
      fill(source, 't', 0, 3);
      fill(source, 't', 1, 1);
      const events: Array<[string, Record<string, unknown>]> = [];
      const iterator = consume(source, [at('t', 0, 0), at('t', 1, 0)], { onEvent: (type, payload) => events.push([type, payload]) });
      await next(iterator);
      await next(iterator);
      const types = events.map(([type]) => type);
      assert.deepEqual(types.slice(0, 3), ['consumer.fetch_start', 'consumer.fetch', 'consumer.start_batch_process']);
      const fetches = events.filter(([type]) => type === 'consumer.fetch').map(([, payload]) => payload);
      assert.equal(fetches.length, 2);
      assert.equal(fetches[0]!.numberOfBatches, 2);
      assert.equal(fetches[1]!.numberOfBatches, 0);
      for (const payload of fetches) assert.ok(typeof payload.duration === 'number' && payload.duration >= 0);
      assert.deepEqual(events.find(([type]) => type === 'consumer.start_batch_process')![1], { batchSize: 4 });
      assert.deepEqual(events.find(([type]) => type === 'consumer.end_batch_process')![1], { batchSize: 4 });
      assert.equal(types.filter((t) => t === 'consumer.fetch_start').length, 2);
      await iterator.return(undefined);
    });
  });

  describe('backpressure', () => {
    it('does not fetch while the consumer does not pull', async () => {
      const source = new RecordingSource(1);
      fill(source, 't', 0, 100);
      const iterator = consume(source, [at('t', 0, 0)]);
      await next(iterator);
      assert.equal(source.fetches, 1);
      await settle(20);
      assert.equal(source.fetches, 1, 'consume fetched ahead of its consumer');
      await next(iterator);
      await settle(20);
      assert.equal(source.fetches, 2);
      await iterator.return(undefined);
    });

    it('with readAhead, fetches one batch ahead while catching up, never more', async () => {
      const source = new RecordingSource(1);
      fill(source, 't', 0, 100);
      const iterator = consume(source, [at('t', 0, 0)], { readAhead: true });
      const first = await next(iterator);
      assert.equal(first.records.length, 1);
      await settle(20);
      assert.equal(source.fetches, 2, 'the next fetch starts as the batch is handed on');
      assert.deepEqual(source.calls[1], { positions: [at('t', 0, 1)], wait: false }, 'from the positions after the batch');
      await settle(20);
      assert.equal(source.fetches, 2, 'only one fetch ahead of a consumer that does not pull');
      const second = await next(iterator);
      assert.equal(second.records[0]!.offset, 1, 'the batch read ahead is the one handed on next');
      await settle(20);
      assert.equal(source.fetches, 3);
      await iterator.return(undefined);
    });

    it('with readAhead, does not read ahead once caught up (the long-poll starts only when pulled)', async () => {
      const source = new RecordingSource(10);
      fill(source, 't', 0, 3);
      const iterator = consume(source, [at('t', 0, 0)], { readAhead: true });
      assert.equal((await next(iterator)).records.length, 3);
      assert.equal((await next(iterator)).records.length, 0, 'caught up');
      await settle(20);
      assert.equal(source.calls.filter((c) => c.wait).length, 0, 'no long-poll before the consumer pulls');
      await iterator.return(undefined);
    });

    it('with readAhead, an error of the fetch read ahead surfaces when that batch is pulled, not before', async () => {
      const source = new RecordingSource(1);
      fill(source, 't', 0, 5);
      let fail = false;
      const failing: RecordSource = {
        fetch: (positions, options) => (fail ? Promise.reject(new Error('broker gone')) : source.fetch(positions, options)),
      };
      const iterator = consume(failing, [at('t', 0, 0)], { readAhead: true });
      await next(iterator);
      fail = true;
      assert.equal((await next(iterator)).records.length, 1, 'the fetch read ahead had already succeeded');
      await settle(20); // the failing fetch is now ahead; nothing is thrown while nobody pulls
      await assert.rejects(iterator.next(), /broker gone/);
    });

    it('does not fetch before the first pull', async () => {
      const source = new RecordingSource();
      fill(source, 't', 0, 1);
      const iterator = consume(source, [at('t', 0, 0)]);
      await settle(20);
      assert.equal(source.fetches, 0);
      await iterator.return(undefined);
    });
  });
});
