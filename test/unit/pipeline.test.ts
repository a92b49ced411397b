// The stages composed with it-pipe over MemorySource, as a user assembles them: the default order, a
// stage of the user's own in the middle, resuming from an id, and ending on abort.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { pipe } from 'it-pipe';
import { parseLastEventId } from '../../src/position.js';
import { consume } from '../../src/stages/consume.js';
import { deserialize } from '../../src/stages/deserialize.js';
import { filter } from '../../src/stages/filter.js';
import { idTrack } from '../../src/stages/idTrack.js';
import { ndjsonEncode } from '../../src/stages/ndjsonEncode.js';
import { sink } from '../../src/stages/sink.js';
import { sseEncode } from '../../src/stages/sseEncode.js';
import { webSink } from '../../src/stages/webSink.js';
import { MemorySource, collect } from '../../src/testing.js';
import type { DeserializedRecord, KafkaRecord, Position, RecordBatch, TrackedBatch } from '../../src/types.js';
import { recordingLogger, within } from './support.js';

interface Order {
  id: number;
  status: string;
  secret?: string;
}

/** A user's own stage: projects each message to a few public fields. */
function project<R extends DeserializedRecord>(fields: string[]) {
  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<RecordBatch<R>> {
    for await (const batch of source) {
      yield {
        ...batch,
        records: batch.records.map((r) => ({
          ...r,
          message: Object.fromEntries(fields.map((f) => [f, (r.message as Record<string, unknown>)[f]])),
        })),
      };
    }
  };
}

/** Test-only stage: ends the stream at the first idle batch after `skip` idle batches (i.e. once caught up). */
function untilCaughtUp<R extends DeserializedRecord>(skip = 1) {
  return async function* (source: AsyncIterable<TrackedBatch<R>>): AsyncGenerator<TrackedBatch<R>> {
    let idle = 0;
    for await (const batch of source) {
      yield batch;
      if (batch.idle && ++idle > skip) return;
    }
  };
}

function orders(source: MemorySource, partition: number, from: number, count: number) {
  for (let id = from; id < from + count; id++) {
    source.append({ topic: 'orders', partition, value: { id, status: id % 3 === 0 ? 'cancelled' : 'paid', secret: `s${id}` }, key: `k${id}` });
  }
}

function parseSse(text: string) {
  const events: EventSourceMessage[] = [];
  const ids: string[] = []; // every id: field, including those of position blocks
  // Position blocks (event: position) move the id but are not records.
  createParser({ onEvent: (e) => e.event !== 'position' && events.push(e) }).feed(text);
  for (const line of text.split('\n')) if (line.startsWith('id: ')) ids.push(line.slice(4));
  return { events, lastId: ids[ids.length - 1] };
}

const start: Position[] = [
  { topic: 'orders', partition: 0, offset: 0 },
  { topic: 'orders', partition: 1, offset: 0 },
];

