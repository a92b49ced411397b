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
import { previousRawJsonObject } from '../helpers/previousRawJsonObject.js';
import { mulberry32 } from '../helpers/prng.js';
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

// ---------------------------------------------------------------------------------------------------
// Differential fuzzing against the oracle: JSON-ish byte strings from a seeded generator, valid objects
// and mutations of them, placed at every alignment in ArrayBuffers shared between records (the fast
// implementation reads long strings four bytes at a time through a view on the whole ArrayBuffer).


class JsonishGen {
  constructor(private readonly rnd: () => number) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** Mostly nothing, else spaces and tabs (the whitespace the fast path accepts), rarely a CR or LF. */
  ws(): string {
    if (this.chance(0.85)) return '';
    return this.chance(0.97) ? this.pick([' ', '\t', '  ', ' \t ']) : this.pick(['\n', '\r\n', '\r']);
  }

  digits(count: number, first = '123456789'): string {
    let s = this.pick(first.split(''));
    for (let k = 1; k < count; k++) s += String(this.int(10));
    return s;
  }

  /** A string's content as JSON text: runs of plain ASCII (short and long), escapes, non-ASCII text. */
  stringBody(): string {
    const target = this.pick([0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 40, 64, 100, 200, 400]) + this.int(4);
    let s = '';
    while (s.length < target) {
      const r = this.int(20);
      if (r < 8) {
        // A plain run: one byte repeated (the benchmark's padding) or mixed printable ASCII.
        const len = 1 + this.int(target - s.length + 4);
        s += this.chance(0.5) ? 'x'.repeat(len) : Array.from({ length: len }, () => String.fromCharCode(0x23 + this.int(0x5c - 0x23))).join('');
      } else if (r < 12) {
        s += this.pick(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u00e9', '\\u20AC', '\\ud83d\\ude00', '\\ud800', '\\u0000']);
      } else if (r < 15) {
        s += this.pick(['é', 'Zoë', '€', '𝄞', '東京', 'Привет', '\u2028', '\u007f', 'ÿ']);
      } else if (r < 18) {
        s += this.pick(['}', ']', '{', '[', ',', ':', '}}', ' ', '\t']);
      } else {
        s += this.pick(['a', 'bc', 'user-1', '/articles/1', 'page_view', '0123456789']);
      }
    }
    return s;
  }

  number(): string {
    const r = this.int(24);
    if (r === 0) return this.pick(['-0', '-0.5', '-0.0', '01', '00', '1.', '.5', '-', '+1', '1e5', '1E-3', '2e+10', '-1e400', '0e0', '1.5e3', '--1', '1..2', '0x10', 'NaN', 'Infinity']);
    if (r === 1) return (this.chance(0.5) ? '-' : '') + this.digits(298 + this.int(6)); // around the 300-digit limit
    const int = this.chance(0.3) ? '0' : this.digits(1 + this.int(this.chance(0.8) ? 4 : 20));
    const frac = this.chance(0.3) ? `.${this.digits(1 + this.int(8), '0123456789')}` : '';
    const neg = int !== '0' && this.chance(0.3) ? '-' : '';
    return neg + int + frac;
  }

  value(depth: number): string {
    const r = this.int(depth > 6 ? 6 : 10);
    if (r < 3) return `"${this.stringBody()}"`;
    if (r < 5) return this.number();
    if (r === 5) return this.pick(['true', 'false', 'null', 'true', 'false', 'null', 'tru', 'nul', 'fals', 'True', 'nulll']);
    if (r < 8) {
      const items = Array.from({ length: this.int(5) }, () => this.ws() + this.value(depth + 1) + this.ws());
      return `[${items.join(',') || this.ws()}]`;
    }
    return this.object(depth + 1);
  }

  object(depth: number): string {
    const members = Array.from({ length: this.int(depth === 0 ? 7 : 4) }, () => `${this.ws()}"${this.chance(0.8) ? this.pick(['id', 'type', 'user', 'url', 'pad', 'a', '']) : this.stringBody()}"${this.ws()}:${this.ws()}${this.value(depth)}${this.ws()}`);
    return `{${members.join(',') || this.ws()}}`;
  }

  /** Nesting around the 64-level limit, in arrays or objects. */
  deep(): string {
    const levels = 58 + this.int(12);
    const inObjects = this.chance(0.5);
    const open = inObjects ? '{"a":' : '[';
    const close = inObjects ? '}' : ']';
    return `{"d":${open.repeat(levels)}${this.value(99)}${close.repeat(levels)}}`;
  }

  /** The page-view records of the benchmark, with every field's length varied. */
  pageView(): string {
    const pad = 'x'.repeat(this.int(400));
    return `{"id":${this.int(1e6)},"type":"page_view","user":"user-${this.int(1e4)}","url":"/articles/${this.int(1e3)}","pad":"${pad}"}`;
  }

  /** One record's bytes: valid most of the time before mutation, then 0 to 3 mutations. */
  record(): Buffer {
    const r = this.int(20);
    const text = r < 6 ? this.pageView() : r === 6 ? this.deep() : r === 7 ? this.value(0) : this.object(0);
    let bytes = [...Buffer.from(text, 'utf8')];
    const edits = this.chance(0.45) ? 0 : 1 + this.int(3);
    for (let e = 0; e < edits; e++) bytes = this.mutate(bytes);
    return Buffer.from(bytes);
  }

  mutate(bytes: number[]): number[] {
    const at = bytes.length === 0 ? 0 : this.int(bytes.length);
    switch (this.int(9)) {
      case 0: // flip one bit
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << this.int(8));
        return bytes;
      case 1: // replace with a byte that matters
        if (bytes.length > 0) bytes[at] = this.interestingByte();
        return bytes;
      case 2:
      case 3: // insert bytes that matter
        bytes.splice(at, 0, ...this.pick<number[]>([
          [this.interestingByte()], [0x0d], [0x0a], [0x09], [0x00], [0x1f], [0x5c], [0x5c, 0x78], [0x5c, 0x75, 0x31, 0x32], [0x5c, 0x75, 0x31, 0x32, 0x67, 0x34],
          [0xff], [0xc3], [0xc3, 0xa9], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9d, 0x84, 0x9e], [0x80],
          [0x65, 0x35], [0x2d, 0x30], [0x30], [0x22], [0x7d], [0x5d], [0x2c],
        ]));
        return bytes;
      case 4: // delete one byte
        bytes.splice(at, 1);
        return bytes;
      case 5: // truncate, keeping or putting back a closing brace
        bytes.length = at;
        if (this.chance(0.7)) bytes.push(0x7d);
        return bytes;
      case 6: {
        // a byte that matters anywhere in a run of plain bytes (the page views' padding)
        const xs = bytes.flatMap((b, k) => (b === 0x78 ? [k] : []));
        if (xs.length > 0) bytes[this.pick(xs)] = this.interestingByte();
        return bytes;
      }
      case 7: // surrounding whitespace or a BOM
        return this.chance(0.5) ? [...this.pick([[0x20], [0x09], [0x0a], [0xef, 0xbb, 0xbf]]), ...bytes] : [...bytes, this.pick([0x20, 0x09, 0x0a, 0x0d])];
      default: // duplicate a slice (unbalanced brackets, doubled commas and quotes)
        return [...bytes.slice(0, at), ...bytes.slice(at, at + 1 + this.int(6)), ...bytes.slice(at)];
    }
  }

  interestingByte(): number {
    return this.chance(0.6) ? this.pick([0x00, 0x01, 0x08, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x5c, 0x7d, 0x5d, 0x7b, 0x5b, 0x2c, 0x3a, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x65, 0x45, 0x2d, 0x2b, 0x2e, 0x30]) : this.int(256);
  }
}

