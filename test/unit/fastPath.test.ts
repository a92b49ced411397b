// The raw-JSON fast path with stages of the user's own between `deserialize` and the encoders: whatever a
// stage does to the records (pass them on, drop them, copy them, add fields, change the message), the
// client gets what the slow path (the default deserializer parsing every value, then `sseEncode`) sends
// for the same stage, byte for byte; and a copy of a record never loses its message.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deserialize } from '../../src/stages/deserialize.js';
import { filter } from '../../src/stages/filter.js';
import { idTrack } from '../../src/stages/idTrack.js';
import { ndjsonEncode } from '../../src/stages/ndjsonEncode.js';
import { sseEncode, sseEncodeBytes } from '../../src/stages/sseEncode.js';
import { collect } from '../../src/testing.js';
import type { DeserializedRecord, KafkaRecord, Position, RawJsonRecord, RecordBatch } from '../../src/types.js';

const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 300);

type Batch = RecordBatch<DeserializedRecord>;
type UserStage = (source: AsyncIterable<Batch>) => AsyncIterable<Batch>;

/** A stage applying `fn` to every record (dropping it when `fn` returns undefined). */
const perRecord =
  (fn: (r: DeserializedRecord) => DeserializedRecord | undefined): UserStage =>
  async function* (source) {
    for await (const batch of source) {
      yield { ...batch, records: batch.records.flatMap((r) => fn(r) ?? []) };
    }
  };

const message = (r: DeserializedRecord) => r.message as Record<string, unknown>;

/** User stages, as users write them. */
const STAGES: Record<string, UserStage> = {
  identity: async function* (source) {
    yield* source;
  },
  'drops records without reading them': perRecord((r) => (r.offset % 3 === 1 ? undefined : r)),
  'adds a field in place': perRecord((r) => Object.assign(r, { extra: 1 })),
  'spreads with an extra field': perRecord((r) => ({ ...r, extra: 1 })),
  structuredClone: perRecord((r) => structuredClone(r)),
  'Object.assign into a new object': perRecord((r) => Object.assign({}, r)),
  'filter() reading one field': filter((r) => message(r).n !== 0),
  'filter() whose filterer changes the message': filter((r) => {
    message(r).seen = r.offset;
    return true;
  }),
  'changes the message in place': perRecord((r) => {
    message(r).seen = true;
    return r;
  }),
  'replaces the message in a spread': perRecord((r) => ({ ...r, message: { ...message(r), seen: r.offset } })),
  'sets message to a new value': perRecord((r) => {
    r.message = { only: r.offset };
    return r;
  }),
};

// JSON object values in JSON.stringify's own spelling and without a `_kafka` of their own (so the fast
// path's text is the slow path's: docs/performance.md, "Behaviour of the fast path"), plus values the fast
// path leaves to the slow one: exponents, line breaks, no object, invalid JSON, tombstones.
const canonicalObject = fc
  .dictionary(
    fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('n', '1', '__proto__')),
    fc.jsonValue({ maxDepth: 3 }),
    { maxKeys: 5 },
  )
  .map((o) => JSON.stringify(o));
const value = fc.oneof(
  { weight: 6, arbitrary: canonicalObject.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constantFrom('{}', '{"n":0}', '{"a":1e400}', '{"a":"x\\ny"}', '{"a":\n1}', '[1]', '"s"', 'nope', '{"a":').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constant(null) },
);
const key = fc.oneof(fc.constant(null), fc.string({ unit: 'binary', maxLength: 6 }).map((s) => Buffer.from(s)));
const TOPICS = ['t', 'topic.with-dots_1'];
const kafkaRecord = fc.record({
  topic: fc.constantFrom(...TOPICS),
  partition: fc.integer({ min: 0, max: 1 }),
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 42 }), fc.constant(1_764_250_000_123)),
  key,
  value,
});
const batches = fc.array(fc.array(kafkaRecord, { maxLength: 6 }), { minLength: 1, maxLength: 3 });
type DrawnRecord = Pick<KafkaRecord, 'topic' | 'partition' | 'timestamp' | 'key' | 'value'>;

const assigned: Position[] = TOPICS.flatMap((topic) => [0, 1].map((partition) => ({ topic, partition, offset: 0 })));

/** Fresh records for one run (stages mutate them), offsets counted up per batch. */
function source(drawn: DrawnRecord[][]) {
  return (async function* (): AsyncGenerator<RecordBatch<KafkaRecord>> {
    let offset = 0;
    for (const records of drawn) {
      yield {
        records: records.map((r) => ({ ...r, offset: offset++, key: r.key && Buffer.from(r.key), value: r.value && Buffer.from(r.value), headers: {} })),
        progress: [],
      };
    }
  })();
}

type Encoder = 'sseEncode' | 'sseEncodeBytes' | 'ndjsonEncode';

/** The stream's bytes: `deserialize` (fast path or not) → stage → [idTrack →] encoder. */
async function run(drawn: DrawnRecord[][], rawJson: boolean, stage: UserStage, encoder: Encoder): Promise<string> {
  const staged = stage(deserialize(undefined, undefined, { rawJson })(source(drawn)));
  const chunks: Array<string | Uint8Array> =
    encoder === 'ndjsonEncode'
      ? await collect(ndjsonEncode()(staged))
      : await collect((encoder === 'sseEncode' ? sseEncode() : sseEncodeBytes())(idTrack(assigned, { startTimestamp: 5 })(staged)));
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))).toString('latin1');
}

