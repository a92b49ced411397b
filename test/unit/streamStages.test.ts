// The stages that frame a stream for its client: preamble, byte and event metering, error events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopicDeletedError, UnsupportedCompressionError, toClientError } from '../../src/errors.js';
import { errorEvent } from '../../src/stages/errorEvent.js';
import { countEvents, meter } from '../../src/stages/meter.js';
import { preamble } from '../../src/stages/preamble.js';

async function* chunks(...items: Array<string | Error>): AsyncGenerator<string> {
  for (const item of items) {
    if (item instanceof Error) throw item;
    yield item;
  }
}

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

test('preamble: a comment naming the stream and the retry hint come first, once', async () => {
  assert.deepEqual(await all(preamble('kafka-sse stream s1', 1500)(chunks('a', 'b'))), [': kafka-sse stream s1\n\nretry: 1500\n\n', 'a', 'b']);
  assert.deepEqual(await all(preamble('s2', 0)(chunks())), [': s2\n\n'], 'retryMs 0 sends no retry field');
});

test('meter counts bytes (UTF-8, strings and buffers) and reports each chunk with the events counted since the last', async () => {
  const counters = { events: 0, bytes: 0 };
  const reports: Array<{ events: number; bytes: number }> = [];
  async function* batches() {
    yield { records: [1, 2, 3] };
    yield { records: [4] };
  }
  async function* encoded(source: AsyncIterable<{ records: number[] }>) {
    for await (const batch of source) yield batch.records.length === 1 ? Buffer.from('é') : 'abc';
  }
  const out = await all(meter(counters, (r) => reports.push(r))(encoded(countEvents(counters)(batches()))));
  assert.equal(out.length, 2);
  assert.deepEqual(counters, { events: 4, bytes: 5 });
  assert.deepEqual(reports, [{ events: 3, bytes: 3 }, { events: 1, bytes: 2 }]);
});

test('errorEvent: an error upstream becomes one SSE error event with its JSON, and the stream ends', async () => {
  const seen: string[] = [];
  const out = await all(errorEvent({ onError: (_err, clientError) => seen.push(clientError.code) })(chunks('a', new TopicDeletedError('Topic t no longer exists', { topic: 't' }), 'never')));
  assert.equal(out[0], 'a');
  assert.equal(out.length, 2);
  assert.match(out[1]!, /^event: error\ndata: \{.*\}\n\n$/);
  assert.deepEqual(JSON.parse(out[1]!.slice('event: error\ndata: '.length)), { topic: 't', name: 'TopicDeletedError', code: 'KSSE_TOPIC_DELETED', status: 410, message: 'Topic t no longer exists' });
  assert.deepEqual(seen, ['KSSE_TOPIC_DELETED']);
});

test('errorEvent: an error thrown by a stage of ours or yours is KSSE_STAGE_ERROR with its message, no stack', async () => {
  const out = await all(errorEvent()(chunks(new Error('filter exploded'))));
  assert.match(out[0]!, /"code":"KSSE_STAGE_ERROR"/);
  assert.match(out[0]!, /The stream failed: filter exploded/);
  assert.doesNotMatch(out[0]!, /"stack"|at .*\.ts/);
});

test('errorEvent: a toClientError of your own decides what the client sees', async () => {
  const out = await all(errorEvent({ toClientError })(chunks(new Error('secret internals at 10.0.0.7:9092'))));
  assert.match(out[0]!, /"code":"KSSE_INTERNAL"/);
  assert.doesNotMatch(out[0]!, /secret|10\.0\.0\.7/);
});

test('errorEvent: an error with retryAfterSeconds asks the client to wait that long first', async () => {
  const out = await all(errorEvent()(chunks(new UnsupportedCompressionError('snappy', { codec: 'snappy', retryAfterSeconds: 60 }))));
  assert.match(out[0]!, /^retry: 60000\n\nevent: error\n/);
});

test('errorEvent: NDJSON streams and aborted streams just end', async () => {
  assert.deepEqual(await all(errorEvent({ format: 'ndjson' })(chunks('a', new Error('x')))), ['a']);
  const aborted = AbortSignal.abort();
  assert.deepEqual(await all(errorEvent({ signal: aborted })(chunks('a', new Error('x')))), ['a']);
});

test('deserialize takes one options object like every stage factory, and the positional form still works', async () => {
  const { deserialize } = await import('../../src/stages/deserialize.js');
  const { record } = await import('../../src/testing.js');
  const batch = { records: [record({ topic: 't', offset: 0, value: { a: 1 } }), record({ topic: 't', offset: 1, value: null })], progress: [] };
  async function* one() {
    yield { records: batch.records.map((r) => ({ ...r })), progress: [] };
  }
  const warned: unknown[] = [];
  const logger = { child: () => logger, debug() {}, info() {}, warn: (o: unknown) => void warned.push(o), error() {} };
  const viaOptions = await all(deserialize({ logger })(one()));
  const viaPositional = await all(deserialize(undefined, logger)(one()));
  assert.deepEqual(viaOptions.map((b) => b.records.map((r) => r.message)), [[{ a: 1, _kafka: { topic: 't', partition: 0, offset: 0, timestamp: batch.records[0]!.timestamp, key: null } }]]);
  assert.deepEqual(viaPositional.map((b) => b.records.map((r) => r.message)), viaOptions.map((b) => b.records.map((r) => r.message)));
  assert.equal(warned.length, 2, 'the tombstone was reported to the logger in both forms');
});

test('webSink({ onCancel }) is a stage factory ending a pipe; webSink(source) still works', async () => {
  const { webSink } = await import('../../src/stages/webSink.js');
  const read = async (stream: ReadableStream<Uint8Array>) => new TextDecoder().decode(Buffer.concat(await all(stream as unknown as AsyncIterable<Uint8Array>)));
  assert.equal(await read(webSink()(chunks('a', 'b'))), 'ab');
  assert.equal(await read(webSink(chunks('c'))), 'c');
});