/**
 * Where each record's bytes go: most share a 64 KiB arena (as records share a fetch response's
 * ArrayBuffer), at any offset and so any alignment, the arena being replaced now and then; the others get
 * an ArrayBuffer of their own with 0 to 7 random bytes on either side, or a Buffer.from copy (the pool).
 */
class Placer {
  private arena = new Uint8Array(0);
  private used = 0;

  constructor(private readonly gen: JsonishGen) {}

  place(bytes: Buffer): Buffer {
    const r = this.gen.int(10);
    if (r < 6) {
      if (this.used + bytes.length + 8 > this.arena.length || this.gen.chance(0.01)) {
        this.arena = new Uint8Array(65536);
        for (let k = 0; k < this.arena.length; k += 97) this.arena[k] = this.gen.interestingByte();
        this.used = 0;
      }
      const at = this.used + this.gen.int(4);
      this.arena.set(bytes, at);
      this.used = at + bytes.length;
      return Buffer.from(this.arena.buffer, at, bytes.length);
    }
    if (r < 9) {
      const before = this.gen.int(8);
      const after = this.gen.int(8);
      const ab = new ArrayBuffer(before + bytes.length + after);
      const all = new Uint8Array(ab);
      for (let k = 0; k < all.length; k++) all[k] = this.gen.interestingByte();
      all.set(bytes, before);
      return Buffer.from(ab, before, bytes.length);
    }
    return Buffer.from(bytes);
  }
}

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

describe('rawJsonObject against the oracle (differential fuzz)', () => {
  // FUZZ_SEED=n FUZZ_CASES=m node --import tsx --test test/unit/jsonValidate.test.ts for other inputs.
  const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
  const cases = Number(process.env.FUZZ_CASES ?? 20_000);

  it(`gives the oracle's answer on ${cases} generated records, and accepts only what JSON.parse gives back unchanged`, () => {
    const gen = new JsonishGen(mulberry32(seed));
    const placer = new Placer(gen);
    const counts = { accepted: 0, rejected: 0, acceptedLong: 0 };
    for (let k = 0; k < cases; k++) {
      const buf = placer.place(gen.record());
      const expected = previousRawJsonObject(buf);
      const actual = rawJsonObject(buf);
      if (actual !== expected) {
        assert.fail(`case ${k} of seed ${seed}: ${actual}, the oracle ${expected}, at byteOffset ${buf.byteOffset} for ${JSON.stringify(buf.toString('latin1'))}`);
      }
      if (actual === NOT_RAW) {
        counts.rejected++;
      } else {
        assertSafe(buf);
        counts.accepted++;
        if (buf.length >= 128) counts.acceptedLong++;
      }
    }
    // Both answers, and long records (read four bytes at a time), often enough for the comparison to mean something.
    assert.ok(counts.accepted > cases / 5 && counts.rejected > cases / 5 && counts.acceptedLong > cases / 10, JSON.stringify(counts));
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
