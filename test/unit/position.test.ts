import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeaderTooLargeError } from '../../src/errors.js';
import { parseAssignments, parseLastEventId, parseTimestamp, validateTopicName } from '../../src/position.js';
import { assertThrowsCode } from './support.js';

const INVALID_TOPIC = 'KSSE_INVALID_TOPIC_NAME';
const INVALID_ASSIGNMENT = 'KSSE_INVALID_ASSIGNMENT';
const INVALID_TIMESTAMP = 'KSSE_INVALID_TIMESTAMP';
const TOO_LARGE = 'KSSE_HEADER_TOO_LARGE';

const lastEventId = (entries: unknown[]) => JSON.stringify(entries);

describe('validateTopicName', () => {
  it('accepts ASCII letters, digits, ".", "_" and "-"', () => {
    for (const name of ['a', 'A', '0', 'orders', 'my.topic_v2-EU', '_', '-', '...', '.a', 'a..b', '__consumer_offsets']) {
      assert.equal(validateTopicName(name), name);
    }
  });

  it('accepts 249 characters and rejects 250', () => {
    assert.equal(validateTopicName('x'.repeat(249)), 'x'.repeat(249));
    assertThrowsCode(() => validateTopicName('x'.repeat(250)), INVALID_TOPIC, 400);
  });

  it('rejects "." and ".."', () => {
    assertThrowsCode(() => validateTopicName('.'), INVALID_TOPIC, 400);
    assertThrowsCode(() => validateTopicName('..'), INVALID_TOPIC, 400);
  });

  it('rejects the empty string', () => {
    assertThrowsCode(() => validateTopicName(''), INVALID_TOPIC, 400);
  });

  it('rejects characters Kafka does not allow', () => {
    for (const name of ['a b', 'a/b', 'a\\b', 'a:b', 'a#b', 'a*b', 'a,b', 'ü', 'a\n', '\na', 'a\r', 'a\u0000', 'a\u2028', 'тема', '😀', ' a', 'a ']) {
      assertThrowsCode(() => validateTopicName(name), INVALID_TOPIC, 400);
    }
  });

  it('rejects values that are not strings', () => {
    for (const value of [undefined, null, 0, 1, true, {}, [], ['a'], { toString: () => 'a' }, Symbol.iterator]) {
      assertThrowsCode(() => validateTopicName(value), INVALID_TOPIC, 400);
    }
  });

  it(
    'rejects objects whose toString is not a function with a 400, not a TypeError',
    () => {
      for (const value of [{ toString: 1 }, { toString: {}, valueOf: {} }, Object.create(null)]) {
        assertThrowsCode(() => validateTopicName(value), INVALID_TOPIC, 400);
      }
    },
  );

  it('does not echo an over-long name in full in the error details', () => {
    const err = assertThrowsCode(() => validateTopicName('y'.repeat(100_000)), INVALID_TOPIC, 400);
    assert.ok(JSON.stringify(err).length < 1000);
  });
});

