// The raw-JSON fast path: `rawJsonObject` must never let through a value that JSON.parse rejects or that
// would reach the client as a different value, and the fast path's events must parse to exactly what the
// default deserializer's slow path sends.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EMPTY_OBJECT, NOT_RAW, OBJECT, rawJsonObject } from '../../src/json/validate.js';
import { deserialize } from '../../src/stages/deserialize.js';
import { idTrack } from '../../src/stages/idTrack.js';
import { RawJsonRecord } from '../../src/stages/rawJsonRecord.js';
import { sseEncode, sseEncodeBytes } from '../../src/stages/sseEncode.js';
import { collect } from '../../src/testing.js';
import type { KafkaRecord, Position } from '../../src/types.js';
import { recordingLogger } from './support.js';

// FUZZ_RUNS=100000 node --import tsx --test test/unit/jsonValidate.test.ts for a deep run.
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

/** What the slow path would make of `buf`: the parsed object, or undefined when it would skip it. */
function slowParse(buf: Buffer): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Checks the one property that matters: accepted ⇒ a JSON object that survives stringify/parse unchanged. */
function assertSafe(buf: Buffer): number {
  const kind = rawJsonObject(buf);
  if (kind === NOT_RAW) return kind;
  const parsed = slowParse(buf);
  assert.ok(parsed !== undefined, `accepted what JSON.parse rejects or is no object: ${JSON.stringify(buf.toString('latin1'))}`);
  assert.deepEqual(JSON.parse(JSON.stringify(parsed)), parsed, `changes through stringify: ${buf.toString('latin1')}`);
  assert.equal(kind === EMPTY_OBJECT, Object.keys(parsed).length === 0 && /^\{[ \t]*\}$/.test(buf.toString('latin1')));
  assert.ok(!buf.includes(0x0a) && !buf.includes(0x0d), 'accepted a line break');
  return kind;
}

// JSON values without the features the fast path leaves to the slow one (exponents, -0, huge numbers).
const plainJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary' }),
    fc.integer(),
    fc.integer({ min: 1, max: 1_000_000 }).map((n) => n / 64),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 5 }),
}));

const jsonText = (value: unknown) => JSON.stringify(value).replace(/-0(?![.\d])/g, '0');

