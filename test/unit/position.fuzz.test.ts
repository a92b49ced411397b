// Property-based tests of the position parser: whatever a client sends, the answer is a valid start
// request or a KafkaSseError with a client status — never a crash, a hang or a polluted prototype.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { KafkaSseError } from '../../src/errors.js';
import { parseAssignments, parseLastEventId, parseTimestamp, type StartRequest } from '../../src/position.js';
import { idTrack } from '../../src/stages/idTrack.js';

// FUZZ_RUNS=100000 node --import tsx --test test/unit/position.fuzz.test.ts for a deep run.
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const isSafeNonNegative = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Throws unless `request` is something the rest of the library may trust. */
function assertValidStartRequest(request: StartRequest): void {
  assert.ok(Array.isArray(request.topics) && Array.isArray(request.partitions));
  assert.ok(request.topics.length + request.partitions.length > 0);
  const seen = new Set<string>();
  for (const topic of request.topics) {
    assert.ok(LEGAL_TOPIC.test(topic) && topic !== '.' && topic !== '..', `illegal topic ${JSON.stringify(topic)}`);
    assert.ok(!seen.has(topic));
    seen.add(topic);
  }
  const partitions = new Set<string>();
  for (const p of request.partitions) {
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    for (const key of Object.keys(p)) assert.ok(['topic', 'partition', 'offset', 'timestamp'].includes(key), `unexpected key ${key}`);
    assert.ok(LEGAL_TOPIC.test(p.topic) && p.topic !== '.' && p.topic !== '..', `illegal topic ${JSON.stringify(p.topic)}`);
    assert.ok(!seen.has(p.topic), 'a topic is requested whole and by partition');
    assert.ok(Number.isInteger(p.partition) && p.partition >= 0 && p.partition <= 2 ** 31 - 1);
    if (p.offset !== undefined) assert.ok(isSafeNonNegative(p.offset), `bad offset ${String(p.offset)}`);
    if (p.timestamp !== undefined) assert.ok(isSafeNonNegative(p.timestamp), `bad timestamp ${String(p.timestamp)}`);
    const key = `${p.topic}\u0000${p.partition}`;
    assert.ok(!partitions.has(key), 'duplicate partition');
    partitions.add(key);
  }
}

/**
 * Whether `value` holds an object that String() cannot convert (`{toString: 1}`, a null-prototype
 * object). Those have their own property at the end of this file (a 400, never a TypeError), so the
 * general properties skip them.
 */
function holdsUnstringifiable(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > 20) return false;
  try {
    String(value);
  } catch {
    return true;
  }
  return Object.values(value).some((v) => holdsUnstringifiable(v, depth + 1));
}

/** Runs `parse`; passes if it returns a valid request or throws a KafkaSseError with one of `statuses`. */
function acceptsOrRejectsCleanly(parse: () => StartRequest, statuses: number[]): void {
  let request: StartRequest;
  try {
    request = parse();
  } catch (err) {
    assert.ok(err instanceof KafkaSseError, `threw something other than a KafkaSseError: ${String(err)}`);
    assert.ok(statuses.includes(err.status), `status ${err.status} (${err.code})`);
    assert.match(err.code, /^KSSE_/);
    return;
  }
  assertValidStartRequest(request);
}