describe('the fast path with user stages (differential against the slow path)', () => {
  for (const [name, stage] of Object.entries(STAGES)) {
    it(`${name}: the same bytes as the slow path, through sseEncodeBytes, sseEncode and ndjsonEncode`, async () => {
      await fc.assert(
        fc.asyncProperty(batches, async (drawn) => {
          const slow = await run(drawn, false, stage, 'sseEncode');
          assert.equal(await run(drawn, true, stage, 'sseEncodeBytes'), slow);
          assert.equal(await run(drawn, true, stage, 'sseEncode'), slow);
          assert.equal(await run(drawn, true, stage, 'ndjsonEncode'), await run(drawn, false, stage, 'ndjsonEncode'));
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('adding a top-level field to a record does not change the data; changing its message does', async () => {
    const drawn = [[{ topic: 't', partition: 0, timestamp: 7, key: null, value: Buffer.from('{"n":1}') }]];
    const data = async (stage: UserStage) => /data: (.*)\n/.exec(await run(drawn, true, stage, 'sseEncodeBytes'))![1];
    const untouched = '{"n":1,"_kafka":{"topic":"t","partition":0,"offset":0,"timestamp":7,"key":null}}';
    assert.equal(await data(STAGES.identity!), untouched);
    assert.equal(await data(STAGES['spreads with an extra field']!), untouched);
    assert.equal(await data(STAGES['adds a field in place']!), untouched);
    assert.equal(await data(STAGES['changes the message in place']!), untouched.replace('}}', '},"seen":true}'));
  });
});

/** One record as `deserialize(…, { rawJson: true })` makes it. */
async function rawRecord(text = '{"n":1,"s":"é"}'): Promise<RawJsonRecord> {
  const record: KafkaRecord = { topic: 't', partition: 2, offset: 40, timestamp: 1_700_000_000_000, key: Buffer.from('k'), value: Buffer.from(text), headers: {} };
  const [batch] = await collect(deserialize(undefined, undefined, { rawJson: true })((async function* () {
    yield { records: [record], progress: [] };
  })()));
  return batch!.records[0] as RawJsonRecord;
}

const parsed = { n: 1, s: 'é', _kafka: { topic: 't', partition: 2, offset: 40, timestamp: 1_700_000_000_000, key: 'k' } };

describe('RawJsonRecord', () => {
  it('stays unparsed while only passed along, filtered on other fields or given new fields in place', async () => {
    const r = await rawRecord();
    const [kept] = (await collect(filter((x: DeserializedRecord) => x.offset === 40)((async function* () {
      yield { records: [r], progress: [] };
    })())))[0]!.records;
    Object.assign(kept!, { extra: 1 });
    assert.ok(Buffer.isBuffer(r.rawJson), 'still sent from its bytes');
  });

  for (const [how, copy] of [
    ['a spread', (r: RawJsonRecord) => ({ ...r, extra: 1 })],
    ['structuredClone', (r: RawJsonRecord) => structuredClone(r)],
    ['Object.assign', (r: RawJsonRecord) => Object.assign({}, r)],
    ['a rest destructuring', (r: RawJsonRecord) => (({ topic: _t, ...rest }) => rest)(r)],
  ] as const) {
    it(`keeps its message in ${how} copy, which carries no bytes; the original keeps them while unchanged`, async () => {
      const r = await rawRecord();
      const c = copy(r) as Partial<RawJsonRecord>;
      assert.deepEqual(c.message, parsed);
      assert.equal(c.rawJson, undefined, 'a copy is encoded from its message');
      assert.ok(Buffer.isBuffer(r.rawJson), 'the original, read but unchanged, is still sent from its bytes');
      (c.message as Record<string, unknown>).n = 2;
      if (how !== 'structuredClone') assert.equal(r.rawJson, null, 'a change through the copy (same message object) is seen');
    });
  }

  it('is sent from its bytes after a read that changed nothing, and from its message after any change', async () => {
    const changes: Array<(m: Record<string, unknown>) => void> = [
      (m) => (m.n = 2),
      (m) => (m.added = undefined),
      (m) => delete m.s,
      (m) => {
        const s = m.s;
        delete m.s;
        m.s = s; // same keys and values, another order
      },
      (m) => ((m._kafka as Record<string, unknown>).offset = 41),
      (m) => ((m.n as unknown) = '1'),
    ];
    for (const change of changes) {
      const r = await rawRecord();
      assert.equal((r.message as { n: number }).n, 1);
      assert.ok(Buffer.isBuffer(r.rawJson), `read only: ${change}`);
      change(r.message as Record<string, unknown>);
      assert.equal(r.rawJson, null, `changed: ${change}`);
    }
    const nested = await rawRecord('{"a":{"b":[1,{"c":2}]}}');
    ((((nested.message as { a: { b: unknown[] } }).a.b[1]) as Record<string, unknown>).c = 3);
    assert.equal(nested.rawJson, null, 'a change deep inside is seen');
  });

  it('has message as an own enumerable property, parsed once on first read, and rawJson only on its prototype', async () => {
    const r = await rawRecord();
    assert.equal(Object.getOwnPropertyDescriptor(r, 'message')!.enumerable, true);
    assert.ok(!Object.keys(r).includes('rawJson'));
    assert.deepEqual(r.message, parsed);
    assert.equal(r.message, r.message, 'parsed once');
  });

  it('setting message drops the bytes without parsing them', async () => {
    const r = await rawRecord();
    r.message = 'replaced';
    assert.equal(r.message, 'replaced');
    assert.equal(r.rawJson, null);
  });
});
