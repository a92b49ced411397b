// sseEncode against the WHATWG rules ("Interpreting an event stream"), checked with a real parser
// (eventsource-parser, the parser inside the `eventsource` client) and, where that parser deviates
// from the spec, with a literal transcription of the spec's algorithm below.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createParser, type EventSourceMessage, type ParseError } from 'eventsource-parser';
import fc from 'fast-check';
import { deserialize } from '../../src/stages/deserialize.js';
import { idTrack } from '../../src/stages/idTrack.js';
import { dataLines, encodeComment, encodeEvent, encodePosition, sseEncode, sseEncodeBytes, type SseEncodeOptions } from '../../src/stages/sseEncode.js';
import { collect } from '../../src/testing.js';
import type { DeserializedRecord, TrackedBatch } from '../../src/types.js';
import { countingSource, deserializedRecord } from './support.js';

/** Everything eventsource-parser reports for `text`. */
function parseWithEventsourceParser(...chunks: string[]) {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const errors: ParseError[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onError: (e) => errors.push(e) });
  for (const chunk of chunks) parser.feed(chunk);
  return { events, comments, errors };
}

/**
 * The WHATWG event-stream interpretation, step by step, for complete input: notably, "If the field
 * name is 'id' … set the last event ID buffer", and on a blank line "set the last event ID string of
 * the event source to the value of the last event ID buffer" BEFORE "if the data buffer is an empty
 * string … return" — so an id-only block updates the last event ID without dispatching an event.
 */