/** Mutations of valid JSON text: a byte replaced, inserted or deleted, favouring JSON's own syntax. */
const mutated = fc
  .tuple(
    plainJson.object.map(jsonText),
    fc.array(
      fc.tuple(
        fc.constantFrom('replace', 'insert', 'delete'),
        fc.nat(),
        fc.oneof(
          fc.constantFrom(...'{}[]":,\\ \t\r\nu0123456789-+.eEtrufalsn'.split('').map((c) => c.charCodeAt(0))),
          fc.integer({ min: 0, max: 255 }),
        ),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([text, edits]) => {
    const bytes = [...Buffer.from(text, 'utf8')];
    for (const [op, at, byte] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length;
      if (op === 'replace' && bytes.length > 0) bytes[i] = byte;
      else if (op === 'insert') bytes.splice(i, 0, byte);
      else bytes.splice(i, 1);
    }
    return Buffer.from(bytes);
  });

describe('rawJsonObject', () => {
  it('accepts compact and spaced objects of every JSON type', () => {
    for (const text of ['{"a":1}', '{ "a" : [1, 2.5, "x", true, false, null, {}, []] }', '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud800"}', '{"é":"€𝄞"}', '{"a":{"b":{"c":[[[]]]}}}', '{"n":0,"m":-12.75,"z":0.0}']) {
      assert.equal(assertSafe(Buffer.from(text)), OBJECT, text);
    }
    assert.equal(assertSafe(Buffer.from('{}')), EMPTY_OBJECT);
    assert.equal(assertSafe(Buffer.from('{ \t}')), EMPTY_OBJECT);
  });

  it('leaves to the slow path what is invalid, not an object, or would change through stringify', () => {
    for (const text of [
      '', '{', '}', '[]', '"{}"', 'null', '1', ' {}', '{} ', '{}\n', '{\n"a":1}', '{"a":1,}', '{"a" 1}', '{"a":1 "b":2}', '{,}', '{"a":}',
      '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":-}', '{"a":+1}', '{"a":1e3}', '{"a":1E-3}', '{"a":-0}', '{"a":-0.5}', '{"a":tru}', '{"a":nul}',
      '{"a":"\t"}', '{"a":"\\x"}', '{"a":"\\u12"}', '{"a":"\\u12g4"}', '{"a":[1,]}', '{"a":[1 2]}', '{"a":]}', '{"a":{]}', '{"a":[}]}', '{"a":1}}', "{'a':1}",
      `{"a":${'9'.repeat(301)}}`, `{"a":${'['.repeat(65)}${']'.repeat(65)}}`,
    ]) {
      assert.equal(rawJsonObject(Buffer.from(text)), NOT_RAW, text);
    }
    // Invalid UTF-8 (toString would replace it), and a BOM.
    for (const bytes of [[0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d], [0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d], [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d], [0xef, 0xbb, 0xbf, 0x7b, 0x7d]]) {
      assert.equal(rawJsonObject(Buffer.from(bytes)), NOT_RAW, Buffer.from(bytes).toString('hex'));
    }
  });

  it('accepts every generated plain JSON object, and nothing JSON.parse would not give back the same', () => {
    fc.assert(
      fc.property(plainJson.object, (obj) => {
        const buf = Buffer.from(jsonText(obj), 'utf8');
        if (buf.includes(0x0a) || buf.includes(0x0d)) return;
        assert.notEqual(assertSafe(buf), NOT_RAW, buf.toString());
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never accepts a mutation of valid JSON that JSON.parse rejects or that is no object', () => {
    fc.assert(fc.property(mutated, (buf) => void assertSafe(buf)), { numRuns: NUM_RUNS * 3 });
  });

  it('never accepts arbitrary bytes that JSON.parse rejects', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void assertSafe(Buffer.from([0x7b, ...bytes, 0x7d]))),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('the raw-JSON fast path of deserialize + sseEncode', () => {
  const positions: Position[] = [
    { topic: 't', partition: 0, offset: 0 },
    { topic: 't', partition: 1, offset: 0 },
  ];

  /** The `data:` payloads and ids of every event `sseEncode` writes for `records`. */
  async function events(records: KafkaRecord[], rawJson: boolean) {
    const logger = recordingLogger();
    const copies = records.map((r) => ({ ...r }));
    const chunks = await collect(
      sseEncode()(idTrack(positions)(deserialize(undefined, logger, { rawJson })((async function* () {
        yield { records: copies, progress: [] };
      })()))),
    );
    const out: Array<{ id: string; data: unknown }> = [];
    for (const block of chunks.join('').split('\n\n')) {
      if (!block.startsWith('event: message\n')) continue;
      const [, idLine, ...dataLines] = block.split('\n');
      assert.equal(dataLines.length, 1, 'one data line per event');
      out.push({ id: idLine!.slice('id: '.length), data: JSON.parse(dataLines[0]!.slice('data: '.length)) });
    }
    return { out, warnings: logger.calls.filter((c) => c.level === 'warn').length };
  }

  const record = (i: number, value: Buffer | null, key: Buffer | null): KafkaRecord => ({
    topic: 't', partition: i % 2, offset: 1000 + i, timestamp: 1_700_000_000_000 + i, key, value, headers: {},
  });

  it('sends events whose data parses to what the slow path sends, with the same ids and skips', async () => {
    const value = fc.oneof(
      plainJson.object.map((o) => Buffer.from(jsonText(o))),
      plainJson.object.map((o) => Buffer.from(JSON.stringify({ ...o, _kafka: 'theirs' }))),
      plainJson.object.map((o) => Buffer.from(JSON.stringify(o, null, 1))),
      fc.constantFrom('{}', '{ }', '{"a":1e400}', '{"a":-0}', '[1]', '"x"', 'nope', '{"a":1', '{"__proto__":{"x":1}}').map((s) => Buffer.from(s)),
      mutated,
      fc.constant(null),
    );
    const key = fc.oneof(fc.constant(null), fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(value, key), { maxLength: 8 }), async (pairs) => {
        const records = pairs.map(([v, k], i) => record(i, v, k));
        const slow = await events(records, false);
        const fast = await events(records, true);
        assert.deepEqual(fast, slow);
      }),
      { numRuns: Math.ceil(NUM_RUNS / 3) },
    );
  });

  it('passes plain values through unparsed, and parses on first read of message', async () => {
    const logger = recordingLogger();
    const records = [record(0, Buffer.from('{"a":1}'), Buffer.from('k')), record(1, Buffer.from('{}'), null)];
    const [batch] = await collect(deserialize(undefined, logger, { rawJson: true })((async function* () {
      yield { records, progress: [] };
    })()));
    const [a, b] = batch!.records as RawJsonRecord[];
    assert.ok(a instanceof RawJsonRecord && b instanceof RawJsonRecord);
    assert.equal(a.materialized, false);
    assert.equal(a.json(), '{"a":1,"_kafka":{"topic":"t","partition":0,"offset":1000,"timestamp":1700000000000,"key":"k"}}');
    assert.equal(b.json(), '{"_kafka":{"topic":"t","partition":1,"offset":1001,"timestamp":1700000000001,"key":null}}');
    assert.deepEqual(a.message, { a: 1, _kafka: { topic: 't', partition: 0, offset: 1000, timestamp: 1_700_000_000_000, key: 'k' } });
    assert.equal(a.materialized, true);
  });

  it('encodes a record from its message once someone has changed it', async () => {
    const records = [record(0, Buffer.from('{"a":1}'), null)];
    const chunks = await collect(
      sseEncode()(idTrack(positions)((async function* () {
        const [batch] = await collect(deserialize(undefined, undefined, { rawJson: true })((async function* () {
          yield { records, progress: [] };
        })()));
        (batch!.records[0]!.message as Record<string, unknown>).a = 2;
        yield batch!;
      })())),
    );
    assert.match(chunks.join(''), /data: \{"a":2,"_kafka":/);
  });

  it('is off unless asked for, and only with the default deserializer', async () => {
    const records = [record(0, Buffer.from('{"a":1}'), null)];
    const src = () => (async function* () {
      yield { records: records.map((r) => ({ ...r })), progress: [] };
    })();
    const [plain] = await collect(deserialize()(src()));
    assert.ok(!(plain!.records[0] instanceof RawJsonRecord));
    const custom = (r: KafkaRecord & { message?: unknown }) => Object.assign(r, { message: 1 });
    const [other] = await collect(deserialize(custom, undefined, { rawJson: true })(src()));
    assert.equal(other!.records[0]!.message, 1);
  });

  it('sseEncodeBytes writes the same bytes as sseEncode, raw records, parsed ones and position blocks alike', async () => {
    const value = fc.oneof(
      plainJson.object.map((o) => Buffer.from(jsonText(o))),
      fc.constantFrom('{}', '{"a":1e400}', 'nope', '{"é":"€𝄞"}').map((s) => Buffer.from(s)),
      mutated,
      fc.constant(null),
    );
    const key = fc.oneof(fc.constant(null), fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.tuple(value, key), { maxLength: 5 }), { maxLength: 4 }), fc.boolean(), async (batches, touch) => {
        let offset = 0;
        const input = batches.map((pairs) => pairs.map(([v, k]) => record(offset++, v, k)));
        const run = async (encode: typeof sseEncode | typeof sseEncodeBytes) => {
          const src = async function* () {
            for (const records of input) {
              const copies = records.map((r) => ({ ...r }));
              const last = copies[copies.length - 1];
              yield { records: copies, progress: last ? [{ topic: 't', partition: last.partition, nextOffset: last.offset + 5 }] : [] };
            }
          };
          const deserialized = async function* () {
            for await (const batch of deserialize(undefined, undefined, { rawJson: true })(src())) {
              // Reading a message sends the record down the parsed path.
              if (touch && batch.records[0]) void batch.records[0].message;
              yield batch;
            }
          };
          const chunks = await collect(encode()(idTrack(positions)(deserialized())));
          return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
        };
        assert.equal((await run(sseEncodeBytes)).toString('latin1'), (await run(sseEncode)).toString('latin1'));
      }),
      { numRuns: Math.ceil(NUM_RUNS / 3) },
    );
  });
});
