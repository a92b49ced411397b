// The raw-JSON fast path through `kafkaSse` with a `filterer` and a `transform` of the user's own, on the
// real broker: what the client receives is what it receives without them (or, where the stage changes
// the message, what the parsing path sends). Unit-level differential tests: test/unit/fastPath.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeserializedRecord, KafkaSseOptions, RecordBatch } from '../../src/index.js';
import { createTopic, produce } from '../helpers/kafka.js';
import { readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const kafka = sharedKafka();

type Transform = NonNullable<KafkaSseOptions['transform']>;
const perRecord =
  (fn: (r: DeserializedRecord) => DeserializedRecord): Transform =>
  async function* (source: AsyncIterable<RecordBatch<DeserializedRecord>>) {
    for await (const batch of source) yield { ...batch, records: batch.records.map(fn) };
  };

/** The stream's `data:` lines once `count` events arrived, read raw (byte for byte what was sent). */
async function dataLines(topic: string, options: Omit<KafkaSseOptions, 'kafka'>, count: number, accept = 'text/event-stream'): Promise<string[]> {
  const server = await startServer({ kafka, ...options });
  const { text } = await readRaw(`${server.url}/x`, {
    headers: { accept, 'Last-Event-ID': JSON.stringify([0, 1].map((partition) => ({ topic, partition, offset: 0 }))) },
    until: (t) => (accept === 'text/event-stream' ? (t.match(/^data: \{/gm) ?? []).length : t.split('\n').length - 1) >= count,
  });
  return accept === 'text/event-stream' ? text.split('\n').filter((l) => l.startsWith('data: {')) : text.split('\n').filter(Boolean);
}

test('a filterer and transforms that pass, drop, spread or change records send what the default and parsing paths send', async () => {
  const topic = await createTopic(2);
  // Values in JSON.stringify's spelling, and two in their own (spaces, an escape): sent from their bytes,
  // those two keep it, which tells the fast path from the parsing one.
  await produce(topic, [
    ...Array.from({ length: 40 }, (_, n) => ({ partition: n % 2, value: { n, text: `é ${n}`, nested: { list: [n, null, true] } }, key: n % 3 ? `k${n}` : null })),
    { partition: 0, value: Buffer.from('{"n": 40, "text": "\\u00e9"}') },
    { partition: 1, value: Buffer.from('{ "n":41 }') },
  ]);
  const plain = await dataLines(topic, {}, 42);
  assert.equal(plain.length, 42);
  assert.ok(plain.some((l) => l.startsWith('data: {"n": 40, "text": "\\u00e9",')), 'the default pipeline sends values as their bytes');
  const values = (lines: string[]) => lines.map((l) => JSON.parse(l.slice(6)) as unknown);
  assert.deepEqual(await dataLines(topic, { transform: perRecord((r) => r) }, 42), plain, 'identity');
  assert.deepEqual(await dataLines(topic, { transform: perRecord((r) => Object.assign(r, { extra: 1 })) }, 42), plain, 'a field added in place');
  const even = (r: DeserializedRecord) => (r.message as { n: number }).n % 2 === 0;
  assert.deepEqual(await dataLines(topic, { filterer: even }, 21), plain.filter((l) => (JSON.parse(l.slice(6)) as { n: number }).n % 2 === 0), 'filterer reading a field');
  // Copies are sent from their message: the same values, in JSON.stringify's spelling.
  const canonical = values(plain).map((v) => `data: ${JSON.stringify(v)}`);
  assert.deepEqual(await dataLines(topic, { transform: perRecord((r) => ({ ...r, extra: 1 })) }, 42), canonical, 'spread with a top-level field');
  assert.deepEqual(await dataLines(topic, { transform: perRecord((r) => structuredClone(r)) }, 42), canonical, 'structuredClone');
  const changed = await dataLines(topic, { transform: perRecord((r) => ({ ...r, message: { ...(r.message as object), seen: true } })) }, 42);
  assert.deepEqual(changed, canonical.map((l) => `${l.slice(0, -1)},"seen":true}`), 'changed message');
  assert.deepEqual(
    await dataLines(topic, { transform: perRecord((r) => r) }, 42, 'application/json'),
    plain.map((l) => l.slice(6)),
    'NDJSON, with a transform',
  );
});