describe('parseAssignments', () => {
  describe('topic names', () => {
    it('takes one topic name', () => {
      assert.deepEqual(parseAssignments('orders'), { topics: ['orders'], partitions: [] });
    });

    it('takes comma-separated names, in order, trimming blanks around them', () => {
      assert.deepEqual(parseAssignments('a,b, c'), { topics: ['a', 'b', 'c'], partitions: [] });
    });

    it('rejects an empty segment in "a,,b", a leading or trailing comma, and the empty string', () => {
      for (const input of ['a,,b', ',a', 'a,', ',', '', ' ']) {
        assertThrowsCode(() => parseAssignments(input), INVALID_TOPIC, 400);
      }
    });

    it('rejects ".." and illegal characters among comma-separated names', () => {
      assertThrowsCode(() => parseAssignments('a,..'), INVALID_TOPIC, 400);
      assertThrowsCode(() => parseAssignments('a,b/c'), INVALID_TOPIC, 400);
      assertThrowsCode(() => parseAssignments(`a,${'z'.repeat(250)}`), INVALID_TOPIC, 400);
    });

    it('rejects a topic named twice', () => {
      const err = assertThrowsCode(() => parseAssignments('a,b,a'), INVALID_ASSIGNMENT, 400);
      assert.equal(err.details.topic, 'a');
    });

    it('takes an array mixing names and assignment objects', () => {
      assert.deepEqual(parseAssignments(['a', { topic: 'b', partition: 1, offset: 5 }]), {
        topics: ['a'],
        partitions: [{ topic: 'b', partition: 1, offset: 5 }],
      });
    });
  });

  describe('input shape', () => {
    it('rejects an empty array', () => {
      assertThrowsCode(() => parseAssignments([]), INVALID_ASSIGNMENT, 400);
    });

    it('rejects inputs that are neither a string nor an array', () => {
      for (const input of [undefined, null, 0, true, {}, { topic: 'a', partition: 0 }, new Map()]) {
        assertThrowsCode(() => parseAssignments(input), INVALID_ASSIGNMENT, 400);
      }
    });

    it('rejects array items that are neither names nor objects', () => {
      for (const item of [null, 0, true, ['a'], [{ topic: 'a', partition: 0 }]]) {
        assertThrowsCode(() => parseAssignments([item]), INVALID_ASSIGNMENT, 400);
      }
    });

    it('rejects more assignments than maxAssignments', () => {
      const items = Array.from({ length: 11 }, (_, i) => `t${i}`);
      assert.equal(parseAssignments(items.slice(0, 10), { maxAssignments: 10 }).topics.length, 10);
      assertThrowsCode(() => parseAssignments(items, { maxAssignments: 10 }), INVALID_ASSIGNMENT, 400);
    });

    it('rejects more than 1,000 assignments by default', () => {
      const items = Array.from({ length: 1001 }, (_, i) => ({ topic: 't', partition: i }));
      assert.equal(parseAssignments(items.slice(0, 1000)).partitions.length, 1000);
      assertThrowsCode(() => parseAssignments(items), INVALID_ASSIGNMENT, 400);
    });
  });

  describe('assignment objects', () => {
    it('keeps topic, partition, offset and timestamp', () => {
      assert.deepEqual(parseAssignments([{ topic: 'a', partition: 0, offset: 3 }]).partitions, [{ topic: 'a', partition: 0, offset: 3 }]);
      assert.deepEqual(parseAssignments([{ topic: 'a', partition: 0, timestamp: 1_700_000_000_000 }]).partitions, [
        { topic: 'a', partition: 0, timestamp: 1_700_000_000_000 },
      ]);
      assert.deepEqual(parseAssignments([{ topic: 'a', partition: 2 }]).partitions, [{ topic: 'a', partition: 2 }]);
    });

    it('keeps the offset when both offset and timestamp are given, so the offset can win', () => {
      const [p] = parseAssignments([{ topic: 'a', partition: 0, offset: 7, timestamp: 1 }]).partitions;
      assert.equal(p!.offset, 7);
    });

    it('treats a null offset or timestamp as absent', () => {
      assert.deepEqual(parseAssignments([{ topic: 'a', partition: 0, offset: null, timestamp: null }]).partitions, [
        { topic: 'a', partition: 0 },
      ]);
    });

    it('ignores unknown keys', () => {
      assert.deepEqual(parseAssignments([{ topic: 'a', partition: 0, offset: 1, colour: 'red' }]).partitions, [
        { topic: 'a', partition: 0, offset: 1 },
      ]);
    });

    it('accepts digit strings for offsets, as numbers', () => {
      const parts = parseAssignments([
        { topic: 'a', partition: 0, offset: '12' },
        { topic: 'a', partition: 1, offset: '0' },
        { topic: 'a', partition: 2, offset: '007' },
        { topic: 'a', partition: 3, offset: String(Number.MAX_SAFE_INTEGER) },
      ]).partitions;
      assert.deepEqual(parts.map((p) => p.offset), [12, 0, 7, Number.MAX_SAFE_INTEGER]);
    });

    it('accepts offsets up to Number.MAX_SAFE_INTEGER', () => {
      const [p] = parseAssignments([{ topic: 'a', partition: 0, offset: Number.MAX_SAFE_INTEGER }]).partitions;
      assert.equal(p!.offset, Number.MAX_SAFE_INTEGER);
    });

    it('rejects negative, fractional, non-numeric and non-finite offsets', () => {
      for (const offset of [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 'abc', '', ' 1', '1 ', '-1', '+1', '1.0', '1e3', '0x10', true, false, {}, [], [1], { value: 1 }]) {
        const err = assertThrowsCode(() => parseAssignments([{ topic: 'a', partition: 0, offset }]), INVALID_ASSIGNMENT, 400);
        assert.equal(err.details.field, 'offset');
      }
    });

    it('rejects offsets beyond the safe-integer range, as numbers or as strings', () => {
      for (const offset of [Number.MAX_SAFE_INTEGER + 1, 2 ** 63, String(2 ** 53), '9007199254740993']) {
        assertThrowsCode(() => parseAssignments([{ topic: 'a', partition: 0, offset }]), INVALID_ASSIGNMENT, 400);
      }
    });

    it('rejects offsets beyond int64 and very long digit strings', () => {
      for (const offset of ['9223372036854775807', '9223372036854775808', '18446744073709551616', '1'.repeat(21), '9'.repeat(400)]) {
        assertThrowsCode(() => parseAssignments([{ topic: 'a', partition: 0, offset }]), INVALID_ASSIGNMENT, 400);
      }
    });

    it('does not echo a very long offset string in full in the error details', () => {
      const err = assertThrowsCode(() => parseAssignments([{ topic: 'a', partition: 0, offset: '9'.repeat(10_000) }]), INVALID_ASSIGNMENT, 400);
      assert.ok(JSON.stringify(err).length < 1000);
    });

    it('requires the partition to be an int32', () => {
      assert.equal(parseAssignments([{ topic: 'a', partition: 2 ** 31 - 1 }]).partitions[0]!.partition, 2 ** 31 - 1);
      for (const partition of [2 ** 31, -1, 1.5, NaN, Infinity, '0', '1', null, undefined, true, {}, [0]]) {
        const err = assertThrowsCode(() => parseAssignments([{ topic: 'a', partition }]), INVALID_ASSIGNMENT, 400);
        assert.equal(err.details.field, 'partition');
      }
    });

    it('requires a partition', () => {
      assertThrowsCode(() => parseAssignments([{ topic: 'a', offset: 0 }]), INVALID_ASSIGNMENT, 400);
    });

    it('requires timestamps to be non-negative safe integers (numbers only)', () => {
      for (const timestamp of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, '1700000000000', 'yesterday', {}, []]) {
        const err = assertThrowsCode(() => parseAssignments([{ topic: 'a', partition: 0, timestamp }]), INVALID_ASSIGNMENT, 400);
        assert.equal(err.details.field, 'timestamp');
      }
    });

    it('validates the topic of an assignment object', () => {
      for (const topic of ['..', '', 'a b', 'x'.repeat(250), 1, null, undefined, ['a']]) {
        assertThrowsCode(() => parseAssignments([{ topic, partition: 0 }]), INVALID_TOPIC, 400);
      }
    });

    it('rejects the same partition assigned twice, even with different offsets', () => {
      const err = assertThrowsCode(
        () => parseAssignments([{ topic: 'a', partition: 0, offset: 1 }, { topic: 'a', partition: 0, offset: 2 }]),
        INVALID_ASSIGNMENT,
        400,
      );
      assert.deepEqual({ topic: err.details.topic, partition: err.details.partition }, { topic: 'a', partition: 0 });
    });

    it('accepts different partitions of one topic', () => {
      assert.equal(parseAssignments([{ topic: 'a', partition: 0 }, { topic: 'a', partition: 1 }]).partitions.length, 2);
    });

    it('rejects a topic asked for whole and by partition', () => {
      assertThrowsCode(() => parseAssignments(['a', { topic: 'a', partition: 0 }]), INVALID_ASSIGNMENT, 400);
      assertThrowsCode(() => parseAssignments([{ topic: 'a', partition: 0 }, 'a']), INVALID_ASSIGNMENT, 400);
    });

    it(
      'rejects a Last-Event-ID topic that is an object with a "toString" key with a 400',
      () => {
        assertThrowsCode(() => parseLastEventId('[{"topic":{"toString":1},"partition":0}]'), INVALID_TOPIC, 400);
      },
    );

    it('reads only own properties: inherited topic or partition do not count', () => {
      const inherited = Object.create({ topic: 'a', partition: 0 }) as object;
      assertThrowsCode(() => parseAssignments([inherited]), INVALID_TOPIC, 400);
    });
  });
});

