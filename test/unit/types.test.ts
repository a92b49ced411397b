// Compile-time checks: a mis-ordered pipeline must not typecheck. `npm test` runs `tsc --noEmit` first,
// so every `@ts-expect-error` below is enforced: if a line stops being an error, tsc fails with
// "Unused '@ts-expect-error' directive". The functions are never called; only the types matter.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pipe } from 'it-pipe';
import { consume } from '../../src/stages/consume.js';
import { deserialize } from '../../src/stages/deserialize.js';
import { filter } from '../../src/stages/filter.js';
import { idTrack } from '../../src/stages/idTrack.js';
import { ndjsonEncode } from '../../src/stages/ndjsonEncode.js';
import { sink } from '../../src/stages/sink.js';
import { sseEncode } from '../../src/stages/sseEncode.js';
import { webSink } from '../../src/stages/webSink.js';
import { MemorySource, collect } from '../../src/testing.js';
import type { DeserializedRecord, Position, RecordBatch, Stage, TrackedBatch } from '../../src/types.js';

const positions: Position[] = [{ topic: 't', partition: 0, offset: 0 }];
const source = new MemorySource();
const out = new Writable({ write: (_chunk, _encoding, callback) => callback() });

/** A user's own stage, typed with the exported `Stage`. */
const upperCase: Stage<RecordBatch<DeserializedRecord>, RecordBatch<DeserializedRecord>> = async function* (batches) {
  for await (const batch of batches) yield { ...batch, records: batch.records.map((r) => ({ ...r, message: String(r.message).toUpperCase() })) };
};

/** Pipelines in the right order: these must compile. */
function wellOrdered() {
  const signal = new AbortController().signal;
  const sse: AsyncIterable<string> = pipe(consume(source, positions, { signal }), deserialize(), filter(() => true), upperCase, idTrack<DeserializedRecord>(positions), sseEncode());
  const nested: AsyncIterable<string> = sseEncode()(idTrack<DeserializedRecord>(positions)(filter(() => true)(deserialize()(consume(source, positions)))));
  const ndjson: AsyncIterable<string> = ndjsonEncode()(deserialize()(consume(source, positions)));
  const done: Promise<void> = pipe(consume(source, positions), deserialize(), idTrack<DeserializedRecord>(positions), sseEncode(), sink(out));
  const body: ReadableStream<Uint8Array> = webSink(ndjsonEncode()(filter(() => true)(deserialize()(consume(source, positions)))));
  const tracked: AsyncIterable<TrackedBatch> = idTrack<DeserializedRecord>(positions)(deserialize()(consume(source, positions)));
  return [sse, nested, ndjson, done, body, tracked];
}

/** Pipelines in the wrong order: each marked line must fail to compile. */
function misOrdered() {
  const deserialized = deserialize()(consume(source, positions));
  const encoded = sseEncode()(idTrack<DeserializedRecord>(positions)(deserialized));

  // sseEncode needs ids: records must go through idTrack first.
  // @ts-expect-error RecordBatch has no `id`/`idle`, its records no `id`
  sseEncode()(deserialized);
  // @ts-expect-error raw Kafka records, neither deserialized nor tracked
  sseEncode()(consume(source, positions));
  // @ts-expect-error the same mistake inside it-pipe
  pipe(consume(source, positions), deserialize(), sseEncode());

  // filter sees deserialized records: it cannot come before deserialize.
  // @ts-expect-error KafkaRecord has no `message`
  filter((r) => r.message !== null)(consume(source, positions));

  // ndjsonEncode sends `message`: records must be deserialized, and not tracked.
  // @ts-expect-error KafkaRecord has no `message`
  ndjsonEncode()(consume(source, positions));
  // @ts-expect-error TrackedBatch is not a RecordBatch
  ndjsonEncode()(idTrack<DeserializedRecord>(positions)(deserialized));

  // Stages after an encoder see strings.
  // @ts-expect-error idTrack needs batches, not encoded text
  idTrack<DeserializedRecord>(positions)(encoded);
  // @ts-expect-error deserialize needs Kafka batches
  deserialize()(encoded);

  // The sinks take encoded text or bytes only.
  // @ts-expect-error sink cannot write batches
  void sink(out)(deserialized);
  // @ts-expect-error webSink cannot stream tracked batches
  webSink(idTrack<DeserializedRecord>(positions)(deserialized));

  // A custom stage is checked like any other.
  // @ts-expect-error upperCase needs deserialized batches
  upperCase(consume(source, positions));
}

/** The natural default pipeline compiles without type arguments (idTrack defaults to deserialized records). */
function naturalDefaultPipeline() {
  pipe(consume(source, positions), deserialize(), idTrack(positions), sseEncode());
  sseEncode()(idTrack(positions)(deserialize()(consume(source, positions))));
}

describe('types', () => {
  it('has the compile-time checks above enforced by tsc (npm test typechecks before running tests)', () => {
    assert.equal(typeof wellOrdered, 'function');
    assert.equal(typeof misOrdered, 'function');
    assert.equal(typeof naturalDefaultPipeline, 'function');
  });

  it('runs a well-ordered pipeline built from the typed stages', async () => {
    const memory = new MemorySource();
    memory.append({ topic: 't', partition: 0, value: { a: 'x' } });
    const controller = new AbortController();
    const iterator = pipe(consume(memory, positions, { signal: controller.signal }), deserialize(), ndjsonEncode())[Symbol.asyncIterator]();
    const first = await iterator.next();
    controller.abort();
    await iterator.return?.(undefined);
    assert.match(String(first.value), /^\{"a":"x","_kafka":\{/);
    assert.deepEqual(await collect(upperCase((async function* () { yield { records: [], progress: [] }; })())), [{ records: [], progress: [] }]);
  });
});
