// kafka-eventsource/testing: the record builder, MemorySource beyond the Source contract, fromBatches' progress
// and a collect that ends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consume } from '../../src/stages/consume.js';
import { deserialize } from '../../src/stages/deserialize.js';
import { MemorySource, collect, fromBatches, record } from '../../src/testing.js';
import type { RecordBatch } from '../../src/types.js';

describe('record', () => {
  it('builds a KafkaRecord with defaults for all but the value, JSON-encoding the value', () => {
    assert.deepEqual(record({ value: { id: 1 } }), {
      topic: 'test',
      partition: 0,
      offset: 0,
      timestamp: 0,
      key: null,
      value: Buffer.from('{"id":1}'),
      headers: {},
    });
  });

  it('takes every field; Buffers as they are, string keys as UTF-8, null values as tombstones', () => {
    const value = Buffer.from('raw');
    const built = record({ topic: 'orders', partition: 2, offset: 7, value, key: 'k', timestamp: 42, headers: { h: 'v' } });
    assert.deepEqual(built, { topic: 'orders', partition: 2, offset: 7, timestamp: 42, key: Buffer.from('k'), value, headers: { h: 'v' } });
    assert.equal(built.value, value);
    assert.equal(record({ value: null }).value, null);
    assert.deepEqual(record({ value: 'text' }).value, Buffer.from('"text"'), 'a string is JSON too, as MemorySource.append stores it');
  });
});

describe('fromBatches', () => {
  it('gives each batch one progress entry per partition, after its last record, with that record’s timestamp', async () => {
    const batches = await collect(
      fromBatches([
        [record({ offset: 0, value: 1, timestamp: 10 }), record({ offset: 1, value: 2, timestamp: 11 }), record({ partition: 1, offset: 5, value: 3, timestamp: 12 }), record({ offset: 2, value: 4, timestamp: 13 })],
        [],
        [record({ topic: 'other', offset: 9, value: 5, timestamp: 14 })],
      ]),
    );
    assert.deepEqual(
      batches.map((b) => b.progress),
      [
        [
          { topic: 'test', partition: 0, nextOffset: 3, lastTimestamp: 13 },
          { topic: 'test', partition: 1, nextOffset: 6, lastTimestamp: 12 },
        ],
        [],
        [{ topic: 'other', partition: 0, nextOffset: 10, lastTimestamp: 14 }],
      ],
    );
  });
});

describe('collect', () => {
  it('drains a finite iterable', async () => {
    assert.deepEqual(await collect(fromBatches([[record({ value: 1 })]])), [{ records: [record({ value: 1 })], progress: [{ topic: 'test', partition: 0, nextOffset: 1, lastTimestamp: 0 }] }]);
  });

  it('ends a consume pipeline after `until` items, closing consume (its waiting fetch is abandoned)', async () => {
    const source = new MemorySource();
    source.append({ topic: 't', value: { n: 1 } }, { topic: 't', value: { n: 2 } });
    const batches = await collect(deserialize()(consume(source, [{ topic: 't', partition: 0, offset: 0 }])), { until: 2 });
    assert.deepEqual(batches.map((b) => b.records.map((r) => (r.message as { n: number }).n)), [[1, 2], []], 'the records, then the caught-up batch');
  });

  it('stops after the first item the `until` predicate accepts, keeping it', async () => {
    const source = new MemorySource(1);
    source.append({ topic: 't', value: 1 }, { topic: 't', value: 2 }, { topic: 't', value: 3 });
    const caughtUp = (batch: RecordBatch<unknown>) => batch.records.length === 0;
    const batches = await collect(consume(source, [{ topic: 't', partition: 0, offset: 0 }]), { until: caughtUp });
    assert.deepEqual(batches.map((b) => b.records.length), [1, 1, 1, 0]);
  });

  it('rejects after timeoutMs with a message that says how to end a consume, instead of hanging', async () => {
    const source = new MemorySource();
    const started = Date.now();
    await assert.rejects(collect(consume(source, [{ topic: 't', partition: 0, offset: 0 }]), { timeoutMs: 100 }), (err: Error) => {
      assert.match(err.message, /waited 100 ms for the end of the source and got 1 item\(s\)/);
      assert.match(err.message, /until/);
      return true;
    });
    assert.ok(Date.now() - started < 2000);
  });

  it('keeps real time when a test mocks timers', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const never = { [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<number>>(() => {}) }) };
    const pending = collect(never, { timeoutMs: 50 });
    t.mock.timers.tick(10_000); // mocked time does not fire collect's deadline early …
    await assert.rejects(pending, /waited 50 ms/); // … and real time still does
  });
});

describe('MemorySource', () => {
  it('accepts a batch size or options; topics given up front exist with their partitions', async () => {
    assert.equal(new MemorySource(3).batchSize, 3);
    const source = new MemorySource({ batchSize: 5, topics: { a: 3 } });
    assert.equal(source.batchSize, 5);
    assert.deepEqual([...(await source.topicPartitions(['a', 'b']))], [['a', 3]]);
  });

  it('appending creates the topic and the partitions up to the one written', async () => {
    const source = new MemorySource();
    const [stored] = source.append({ topic: 'b', partition: 2, value: { x: 1 }, key: 'k', timestamp: 5 });
    assert.deepEqual(stored, record({ topic: 'b', partition: 2, offset: 0, value: { x: 1 }, key: 'k', timestamp: 5 }));
    assert.deepEqual([...(await source.topicPartitions(['b']))], [['b', 3]]);
  });
});

describe('README "Testing a stage"', () => {
  it('shows test/unit/readme-testing-example.test.ts as it is, but for the package imports', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const { name } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string };
    const section = readme.slice(readme.indexOf('### Testing a stage'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const file = readFileSync(new URL('./readme-testing-example.test.ts', import.meta.url), 'utf8')
      .replaceAll("'../../src/index.js'", `'${name}'`)
      .replaceAll("'../../src/testing.js'", `'${name}/testing'`);
    assert.equal(block, file);
  });
});
