import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StageError } from '../../src/errors.js';
import { deserialize, jsonDeserializer, type Deserializer } from '../../src/stages/deserialize.js';
import { collect } from '../../src/testing.js';
import type { DeserializedRecord, KafkaRecord, PartitionProgress, RecordBatch } from '../../src/types.js';
import { assertRejectsCode, kafkaRecord, recordingLogger } from './support.js';

async function* batches(...list: Array<RecordBatch<KafkaRecord>>): AsyncGenerator<RecordBatch<KafkaRecord>> {
  yield* list;
}

const progressOf = (records: KafkaRecord[]): PartitionProgress[] =>
  records.map((r) => ({ topic: r.topic, partition: r.partition, nextOffset: r.offset + 1, lastTimestamp: r.timestamp }));

describe('deserialize', () => {
  describe('with the default JSON deserializer', () => {
    it('parses the value as JSON and adds _kafka {topic, partition, offset, timestamp, key}', async () => {
      const record = kafkaRecord({ topic: 'orders', partition: 3, offset: 42, timestamp: 1_700_000_000_123, key: 'k-1', value: { id: 7, name: 'x' } });
      const [batch] = await collect(deserialize()(batches({ records: [record], progress: progressOf([record]) })));
      assert.deepEqual(batch!.records.map((r) => r.message), [
        { id: 7, name: 'x', _kafka: { topic: 'orders', partition: 3, offset: 42, timestamp: 1_700_000_000_123, key: 'k-1' } },
      ]);
    });

    it('gives offset and timestamp as numbers, and the key as a UTF-8 string or null', async () => {
      const withKey = kafkaRecord({ offset: 0, key: Buffer.from('clé-€', 'utf8') });
      const withoutKey = kafkaRecord({ offset: 1, key: null });
      const [batch] = await collect(deserialize()(batches({ records: [withKey, withoutKey], progress: [] })));
      const meta = batch!.records.map((r) => (r.message as { _kafka: Record<string, unknown> })._kafka);
      assert.equal(meta[0]!.key, 'clé-€');
      assert.equal(meta[1]!.key, null);
      for (const m of meta) {
        assert.equal(typeof m.offset, 'number');
        assert.equal(typeof m.timestamp, 'number');
      }
    });

    it('decodes UTF-8 values', async () => {
      const record = kafkaRecord({ value: Buffer.from('{"text":"naïve ☃ 😀"}', 'utf8') });
      const [batch] = await collect(deserialize()(batches({ records: [record], progress: [] })));
      assert.equal((batch!.records[0]!.message as { text: string }).text, 'naïve ☃ 😀');
    });

    it('keeps the record fields deserializers and filters rely on', async () => {
      const record = kafkaRecord({ topic: 'a', partition: 1, offset: 2, timestamp: 3, key: 'k', headers: { h: 'v' } });
      const [batch] = await collect(deserialize()(batches({ records: [record], progress: [] })));
      const out = batch!.records[0]!;
      assert.deepEqual(
        { topic: out.topic, partition: out.partition, offset: out.offset, timestamp: out.timestamp, key: out.key, headers: out.headers },
        { topic: 'a', partition: 1, offset: 2, timestamp: 3, key: Buffer.from('k'), headers: { h: 'v' } },
      );
      assert.ok(Buffer.isBuffer(out.value));
    });

    it('replaces a _kafka field the producer put in the value', async () => {
      const record = kafkaRecord({ offset: 5, value: { _kafka: { offset: 999 } } });
      const [batch] = await collect(deserialize()(batches({ records: [record], progress: [] })));
      assert.equal((batch!.records[0]!.message as { _kafka: { offset: number } })._kafka.offset, 5);
    });

    it('skips invalid JSON, tombstones and non-object JSON with a warning each, and keeps the batch progress', async () => {
      const logger = recordingLogger();
      const records = [
        kafkaRecord({ offset: 0, value: { ok: 0 } }),
        kafkaRecord({ offset: 1, value: Buffer.from('{not json') }),
        kafkaRecord({ offset: 2, value: null }),
        kafkaRecord({ offset: 3, value: Buffer.from('42') }),
        kafkaRecord({ offset: 4, value: Buffer.from('"a string"') }),
        kafkaRecord({ offset: 5, value: Buffer.from('[1,2]') }),
        kafkaRecord({ offset: 6, value: Buffer.from('null') }),
        kafkaRecord({ offset: 7, value: Buffer.from('') }),
        kafkaRecord({ offset: 8, value: { ok: 8 } }),
      ];
      const progress = progressOf(records).slice(-1);
      const [batch] = await collect(deserialize(undefined, logger)(batches({ records, progress })));
      assert.deepEqual(batch!.records.map((r) => r.offset), [0, 8]);
      assert.deepEqual(batch!.progress, progress);
      const warnings = logger.calls.filter((c) => c.level === 'warn');
      assert.equal(warnings.length, 7);
      assert.deepEqual(
        warnings.map((w) => (w.obj as { offset: number }).offset),
        [1, 2, 3, 4, 5, 6, 7],
      );
      for (const w of warnings) {
        const obj = w.obj as Record<string, unknown>;
        assert.equal(obj.topic, 't');
        assert.equal(obj.partition, 0);
        assert.equal(typeof obj.reason, 'string');
        assert.equal(typeof w.msg, 'string');
      }
      assert.match(String((warnings[1]!.obj as { reason: string }).reason), /tombstone/);
      assert.equal(logger.calls.filter((c) => c.level === 'error').length, 0, 'a bad record is not an error');
    });

    it('yields a batch with its progress even when every record is skipped', async () => {
      const records = [kafkaRecord({ offset: 10, value: null }), kafkaRecord({ offset: 11, value: Buffer.from('nope') })];
      const progress = [{ topic: 't', partition: 0, nextOffset: 12, lastTimestamp: 1 }];
      const out = await collect(deserialize()(batches({ records, progress })));
      assert.deepEqual(out, [{ records: [], progress }]);
    });

    it('passes empty batches through (they mark "caught up")', async () => {
      const out = await collect(deserialize()(batches({ records: [], progress: [] }, { records: [], progress: [] })));
      assert.deepEqual(out, [
        { records: [], progress: [] },
        { records: [], progress: [] },
      ]);
    });

    it('is usable on its own as jsonDeserializer', () => {
      const out = jsonDeserializer(kafkaRecord({ offset: 1, value: { a: 1 } }));
      assert.deepEqual(out?.message, { a: 1, _kafka: { topic: 't', partition: 0, offset: 1, timestamp: 1_700_000_000_000, key: null } });
      assert.throws(() => jsonDeserializer(kafkaRecord({ value: null })));
      assert.throws(() => jsonDeserializer(kafkaRecord({ value: Buffer.from('[]') })));
    });
  });

  describe('with a custom deserializer', () => {
    it('sends whatever the deserializer puts in message', async () => {
      const upper: Deserializer = (record) => Object.assign(record, { message: record.value!.toString('utf8').toUpperCase() });
      const records = [kafkaRecord({ offset: 0, value: Buffer.from('hello') }), kafkaRecord({ offset: 1, value: Buffer.from('world') })];
      const [batch] = await collect(deserialize(upper)(batches({ records, progress: [] })));
      assert.deepEqual(batch!.records.map((r) => r.message), ['HELLO', 'WORLD']);
    });

    it('may return a new object with the same topic, partition and offset', async () => {
      const copy: Deserializer = (record) => ({ ...record, message: { copied: record.offset } });
      const [batch] = await collect(deserialize(copy)(batches({ records: [kafkaRecord({ offset: 4 })], progress: [] })));
      assert.deepEqual(batch!.records[0]!.message, { copied: 4 });
    });

    it('skips a record it returns undefined for, without a warning', async () => {
      const logger = recordingLogger();
      const odd: Deserializer = (record) => (record.offset % 2 === 1 ? Object.assign(record, { message: record.offset }) : undefined);
      const records = [0, 1, 2, 3].map((offset) => kafkaRecord({ offset }));
      const [batch] = await collect(deserialize(odd, logger)(batches({ records, progress: progressOf(records) })));
      assert.deepEqual(batch!.records.map((r) => r.message), [1, 3]);
      assert.equal(batch!.progress.length, 4);
      assert.equal(logger.calls.length, 0);
    });

    it('skips a record it throws for, with a warning that carries the reason', async () => {
      const logger = recordingLogger();
      const picky: Deserializer = (record) => {
        if (record.offset === 1) throw new Error('unsupported schema version');
        return Object.assign(record, { message: record.offset });
      };
      const records = [0, 1, 2].map((offset) => kafkaRecord({ offset }));
      const [batch] = await collect(deserialize(picky, logger)(batches({ records, progress: [] })));
      assert.deepEqual(batch!.records.map((r) => r.message), [0, 2]);
      assert.equal(logger.calls.length, 1);
      assert.equal(logger.calls[0]!.level, 'warn');
      assert.deepEqual(logger.calls[0]!.obj, { topic: 't', partition: 0, offset: 1, reason: 'unsupported schema version' });
    });

    it('ends the stream with a StageError when it changes a record\'s offset', async () => {
      const shifty: Deserializer = (record) => ({ ...record, offset: record.offset + 1, message: 1 });
      const err = await assertRejectsCode(collect(deserialize(shifty)(batches({ records: [kafkaRecord({ offset: 3 })], progress: [] }))), 'KSSE_STAGE_ERROR', 500);
      assert.ok(err instanceof StageError);
      assert.deepEqual(err.details, { topic: 't', partition: 0, offset: 3 });
    });

    it('ends the stream with a StageError when it changes a record\'s topic or partition', async () => {
      const retopic: Deserializer = (record) => ({ ...record, topic: 'other', message: 1 });
      const repartition: Deserializer = (record) => ({ ...record, partition: 9, message: 1 });
      for (const d of [retopic, repartition]) {
        await assertRejectsCode(collect(deserialize(d)(batches({ records: [kafkaRecord()], progress: [] }))), 'KSSE_STAGE_ERROR', 500);
      }
    });

    it('ends the stream with a StageError when it mutates the offset in place', async () => {
      const mutate: Deserializer = (record) => {
        (record as { offset: number }).offset = 100;
        return Object.assign(record, { message: 1 });
      };
      await assertRejectsCode(collect(deserialize(mutate)(batches({ records: [kafkaRecord({ offset: 1 })], progress: [] }))), 'KSSE_STAGE_ERROR', 500);
    });
  });

  it('pulls one batch from upstream per batch asked for', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<RecordBatch<KafkaRecord>> {
      for (let offset = 0; offset < 3; offset++) {
        pulled++;
        yield { records: [kafkaRecord({ offset })], progress: [] };
      }
    }
    const it2 = deserialize()(source())[Symbol.asyncIterator]();
    const first = await it2.next();
    assert.equal(pulled, 1);
    assert.equal((first.value as RecordBatch<DeserializedRecord>).records[0]!.offset, 0);
    await it2.return?.(undefined);
  });
});