function parseWithSpec(text: string) {
  const events: Array<{ type: string; data: string; lastEventId: string }> = [];
  let lastEventId = '';
  let idBuffer = '';
  let data = '';
  let type = '';
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.pop(); // an unterminated last line is never processed
  for (const line of lines) {
    if (line === '') {
      lastEventId = idBuffer;
      if (data === '') {
        type = '';
        continue;
      }
      if (data.endsWith('\n')) data = data.slice(0, -1);
      events.push({ type: type || 'message', data, lastEventId });
      data = '';
      type = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data += `${value}\n`;
    else if (field === 'id' && !value.includes('\u0000')) idBuffer = value;
  }
  return { events, lastEventId };
}

/** What a client ends up with for `data` after the spec's line-ending rules. */
const normalizeLineBreaks = (text: string) => text.replace(/\r\n|\r/g, '\n');

const record = (offset: number, message: unknown = { offset }): DeserializedRecord => ({ ...deserializedRecord({ offset }), message });
const idFor = (offset: number) => `[{"topic":"t","partition":0,"offset":${offset}}]`;

/** A TrackedBatch of records at `offsets`, each with the id after it, and the batch id `next`. */
function tracked(offsets: number[], next?: number, idle = false): TrackedBatch {
  const records = offsets.map((offset) => ({ record: record(offset), id: idFor(offset + 1) }));
  const id = idFor(next ?? (offsets.length > 0 ? offsets[offsets.length - 1]! + 1 : 0));
  return { records, id, idle };
}

/** Runs sseEncode over `steps`: batches, or functions run between batches (e.g. to move the clock). */
async function encode(options: SseEncodeOptions, steps: Array<TrackedBatch | (() => void)>): Promise<string[]> {
  async function* source(): AsyncGenerator<TrackedBatch> {
    for (const step of steps) {
      if (typeof step === 'function') step();
      else yield step;
    }
  }
  return collect(sseEncode(options)(source()));
}

const NEVER = Number.MAX_SAFE_INTEGER; // a position interval that never elapses
/** The position block for the id after `offset` - 1 (see docs/decisions/003-position-events.md). */
const pos = (next: number) => encodePosition(idFor(next));
const messagesOf = <E extends { event?: string | undefined; type?: string }>(events: E[]) =>
  events.filter((e) => (e.event ?? e.type ?? 'message') === 'message');

describe('sseEncode', () => {
  describe('event blocks', () => {
    it('frames each record as "event: message", "id: <positions>", "data: <JSON>" and a blank line', async () => {
      const [chunk] = await encode({}, [tracked([0, 1])]);
      assert.equal(
        chunk,
        `event: message\nid: ${idFor(1)}\ndata: {"offset":0}\n\n` + `event: message\nid: ${idFor(2)}\ndata: {"offset":1}\n\n`,
      );
    });

    it('yields one chunk per batch', async () => {
      const out = await encode({}, [tracked([0]), tracked([1, 2]), tracked([3])]);
      assert.equal(out.length, 3);
    });

    it('parses with a real SSE parser into the messages and ids it encodes', async () => {
      const messages = [{ a: 1 }, 'text', 42, null, [1, { b: [] }], { nested: { deep: 'ok' } }];
      const batch: TrackedBatch = { records: messages.map((m, i) => ({ record: record(i, m), id: idFor(i + 1) })), id: idFor(messages.length), idle: false };
      const [chunk] = await encode({}, [batch]);
      const { events, errors } = parseWithEventsourceParser(chunk!);
      assert.deepEqual(errors, []);
      assert.deepEqual(events.map((e) => e.event), messages.map(() => 'message'));
      assert.deepEqual(events.map((e) => e.id), messages.map((_, i) => idFor(i + 1)));
      assert.deepEqual(events.map((e) => JSON.parse(e.data) as unknown), messages);
    });

    it('sends messages whose strings hold CR, LF, CRLF, U+2028 and NUL intact', async () => {
      const message = { text: 'a\nb\r\nc\rd\u2028e\u2029f\u0000g', 'key\nwith\rbreaks': 1 };
      const [chunk] = await encode({}, [{ records: [{ record: record(0, message), id: idFor(1) }], id: idFor(1), idle: false }]);
      const { events } = parseWithEventsourceParser(chunk!);
      assert.equal(events.length, 1);
      assert.deepEqual(JSON.parse(events[0]!.data), message);
      assert.deepEqual(JSON.parse(parseWithSpec(chunk!).events[0]!.data), message);
    });

    it('sends null for a message JSON cannot represent', async () => {
      const [chunk] = await encode({}, [{ records: [{ record: { ...record(0), message: undefined }, id: idFor(1) }], id: idFor(1), idle: false }]);
      assert.equal(parseWithEventsourceParser(chunk!).events[0]!.data, 'null');
    });

    it('uses the configured event type', async () => {
      const [chunk] = await encode({ eventType: 'kafka' }, [tracked([0])]);
      assert.match(chunk!, /^event: kafka\n/);
      assert.equal(parseWithEventsourceParser(chunk!).events[0]!.event, 'kafka');
    });

    it('appends a position block when the batch id moved past its last record', async () => {
      const [chunk] = await encode({ idOnlyIntervalMs: NEVER }, [tracked([0, 1], 50)]);
      assert.ok(chunk!.endsWith(`data: {"offset":1}\n\n${pos(50)}`));
      const spec = parseWithSpec(chunk!);
      assert.equal(messagesOf(spec.events).length, 2);
      assert.equal(spec.lastEventId, idFor(50));
      const real = parseWithEventsourceParser(chunk!).events;
      assert.equal(messagesOf(real).length, 2, 'the position block is not a message');
      assert.equal(real.at(-1)!.id, idFor(50), 'eventsource-parser reports the position id');
    });

    it('adds no id-only block when the last record already carries the batch id', async () => {
      const [chunk] = await encode({}, [tracked([0, 1])]);
      assert.equal(chunk!.split('id: ').length - 1, 2);
    });
  });

  describe('position blocks (records the client never sees still count as read)', () => {
    it('sends the initial position as a position block', async () => {
      const out = await encode({ idOnlyIntervalMs: NEVER }, [{ records: [], id: idFor(7), idle: true }]);
      assert.deepEqual(out, [`event: position\nid: ${idFor(7)}\ndata:\n\n`]);
    });

    it('updates the last event ID in the spec and in eventsource-parser, without reaching onmessage', async () => {
      const out = await encode({ idOnlyIntervalMs: 0 }, [tracked([0]), tracked([], 10), tracked([], 20)]);
      assert.deepEqual(out.slice(1), [pos(10), pos(20)]);
      const stream = out.join('');
      const spec = parseWithSpec(stream);
      assert.equal(messagesOf(spec.events).length, 1);
      assert.equal(spec.events[0]!.lastEventId, idFor(1));
      assert.equal(spec.lastEventId, idFor(20));
      const real = parseWithEventsourceParser(stream);
      assert.equal(messagesOf(real.events).length, 1, 'position blocks are not messages');
      assert.equal(real.events.at(-1)!.id, idFor(20), 'the client (eventsource) would hold the last position');
      assert.deepEqual(real.errors, []);
    });

    it('sends bare id: blocks with positionEvent: null (the spec updates the id; eventsource-parser does not see it)', async () => {
      const out = await encode({ idOnlyIntervalMs: 0, positionEvent: null }, [tracked([0]), tracked([], 10)]);
      assert.deepEqual(out.slice(1), [`id: ${idFor(10)}\n\n`]);
      const spec = parseWithSpec(out.join(''));
      assert.equal(spec.events.length, 1);
      assert.equal(spec.lastEventId, idFor(10));
      assert.equal(parseWithEventsourceParser(out.join('')).events.length, 1);
    });

    it('gives the next event its own id after position blocks', async () => {
      const out = await encode({ idOnlyIntervalMs: 0 }, [tracked([], 10), tracked([10])]);
      const real = parseWithEventsourceParser(out.join(''));
      assert.deepEqual(messagesOf(real.events).map((e) => e.id), [idFor(11)]);
    });

    it('throttles position blocks: none while the interval has not elapsed', async () => {
      const out = await encode({ idOnlyIntervalMs: NEVER }, [tracked([0]), tracked([], 10), tracked([], 20), tracked([], 30)]);
      assert.equal(out.length, 1, `expected only the record batch, got ${JSON.stringify(out)}`);
    });

    it('sends a position block for every moved id when the interval is 0', async () => {
      const out = await encode({ idOnlyIntervalMs: 0 }, [tracked([0]), tracked([], 10), tracked([], 20), tracked([], 30)]);
      assert.deepEqual(out.slice(1), [10, 20, 30].map(pos));
    });

    it('flushes the pending id when the stream goes idle (caught up)', async () => {
      const out = await encode({ idOnlyIntervalMs: NEVER }, [tracked([0]), tracked([], 10), tracked([], 20), { records: [], id: idFor(20), idle: true }]);
      assert.deepEqual(out.slice(1), [pos(20)]);
      assert.equal(parseWithSpec(out.join('')).lastEventId, idFor(20));
    });

    it('sends nothing when idle with an id the client already holds', async () => {
      const out = await encode({ idOnlyIntervalMs: 0 }, [tracked([0]), { records: [], id: idFor(1), idle: true }, { records: [], id: idFor(1), idle: true }]);
      assert.equal(out.length, 1);
    });

    it('sends nothing for a progress-only batch that did not move the id', async () => {
      const out = await encode({ idOnlyIntervalMs: 0 }, [tracked([0]), tracked([], 1)]);
      assert.equal(out.length, 1);
    });

    it('by default sends at most one position block per 250 ms', async (t: TestContext) => {
      t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
      const out = await encode({}, [
        tracked([0]), // sent at t0
        () => t.mock.timers.tick(249),
        tracked([], 10), // too soon
        () => t.mock.timers.tick(1),
        tracked([], 20), // 250 ms after the last block: sent
        () => t.mock.timers.tick(100),
        tracked([], 30), // too soon
        () => t.mock.timers.tick(150),
        tracked([], 40), // sent
      ]);
      assert.deepEqual(out.slice(1), [pos(20), pos(40)]);
    });
  });

  it('pulls the next batch only when asked for output', async () => {
    const source = countingSource<TrackedBatch>([tracked([0]), tracked([1]), tracked([2])]);
    const iterator = sseEncode()(source)[Symbol.asyncIterator]();
    await iterator.next();
    assert.equal(source.pulls, 1);
    await iterator.return?.(undefined);
    assert.equal(source.finished, true);
  });
});

describe('dataLines / encodeEvent (raw strings)', () => {
  const cases: Array<[string, string]> = [
    ['plain', 'hello'],
    ['LF', 'line 1\nline 2'],
    ['CRLF', 'line 1\r\nline 2'],
    ['CR', 'line 1\rline 2'],
    ['mixed', 'a\nb\r\nc\rd'],
    ['blank lines', 'a\n\nb'],
    ['CR LF as two breaks', 'a\r\rb\n\nc'],
    ['trailing LF', 'end\n'],
    ['trailing CR', 'end\r'],
    ['leading LF', '\nstart'],
    ['only LF', '\n'],
    ['leading space', ' indented'],
    ['leading colon', ':not a comment'],
    ['field-like text', 'id: forged\nevent: forged\nretry: 1'],
    ['unicode', 'ünïcødé ☃ 😀 \u2028 \u0085'],
  ];

  for (const [name, text] of cases) {
    it(`round-trips ${name} through a real parser (line breaks become LF)`, () => {
      const block = encodeEvent('message', 'the-id', text);
      const real = parseWithEventsourceParser(block);
      assert.equal(real.events.length, 1);
      assert.equal(real.events[0]!.data, normalizeLineBreaks(text));
      assert.equal(real.events[0]!.id, 'the-id');
      assert.equal(real.events[0]!.event, 'message');
      const spec = parseWithSpec(block);
      assert.deepEqual(spec.events, [{ type: 'message', data: normalizeLineBreaks(text), lastEventId: 'the-id' }]);
    });
  }

  it('writes one data: field per line', () => {
    assert.equal(dataLines('a'), 'data: a\n');
    assert.equal(dataLines('a\nb\r\nc\rd'), 'data: a\ndata: b\ndata: c\ndata: d\n');
    assert.equal(dataLines('x\n'), 'data: x\ndata: \n');
  });

  it('omits the id field when no id is given', () => {
    assert.equal(encodeEvent('message', undefined, 'x'), 'event: message\ndata: x\n\n');
  });

  it('round-trips any non-empty string, whatever its line breaks (property)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1 }),
      fc.array(fc.constantFrom('a', ' ', ':', '\n', '\r', '\r\n', 'data: x', 'id: y', '\u0000', 'é'), { minLength: 1, maxLength: 20 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(text, (value) => {
        const block = encodeEvent('message', 'i', value);
        const real = parseWithEventsourceParser(block);
        assert.equal(real.events.length, 1);
        assert.equal(real.events[0]!.data, normalizeLineBreaks(value));
        assert.deepEqual(parseWithSpec(block).events.map((e) => e.data), [normalizeLineBreaks(value)]);
      }),
      { numRuns: 1000 },
    );
  });

  it('parses the same whatever the chunk boundaries (property)', () => {
    const text = 'a\r\nb\rc\nd';
    const stream = encodeEvent('message', 'x', text) + encodeComment('ping') + `id: y\n\n` + encodeEvent('message', undefined, '{"k":1}');
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 10 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const chunks = points.slice(1).map((end, i) => stream.slice(points[i], end));
        const real = parseWithEventsourceParser(...chunks);
        assert.deepEqual(real.events.map((e) => e.data), [normalizeLineBreaks(text), '{"k":1}']);
        assert.deepEqual(real.comments, ['ping']);
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeComment', () => {
  it('writes a comment line that clients ignore', () => {
    const block = encodeComment('heartbeat');
    assert.equal(block, ': heartbeat\n\n');
    const real = parseWithEventsourceParser(block);
    assert.deepEqual(real.events, []);
    assert.deepEqual(real.comments, ['heartbeat']);
    assert.deepEqual(parseWithSpec(block).events, []);
  });

  it('keeps a comment on one line even if the text has line breaks', () => {
    const block = encodeComment('a\nb\r\nc\rdata: injected');
    const real = parseWithEventsourceParser(block);
    assert.deepEqual(real.events, []);
    assert.equal(real.comments.length, 1);
    assert.deepEqual(parseWithSpec(block).events, []);
  });
});

describe('sseEncodeBytes (the default pipeline\'s byte writer)', () => {
  // Numbers are written digit by digit on this path: every range must come out as JSON.stringify writes it.
  const edgeNumbers = [0, 9, 10, 99, 999_999_999, 1_000_000_000, 2 ** 31 - 1, 2 ** 31, 21_474_836_480, 99_999_999_999, 1_764_250_000_123, Number.MAX_SAFE_INTEGER];
  const numbers = fc.oneof(
    fc.constantFrom(...edgeNumbers, ...edgeNumbers.map((n) => -n), -1, 2 ** 53 + 2, 1e21, 0.5, Number.NaN, Infinity),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
    fc.maxSafeInteger(),
  );
  const keys = fc.oneof(fc.constant(null), fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)));
  const values = fc.constantFrom('{}', '{"a":1}', '{"x":"\u00e9\u20ac"}', '{"n":[1,{"b":null}]}');
  const topics = fc.constantFrom('t', 'topic.with-dots_1', 'T');

  async function encodeWith(encode: typeof sseEncode | typeof sseEncodeBytes, batches: Array<Array<{ topic: string; partition: number; offset: number; timestamp: number; key: Buffer | null; value: string }>>, useTimestampForId: boolean) {
    const assigned = ['t', 'topic.with-dots_1', 'T'].flatMap((topic) => [0, 1].map((partition) => ({ topic, partition, offset: 0 })));
    const source = async function* () {
      for (const records of batches) {
        yield { records: records.map((r) => ({ ...r, value: Buffer.from(r.value), headers: {} })), progress: [] };
      }
    };
    const chunks = await collect(encode()(idTrack(assigned, { useTimestampForId, startTimestamp: 5 })(deserialize(undefined, undefined, { rawJson: true })(source()))));
    return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))).toString('latin1');
  }

  it('writes exactly what sseEncode writes, for any offset, timestamp, key, topic and partition run', async () => {
    const record = fc.record({ topic: topics, partition: fc.integer({ min: 0, max: 1 }), offset: numbers, timestamp: numbers, key: keys, value: values });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(record, { maxLength: 6 }), { maxLength: 4 }), fc.boolean(), async (batches, useTimestampForId) => {
        assert.equal(await encodeWith(sseEncodeBytes, batches, useTimestampForId), await encodeWith(sseEncode, batches, useTimestampForId));
      }),
      { numRuns: 1500 },
    );
  });

  it('writes a 13-digit timestamp and a nine-digit boundary offset as digits, not in exponent form', async () => {
    const text = await encodeWith(sseEncodeBytes, [[{ topic: 't', partition: 0, offset: 1_000_000_000, timestamp: 1_764_250_000_123, key: null, value: '{}' }]], false);
    assert.match(text, /"_kafka":\{"topic":"t","partition":0,"offset":1000000000,"timestamp":1764250000123,"key":null\}\}\n\n/);
    assert.match(text, /id: \[\{"topic":"t","partition":0,"offset":1000000001\}/);
  });
});