// Values shaped almost like assignments, so that runs reach deep into the validation rather than
// failing at JSON.parse every time.
const numberish = fc.oneof(
  fc.nat(),
  fc.integer({ min: -10, max: 2 ** 31 + 10 }),
  fc.maxSafeNat(),
  fc.double(),
  fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(null, true, '', '-1', '1.5', '1e3', 2 ** 53, 2 ** 63, '9223372036854775808', [], {}),
  fc.jsonValue({ maxDepth: 2 }),
);
const topicish = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/),
  fc.constantFrom('.', '..', '', 'a b', 'x'.repeat(250), 'ü', '__proto__', 'constructor'),
  fc.string({ maxLength: 12 }),
  fc.jsonValue({ maxDepth: 1 }),
);
const entryish = fc.oneof(
  fc.record(
    { topic: topicish, partition: numberish, offset: numberish, timestamp: numberish, __proto__: fc.jsonValue({ maxDepth: 2 }) },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
const nearlyValidHeader = fc.array(entryish, { maxLength: 6 }).map((entries) => JSON.stringify(entries));

const prototypeKeysBefore = Reflect.ownKeys(Object.prototype);
after(() => {
  // No run may have added anything to Object.prototype.
  assert.deepEqual(Reflect.ownKeys(Object.prototype), prototypeKeysBefore);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

describe('parseLastEventId (properties)', () => {
  it('answers any string with a valid request or a 400/431 KafkaSseError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (header) => {
        acceptsOrRejectsCleanly(() => parseLastEventId(header), [400, 431]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers any JSON value with a valid request or a 400/431 KafkaSseError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        fc.pre(!holdsUnstringifiable(value));
        acceptsOrRejectsCleanly(() => parseLastEventId(JSON.stringify(value)), [400, 431]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('answers nearly valid headers with a valid request or a 400/431 KafkaSseError', () => {
    fc.assert(
      fc.property(nearlyValidHeader, (header) => {
        fc.pre(!holdsUnstringifiable(JSON.parse(header)));
        acceptsOrRejectsCleanly(() => parseLastEventId(header), [400, 431]);
      }),
      { numRuns: NUM_RUNS * 2 },
    );
  });

  it('answers headers over the byte limit with 431, whatever they hold', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (text, limit) => {
        const header = text.repeat(Math.ceil((limit + 1) / text.length));
        try {
          parseLastEventId(header, { maxHeaderBytes: limit });
        } catch (err) {
          assert.ok(err instanceof KafkaSseError);
          assert.equal(err.status, 431);
          return;
        }
        assert.fail('accepted a header over the limit');
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never lets a parsed entry carry a polluted prototype', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), fc.stringMatching(/^[a-z]{1,8}$/), (payload, topic) => {
        const header = `[{"__proto__":${JSON.stringify(payload)},"constructor":{"prototype":${JSON.stringify(payload)}},"topic":"${topic}","partition":0,"offset":1}]`;
        const request = parseLastEventId(header);
        assert.deepEqual(request.partitions, [{ topic, partition: 0, offset: 1 }]);
        assert.equal(Object.getPrototypeOf(request.partitions[0]), Object.prototype);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

const legalTopic = fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/).filter((t) => t !== '.' && t !== '..');
const positions = fc.uniqueArray(
  fc.record(
    { topic: legalTopic, partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }), offset: fc.maxSafeNat() },
    { noNullPrototype: true },
  ),
  { minLength: 1, maxLength: 60, selector: (p) => `${p.topic}\u0000${p.partition}` },
);

describe('parseLastEventId (round trips)', () => {
  it('parses any valid list of offset positions back to the same partitions and offsets', () => {
    fc.assert(
      fc.property(positions, (list) => {
        assert.deepEqual(parseLastEventId(JSON.stringify(list)), { topics: [], partitions: list });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('parses offsets sent as digit strings back to the same numbers', () => {
    fc.assert(
      fc.property(positions, (list) => {
        const header = JSON.stringify(list.map((p) => ({ ...p, offset: String(p.offset) })));
        assert.deepEqual(parseLastEventId(header).partitions, list);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('parses any valid list of timestamp positions back to the same partitions and timestamps', () => {
    fc.assert(
      fc.property(positions, (list) => {
        const stamped = list.map(({ topic, partition, offset }) => ({ topic, partition, timestamp: offset }));
        assert.deepEqual(parseLastEventId(JSON.stringify(stamped)).partitions, stamped);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('parses the ids idTrack writes back to the positions they name', async () => {
    await fc.assert(
      fc.asyncProperty(positions, async (list) => {
        const tracked = idTrack(list)(emptySource())[Symbol.asyncIterator]();
        const first = await tracked.next();
        assert.ok(!first.done);
        assert.deepEqual(parseLastEventId(first.value.id).partitions, list);
        await tracked.return(undefined);
      }),
      { numRuns: 300 },
    );
  });
});

async function* emptySource(): AsyncGenerator<never> {}

describe('parseAssignments (properties)', () => {
  it('answers any value with a valid request or a 400 KafkaSseError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.array(entryish, { maxLength: 6 }), fc.string()), (input) => {
        fc.pre(!holdsUnstringifiable(input));
        acceptsOrRejectsCleanly(() => parseAssignments(input), [400]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('accepts any comma-separated list of distinct legal topic names, in order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(legalTopic, { minLength: 1, maxLength: 20 }), (topics) => {
        assert.deepEqual(parseAssignments(topics.join(',')), { topics, partitions: [] });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('parseTimestamp (properties)', () => {
  it('returns a non-negative safe integer or throws InvalidTimestampError (400)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string(), fc.double(), fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid' : d.toISOString()))), (value) => {
        fc.pre(!holdsUnstringifiable(value));
        let t: number;
        try {
          t = parseTimestamp(value);
        } catch (err) {
          assert.ok(err instanceof KafkaSseError);
          assert.equal(err.code, 'KSSE_INVALID_TIMESTAMP');
          assert.equal(err.status, 400);
          return;
        }
        assert.ok(isSafeNonNegative(t), `returned ${t}`);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('round-trips any post-epoch date through its ISO-8601 form and its epoch milliseconds', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
        assert.equal(parseTimestamp(date.toISOString()), date.getTime());
        assert.equal(parseTimestamp(String(date.getTime())), date.getTime());
        assert.equal(parseTimestamp(date.getTime()), date.getTime());
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('values String() cannot convert', () => {
  const unstringifiable = fc.constantFrom<unknown>({ toString: 1 }, { toString: {}, valueOf: {} }, { toString: '' }, Object.create(null));

  it(
    'answers them with a 400 KafkaSseError in Last-Event-ID, assignments and timestamps',
    () => {
      fc.assert(
        fc.property(unstringifiable, (value) => {
          acceptsOrRejectsCleanly(() => parseLastEventId(JSON.stringify([{ topic: value, partition: 0 }])), [400]);
          acceptsOrRejectsCleanly(() => parseAssignments([{ topic: value, partition: 0 }]), [400]);
          assert.throws(() => parseTimestamp(value), (err) => err instanceof KafkaSseError && err.status === 400);
        }),
        { numRuns: 20 },
      );
    },
  );
});
