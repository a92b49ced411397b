// Stage micro-benchmark: CPU per record of the default pipeline's stages on in-memory batches (no Kafka,
// no HTTP), each line adding one stage to the previous: `npx tsx bench/stages.ts`. 40 batches of 10,000
// ~300-byte JSON records from 3 partitions, as a drain fetches them; best of 7 rounds. The last lines: the
// whole pipeline with an identity stage or a one-field filter between deserialize and idTrack, and with
// the parsing deserializer. For finding where a drain's server time goes (bench/run.ts measures the drain).
import { rawJsonObject } from '../src/json/validate.js';
import { deserialize } from '../src/stages/deserialize.js';
import { filter } from '../src/stages/filter.js';
import { idTrack } from '../src/stages/idTrack.js';
import { sseEncodeBytes } from '../src/stages/sseEncode.js';
import type { DeserializedRecord, KafkaRecord, RecordBatch } from '../src/types.js';
import { jsonRecord } from './support.js';

const topic = 'bench-drain-0123abcd';
const PER_BATCH = 10_000;
const BATCHES = Number(process.env.BATCHES ?? 40);
const ROUNDS = 7;

/** A batch as a fetch brings it: runs of records per partition, values as views of one response buffer. */
function makeBatch(b: number): RecordBatch<KafkaRecord> {
  const texts = Array.from({ length: PER_BATCH }, (_, i) => jsonRecord(b * PER_BATCH + i));
  const response = Buffer.from(texts.join(''));
  const records: KafkaRecord[] = [];
  let at = 0;
  texts.forEach((text, i) => {
    const length = Buffer.byteLength(text);
    const offset = b * PER_BATCH + i;
    records.push({ topic, partition: i % 3, offset, timestamp: 1_764_250_000_000 + offset, key: null, value: response.subarray(at, at + length), headers: {} });
    at += length;
  });
  records.sort((x, y) => x.partition - y.partition);
  return { records, progress: [0, 1, 2].map((partition) => ({ topic, partition, nextOffset: (b + 1) * PER_BATCH })) };
}

const batches = Array.from({ length: BATCHES }, (_, b) => makeBatch(b));
const positions = [0, 1, 2].map((partition) => ({ topic, partition, offset: 0 }));
async function* source(): AsyncGenerator<RecordBatch<KafkaRecord>> {
  yield* batches;
}
const deserialized = () => deserialize(undefined, undefined, { rawJson: true })(source());

async function time(label: string, run: () => Promise<void>): Promise<void> {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const startedAt = performance.now();
    await run();
    best = Math.min(best, performance.now() - startedAt);
  }
  console.log(`${label.padEnd(34)} ${((best * 1e6) / (PER_BATCH * BATCHES)).toFixed(0).padStart(5)} ns/record`);
}

let sink = 0;
// Warm-up: JIT, and the collector done with the garbage of building the batches.
for (let i = 0; i < 3; i++) for await (const chunk of sseEncodeBytes()(idTrack(positions)(deserialized()))) sink += chunk.length;
await time('rawJsonObject alone', async () => {
  for (const batch of batches) for (const r of batch.records) sink += rawJsonObject(r.value!);
});
await time('deserialize (raw JSON)', async () => {
  for await (const batch of deserialized()) sink += batch.records.length;
});
await time('deserialize → idTrack', async () => {
  for await (const batch of idTrack(positions)(deserialized())) sink += batch.records.length;
});
await time('deserialize → idTrack → sseEncodeBytes', async () => {
  for await (const chunk of sseEncodeBytes()(idTrack(positions)(deserialized()))) sink += chunk.length;
});
// The same with a user stage between deserialize and idTrack (what `transform` and `filterer` add).
async function* identity(source: AsyncIterable<RecordBatch<DeserializedRecord>>) {
  yield* source;
}
const readsOneField = filter((r: DeserializedRecord) => typeof (r.message as { id?: unknown }).id === 'number');
await time('… + identity transform', async () => {
  for await (const chunk of sseEncodeBytes()(idTrack(positions)(identity(deserialized())))) sink += chunk.length;
});
await time('… + filterer reading one field', async () => {
  for await (const chunk of sseEncodeBytes()(idTrack(positions)(readsOneField(deserialized())))) sink += chunk.length;
});
await time('slow path: deserialize() parsing all', async () => {
  for await (const chunk of sseEncodeBytes()(idTrack(positions)(deserialize()(source())))) sink += chunk.length;
});
console.log(`(${sink > 0 ? 'done' : ''}; each line includes the stages above it)`);