describe('parseLastEventId', () => {
  it('parses a JSON array of {topic, partition, offset|timestamp}', () => {
    const header = lastEventId([
      { topic: 'a', partition: 0, offset: 10 },
      { topic: 'a', partition: 1, offset: '11' },
      { topic: 'b', partition: 0, timestamp: 1_700_000_000_000 },
    ]);
    assert.deepEqual(parseLastEventId(header), {
      topics: [],
      partitions: [
        { topic: 'a', partition: 0, offset: 10 },
        { topic: 'a', partition: 1, offset: 11 },
        { topic: 'b', partition: 0, timestamp: 1_700_000_000_000 },
      ],
    });
  });

  it('rejects a header that is not JSON', () => {
    for (const header of ['', 'abc', '[', '[{"topic":"a","partition":0,}]', "[{'topic':'a'}]", 'undefined', 'NaN', '[{"topic":"a","partition":0}]x']) {
      assertThrowsCode(() => parseLastEventId(header), INVALID_ASSIGNMENT, 400);
    }
  });

  it('rejects JSON that is not an array', () => {
    for (const header of ['{}', '{"topic":"a","partition":0,"offset":1}', '"a"', '"a,b"', '1', 'true', 'null']) {
      assertThrowsCode(() => parseLastEventId(header), INVALID_ASSIGNMENT, 400);
    }
  });

  it('rejects an empty array', () => {
    assertThrowsCode(() => parseLastEventId('[]'), INVALID_ASSIGNMENT, 400);
  });

  it('rejects entries that are not objects, including topic names', () => {
    for (const header of ['[null]', '["a"]', '[1]', '[true]', '[[]]', '[["a",0,1]]', '[{"topic":"a","partition":0},"b"]', '[{"topic":"a","partition":0},null]']) {
      assertThrowsCode(() => parseLastEventId(header), INVALID_ASSIGNMENT, 400);
    }
  });

  it('rejects nested objects or arrays where numbers belong', () => {
    for (const entry of [
      { topic: 'a', partition: { n: 0 }, offset: 0 },
      { topic: 'a', partition: [0], offset: 0 },
      { topic: 'a', partition: 0, offset: { n: 1 } },
      { topic: 'a', partition: 0, offset: [1] },
      { topic: 'a', partition: 0, offset: [[[[1]]]] },
      { topic: 'a', partition: 0, timestamp: { $date: 1 } },
    ]) {
      assertThrowsCode(() => parseLastEventId(lastEventId([entry])), INVALID_ASSIGNMENT, 400);
    }
    for (const entry of [{ topic: { name: 'a' }, partition: 0 }, { topic: ['a'], partition: 0 }]) {
      assertThrowsCode(() => parseLastEventId(lastEventId([entry])), INVALID_TOPIC, 400);
    }
  });

  it('rejects negative, fractional, non-numeric and beyond-int64 offsets and partitions', () => {
    for (const raw of [
      '[{"topic":"a","partition":0,"offset":-1}]',
      '[{"topic":"a","partition":0,"offset":0.5}]',
      '[{"topic":"a","partition":0,"offset":"ten"}]',
      '[{"topic":"a","partition":0,"offset":1e400}]',
      '[{"topic":"a","partition":0,"offset":9223372036854775808}]',
      '[{"topic":"a","partition":0,"offset":"9223372036854775808"}]',
      '[{"topic":"a","partition":-1,"offset":0}]',
      '[{"topic":"a","partition":0.5,"offset":0}]',
      '[{"topic":"a","partition":"zero","offset":0}]',
      '[{"topic":"a","partition":2147483648,"offset":0}]',
      '[{"topic":"a","partition":9223372036854775808,"offset":0}]',
    ]) {
      assertThrowsCode(() => parseLastEventId(raw), INVALID_ASSIGNMENT, 400);
    }
  });

  it('rejects illegal topic names inside the header', () => {
    for (const topic of ['..', '.', '', 'a/b', 'x'.repeat(250)]) {
      assertThrowsCode(() => parseLastEventId(lastEventId([{ topic, partition: 0, offset: 0 }])), INVALID_TOPIC, 400);
    }
  });

  it('rejects duplicate partitions', () => {
    assertThrowsCode(
      () => parseLastEventId(lastEventId([{ topic: 'a', partition: 0, offset: 1 }, { topic: 'a', partition: 0, offset: 1 }])),
      INVALID_ASSIGNMENT,
      400,
    );
  });

  describe('prototype pollution', () => {
    it('ignores a __proto__ key and pollutes nothing', () => {
      const header = '[{"__proto__":{"polluted":1,"topic":"evil"},"topic":"a","partition":0,"offset":1}]';
      const request = parseLastEventId(header);
      assert.deepEqual(request.partitions, [{ topic: 'a', partition: 0, offset: 1 }]);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.getPrototypeOf(request.partitions[0]), Object.prototype);
      assert.equal((request.partitions[0] as unknown as Record<string, unknown>).polluted, undefined);
    });

    it('does not take topic or partition from a __proto__ key', () => {
      assertThrowsCode(() => parseLastEventId('[{"__proto__":{"topic":"a","partition":0,"offset":1}}]'), INVALID_TOPIC, 400);
      assertThrowsCode(() => parseLastEventId('[{"topic":"a","__proto__":{"partition":0}}]'), INVALID_ASSIGNMENT, 400);
      assert.equal(({} as Record<string, unknown>).topic, undefined);
      assert.equal(({} as Record<string, unknown>).partition, undefined);
    });

    it('ignores constructor and prototype keys and pollutes nothing', () => {
      const header = '[{"constructor":{"prototype":{"polluted":1}},"prototype":{"polluted":1},"topic":"a","partition":0,"offset":1}]';
      assert.deepEqual(parseLastEventId(header).partitions, [{ topic: 'a', partition: 0, offset: 1 }]);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    });

    it('rejects a __proto__ key used as a whole entry or as a number', () => {
      assertThrowsCode(() => parseLastEventId('[{"topic":"a","partition":{"__proto__":{"valueOf":1}},"offset":1}]'), INVALID_ASSIGNMENT, 400);
      assert.equal(({} as Record<string, unknown>).valueOf, Object.prototype.valueOf);
    });
  });

  describe('size limits', () => {
    it('rejects thousands of entries', () => {
      const entries = Array.from({ length: 5000 }, (_, i) => ({ topic: 't', partition: i, offset: 0 }));
      // Over the default byte limit, so rejected before parsing…
      assertThrowsCode(() => parseLastEventId(lastEventId(entries)), TOO_LARGE, 431);
      // …and over the entry limit when the byte limit is raised.
      const err = assertThrowsCode(() => parseLastEventId(lastEventId(entries), { maxHeaderBytes: 1 << 20 }), INVALID_ASSIGNMENT, 400);
      assert.equal(err.details.count, 5000);
    });

    it('rejects a header over the byte limit with 431 before parsing it', () => {
      const tooLarge = `[${'x'.repeat(16 * 1024)}`; // not JSON: a 400 would mean it was parsed
      const originalParse = JSON.parse;
      let parses = 0;
      JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
        parses++;
        return originalParse(...args);
      }) as typeof JSON.parse;
      try {
        const err = assertThrowsCode(() => parseLastEventId(tooLarge), TOO_LARGE, 431);
        assert.ok(err instanceof HeaderTooLargeError);
        assert.equal(err.details.limit, 16 * 1024);
      } finally {
        JSON.parse = originalParse;
      }
      assert.equal(parses, 0);
    });

    it('accepts a header of exactly the byte limit', () => {
      const entry = '{"topic":"a","partition":0,"offset":1}';
      const header = `[${entry}${' '.repeat(100 - entry.length - 2)}]`;
      assert.equal(Buffer.byteLength(header), 100);
      assert.equal(parseLastEventId(header, { maxHeaderBytes: 100 }).partitions.length, 1);
      assertThrowsCode(() => parseLastEventId(`${header} `, { maxHeaderBytes: 100 }), TOO_LARGE, 431);
    });

    it('counts bytes, not characters', () => {
      const header = `[{"topic":"a","partition":0,"offset":1,"note":"${'é'.repeat(60)}"}]`;
      assert.ok(header.length <= 120 && Buffer.byteLength(header) > 120);
      assertThrowsCode(() => parseLastEventId(header, { maxHeaderBytes: 120 }), TOO_LARGE, 431);
    });
  });
});