describe('pipeline: consume → deserialize → filter → custom stage → idTrack → sseEncode', () => {
  function sse(source: MemorySource, positions: Position[], signal?: AbortSignal) {
    return pipe(
      consume(source, positions, signal ? { signal } : {}),
      deserialize(),
      filter((r) => (r.message as Order).status !== 'cancelled'),
      project(['id', 'status']),
      idTrack<DeserializedRecord>(positions),
      untilCaughtUp(),
      sseEncode({ idOnlyIntervalMs: 0 }),
    );
  }

  it('streams the kept records as SSE events, transformed by the custom stage, in partition order', async () => {
    const source = new MemorySource(4);
    orders(source, 0, 0, 10);
    orders(source, 1, 100, 5);
    const { events } = parseSse((await within(collect(sse(source, start)))).join(''));
    const messages = events.map((e) => JSON.parse(e.data) as Order);
    assert.ok(messages.every((m) => m.status === 'paid' && m.secret === undefined && Object.keys(m).length === 2));
    const byPartition = (ids: number[]) => ids.filter((id) => id % 3 !== 0);
    assert.deepEqual(messages.filter((m) => m.id < 100).map((m) => m.id), byPartition([...Array(10).keys()]));
    assert.deepEqual(messages.filter((m) => m.id >= 100).map((m) => m.id), byPartition([100, 101, 102, 103, 104]));
    assert.ok(events.every((e) => e.event === 'message' && e.id !== undefined));
  });

  it('ends with an id that counts filtered records as read, and resumes from it with nothing lost or repeated', async () => {
    const source = new MemorySource(3);
    orders(source, 0, 0, 10); // ids 0, 3, 6, 9 are filtered out; 9 is the last record of partition 0
    orders(source, 1, 100, 3);
    const first = parseSse((await within(collect(sse(source, start)))).join(''));
    assert.deepEqual(parseLastEventId(first.lastId!).partitions, [
      { topic: 'orders', partition: 0, offset: 10 },
      { topic: 'orders', partition: 1, offset: 3 },
    ]);

    orders(source, 0, 10, 4);
    orders(source, 1, 103, 2);
    const resumeAt = parseLastEventId(first.lastId!).partitions.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset! }));
    const second = parseSse((await within(collect(sse(source, resumeAt)))).join(''));
    const all = [...first.events, ...second.events].map((e) => (JSON.parse(e.data) as Order).id);
    const expected = [...Array(14).keys(), 100, 101, 102, 103, 104].filter((id) => id % 3 !== 0);
    assert.deepEqual([...all].sort((a, b) => a - b), expected);
    assert.equal(new Set(all).size, all.length, 'a record was delivered twice');
  });

  it('gives every event an id that resumes right after that event', async () => {
    const source = new MemorySource();
    orders(source, 0, 1, 2); // offsets 0, 1 → ids 1, 2
    const { events } = parseSse((await within(collect(sse(source, start)))).join(''));
    assert.deepEqual(
      events.map((e) => parseLastEventId(e.id!).partitions.map((p) => p.offset)),
      [
        [1, 0],
        [2, 0],
      ],
    );
  });

  it('ends promptly when aborted while waiting for records, running every stage\'s finally', async () => {
    const source = new MemorySource();
    orders(source, 0, 1, 1);
    const controller = new AbortController();
    const closed: string[] = [];
    const spy = <T>(name: string) =>
      async function* (src: AsyncIterable<T>): AsyncGenerator<T> {
        try {
          yield* src;
        } finally {
          closed.push(name);
        }
      };
    const iterator = pipe(
      consume(source, start, { signal: controller.signal }),
      spy<RecordBatch<KafkaRecord>>('consume'),
      deserialize(),
      filter(() => true),
      idTrack<DeserializedRecord>(start),
      spy<TrackedBatch>('idTrack'),
      sseEncode(),
    )[Symbol.asyncIterator]();
    const chunks: string[] = [];
    // initial id, then the record; then consume catches up and waits.
    while (!chunks.join('').includes('event: message')) chunks.push(((await within(iterator.next())).value as string) ?? '');
    const pending = iterator.next();
    controller.abort();
    assert.equal((await within(pending, 1000, 'pipeline end after abort')).done, true);
    assert.deepEqual(closed, ['consume', 'idTrack']);
  });

  it('ends with the error of a throwing custom stage', async () => {
    const source = new MemorySource();
    orders(source, 0, 1, 1);
    const failing = async function* (src: AsyncIterable<RecordBatch<DeserializedRecord>>): AsyncGenerator<RecordBatch<DeserializedRecord>> {
      for await (const batch of src) {
        if (batch.records.length > 0) throw new Error('custom stage failed');
        yield batch;
      }
    };
    const stream = pipe(consume(source, start), deserialize(), failing, idTrack<DeserializedRecord>(start), sseEncode());
    await assert.rejects(within(collect(stream)), /custom stage failed/);
  });

  it('skips records that do not deserialize, warns once for each, and still moves the id past them', async () => {
    const source = new MemorySource();
    source.append({ topic: 'orders', partition: 0, value: { id: 1, status: 'paid' } });
    source.append({ topic: 'orders', partition: 0, value: Buffer.from('not json') });
    source.append({ topic: 'orders', partition: 0, value: null });
    const logger = recordingLogger();
    const text = (
      await within(collect(pipe(consume(source, start), deserialize(undefined, logger), idTrack<DeserializedRecord>(start), untilCaughtUp(), sseEncode({ idOnlyIntervalMs: 0 }))))
    ).join('');
    const { events, lastId } = parseSse(text);
    assert.equal(events.length, 1);
    assert.equal(logger.calls.filter((c) => c.level === 'warn').length, 2);
    assert.equal(parseLastEventId(lastId!).partitions[0]!.offset, 3);
  });
});

describe('pipeline: other ends', () => {
  it('streams NDJSON with no ids: consume → deserialize → ndjsonEncode', async () => {
    const source = new MemorySource();
    orders(source, 0, 1, 3);
    const controller = new AbortController();
    const iterator = pipe(consume(source, start, { signal: controller.signal }), deserialize(), ndjsonEncode())[Symbol.asyncIterator]();
    const chunk = (await within(iterator.next())).value as string;
    controller.abort();
    await within(iterator.return(undefined));
    const lines = chunk.trimEnd().split('\n').map((l) => JSON.parse(l) as Order & { _kafka: { offset: number } });
    assert.deepEqual(lines.map((l) => l.id), [1, 2, 3]);
    assert.deepEqual(lines.map((l) => l._kafka.offset), [0, 1, 2]);
  });

  it('writes to a Node Writable through sink', async () => {
    const source = new MemorySource();
    orders(source, 1, 1, 2);
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    await within(pipe(consume(source, start), deserialize(), idTrack<DeserializedRecord>(start), untilCaughtUp(), sseEncode(), sink(out)));
    assert.equal(parseSse(text).events.length, 2);
  });

  it('serves a ReadableStream through webSink, and cancelling it ends the pipeline', async () => {
    const source = new MemorySource();
    orders(source, 0, 1, 2);
    const controller = new AbortController();
    let ended = false;
    const stages = pipe(consume(source, start, { signal: controller.signal }), deserialize(), idTrack<DeserializedRecord>(start), sseEncode());
    async function* tracked() {
      try {
        yield* stages;
      } finally {
        ended = true;
      }
    }
    const reader = webSink(tracked()).getReader();
    let text = '';
    while (parseSse(text).events.length < 2) text += new TextDecoder().decode((await within(reader.read())).value);
    // Cancel while the pipeline is not mid-pull; abort covers the case where it is (see webSink tests).
    await within(reader.cancel(), 1000, 'cancel');
    controller.abort();
    assert.equal(ended, true);
  });
});