describe('parseTimestamp', () => {
  it('accepts milliseconds since the epoch as a number', () => {
    assert.equal(parseTimestamp(0), 0);
    assert.equal(parseTimestamp(1_700_000_000_000), 1_700_000_000_000);
    assert.equal(parseTimestamp(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  });

  it('accepts milliseconds since the epoch as a digit string', () => {
    assert.equal(parseTimestamp('1700000000000'), 1_700_000_000_000);
    assert.equal(parseTimestamp('0'), 0);
  });

  it('accepts ISO-8601 dates and date-times', () => {
    assert.equal(parseTimestamp('2024-01-02T03:04:05Z'), Date.UTC(2024, 0, 2, 3, 4, 5));
    assert.equal(parseTimestamp('2024-01-02T03:04:05.678+01:00'), Date.UTC(2024, 0, 2, 2, 4, 5, 678));
    assert.equal(parseTimestamp('2024-01-02'), Date.UTC(2024, 0, 2));
  });

  it('rejects garbage', () => {
    for (const value of ['', 'yesterday', 'now', '2024-13-45', '2024-02-30T99:00:00Z', '1e12', '-1', '+1', '1.5', '1 ', ' 1', '0x10', 'x'.repeat(65), `${'1'.repeat(70)}`]) {
      assertThrowsCode(() => parseTimestamp(value), INVALID_TIMESTAMP, 400);
    }
  });

  it(
    'rejects calendar dates that do not exist',
    () => {
      for (const value of ['2024-02-30', '2023-02-29', '2024-04-31T00:00:00Z']) {
        assertThrowsCode(() => parseTimestamp(value), INVALID_TIMESTAMP, 400);
      }
    },
  );

  it('rejects dates before the epoch', () => {
    assertThrowsCode(() => parseTimestamp('1969-12-31T23:59:59Z'), INVALID_TIMESTAMP, 400);
  });

  it('rejects negative, fractional, unsafe and non-finite numbers', () => {
    for (const value of [-1, 1.5, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1, 2 ** 64]) {
      assertThrowsCode(() => parseTimestamp(value), INVALID_TIMESTAMP, 400);
    }
  });

  it('rejects digit strings beyond the safe-integer range', () => {
    assertThrowsCode(() => parseTimestamp('9007199254740993'), INVALID_TIMESTAMP, 400);
  });

  it('rejects values that are neither numbers nor strings', () => {
    for (const value of [undefined, null, true, {}, [], [1_700_000_000_000], new Date(0)]) {
      assertThrowsCode(() => parseTimestamp(value), INVALID_TIMESTAMP, 400);
    }
  });

  it(
    'rejects objects String() cannot convert with a 400, not a TypeError',
    () => {
      for (const value of [{ toString: 1 }, Object.create(null)]) {
        assertThrowsCode(() => parseTimestamp(value), INVALID_TIMESTAMP, 400);
      }
    },
  );
});
