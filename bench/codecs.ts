// `npx tsx bench/codecs.ts [--rounds=N]`
// Decompression speed of the record-batch codecs (src/kafka/codecs.ts) on the records section of realistic
// batches: ~300-byte JSON records, ~16 KiB (the Java producer's default batch.size) and ~512 KiB (a large
// batch), compressed the way the Java client writes them (snappy in xerial chunks of 32 KiB, LZ4 frames,
// zstd frames without a content size). Every figure stands beside references from the same run: node:zlib
// gunzip of the same records, and the alternatives that were not chosen (zstddec is only fed valid frames
// here: on corrupt ones it returned garbage or looped). Each round times calls one after
// another for ~100 ms; rounds of all candidates are interleaved; the table gives the median round and the
// spread (min–max) over the rounds.
import { createRequire } from 'node:module';
import { gunzip, gunzipSync, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { decompress } from '../src/kafka/codecs.js';
import { jsonRecord } from './support.js';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 9);
const ROUND_MS = 100;

interface KafkajsEncoder {
  buffer: Buffer;
}
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => KafkajsEncoder;
const snappy = require('snappy') as {
  compressSync(d: Buffer): Buffer;
  uncompressSync(d: Buffer, o: { asBuffer: true; copyOutputData?: boolean }): Buffer;
  uncompress(d: Buffer, o: { asBuffer: true }): Promise<Buffer>;
};
const snappyjs = require('snappyjs') as { uncompress(d: Buffer): Buffer };
const lz4napi = require('lz4-napi') as { compressFrameSync(d: Buffer): Buffer; decompressFrame(d: Buffer): Promise<Buffer>; decompressFrameSync(d: Buffer): Buffer };
const { Decoder: ZstdDecoder } = require('@toondepauw/node-zstd') as { Decoder: new () => { decodeSync(d: Buffer): Buffer; decode(d: Buffer): Promise<Buffer> } };
const nodeZstd = new ZstdDecoder();
const lz4js = require('lz4js') as { decompress(d: Uint8Array): Uint8Array };
const fzstd = require('fzstd') as { decompress(d: Uint8Array): Uint8Array };
const { ZstdCodec } = require('zstd-codec') as { ZstdCodec: { run(cb: (z: { Streaming: new () => { compress(d: Uint8Array, level: number): Uint8Array } }) => void): void } };
const { ZSTDDecoder } = await import('zstddec/stream');
const gunzipAsync = promisify(gunzip);

/** The records section of a batch of ~300-byte JSON records (kafkajs's record encoder, as in a real batch). */
function recordsSection(targetBytes: number): { data: Buffer; records: number } {
  const parts: Buffer[] = [];
  let size = 0;
  let i = 0;
  while (size < targetBytes) {
    const record = Record({ offsetDelta: i, timestampDelta: i, key: Buffer.from(`k${i}`), value: Buffer.from(jsonRecord(i)), headers: {} }).buffer;
    parts.push(record);
    size += record.length;
    i++;
  }
  return { data: Buffer.concat(parts), records: i };
}

function xerial(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (let p = 0; p < data.length; p += 32 * 1024) {
    const block = snappy.compressSync(data.subarray(p, p + 32 * 1024));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

const zstdStreaming = await new Promise<new () => { compress(d: Uint8Array, level: number): Uint8Array }>((resolve) => ZstdCodec.run((z) => resolve(z.Streaming)));
const zstddec = new ZSTDDecoder();
await zstddec.init();

interface Candidate {
  name: string;
  run(): Buffer | Uint8Array | Promise<Buffer | Uint8Array>;
}

/** Checks each candidate's output once and warms it up. */
async function prepare(candidates: Candidate[], expected: Buffer): Promise<void> {
  for (const candidate of candidates) {
    const out = Buffer.from(await candidate.run());
    if (!out.equals(expected)) throw new Error(`${candidate.name}: wrong output`);
    for (let i = 0; i < 50; i++) await candidate.run();
  }
}

/** MB/s of decompressed output for one round of ~ROUND_MS of calls, one call after another. */
async function round(candidate: Candidate, bytes: number): Promise<number> {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ROUND_MS) {
    for (let i = 0; i < 10; i++) await candidate.run();
    calls += 10;
    elapsed = performance.now() - start;
  }
  return (calls * bytes) / (elapsed / 1000) / 1e6;
}

/**
 * Median and spread over ROUNDS rounds per candidate. Rounds are interleaved (every candidate once, then
 * again) so that load from elsewhere on the machine, and garbage one candidate leaves, fall on all alike.
 */
async function measureAll(candidates: Candidate[], expected: Buffer): Promise<Array<{ median: number; min: number; max: number }>> {
  await prepare(candidates, expected);
  const rates = candidates.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, candidate] of candidates.entries()) rates[i]!.push(await round(candidate, expected.length));
  }
  return rates.map((list) => {
    list.sort((a, b) => a - b);
    return { median: list[Math.floor(list.length / 2)]!, min: list[0]!, max: list.at(-1)! };
  });
}

console.log(`node ${process.version}, ${ROUNDS} rounds of ~${ROUND_MS} ms each; MB/s of decompressed output (median, min–max) and records/s at the median\n`);
for (const target of [16 * 1024, 512 * 1024]) {
  const { data, records } = recordsSection(target);
  const gz = gzipSync(data);
  const sn = xerial(data);
  const rawSnappy = snappy.compressSync(data);
  const lz = lz4napi.compressFrameSync(data);
  const zs = Buffer.from(new zstdStreaming().compress(data, 3));
  if ((zs[4]! & 0xc0) !== 0) throw new Error('the zstd frame should have no content size');
  const rows: Array<[string, number, Candidate]> = [
    ['gzip', gz.length, { name: 'decompress(gzip): node:zlib gunzip, async  [chosen]', run: () => decompress(1, gz) }],
    ['gzip', gz.length, { name: 'node:zlib gunzipSync                       [ref]', run: () => gunzipSync(gz) }],
    ['gzip', gz.length, { name: 'node:zlib gunzip, async, direct            [ref]', run: () => gunzipAsync(gz) }],
    ['snappy', sn.length, { name: 'decompress(snappy): snappy sync+copy, xerial [chosen]', run: () => decompress(2, sn) }],
    ['snappy', rawSnappy.length, { name: 'snappy sync+copy, raw, direct             [ref]', run: () => snappy.uncompressSync(rawSnappy, { asBuffer: true, copyOutputData: true }) }],
    ['snappy', rawSnappy.length, { name: 'snappy sync, no copy, raw                 [alt]', run: () => snappy.uncompressSync(rawSnappy, { asBuffer: true }) }],
    ['snappy', rawSnappy.length, { name: 'snappy async (thread pool), raw           [alt]', run: () => snappy.uncompress(rawSnappy, { asBuffer: true }) }],
    ['snappy', rawSnappy.length, { name: 'snappyjs (pure JS), raw                   [alt]', run: () => snappyjs.uncompress(rawSnappy) }],
    ['lz4', lz.length, { name: 'decompress(lz4): lz4-napi sync, frame      [chosen]', run: () => decompress(3, lz) }],
    ['lz4', lz.length, { name: 'lz4-napi decompressFrame async             [alt]', run: () => lz4napi.decompressFrame(lz) }],
    ['lz4', lz.length, { name: 'lz4js (pure JS), frame                     [alt]', run: () => lz4js.decompress(lz) }],
    ['zstd', zs.length, { name: 'decompress(zstd): node-zstd sync           [chosen]', run: () => decompress(4, zs) }],
    ['zstd', zs.length, { name: 'node-zstd async (thread pool)             [alt]', run: () => nodeZstd.decode(zs) }],
    ['zstd', zs.length, { name: 'fzstd (pure JS)                   [fallback]', run: () => fzstd.decompress(zs) }],
    ['zstd', zs.length, { name: 'zstddec/stream (WASM), decodeStreaming     [alt]', run: () => Buffer.concat([...zstddec.decodeStreaming([zs])]) }],
  ];
  console.log(`records section of ${(data.length / 1024).toFixed(0)} KiB (${records} records); gzip ${gz.length} B, snappy ${sn.length} B, lz4 ${lz.length} B, zstd ${zs.length} B`);
  const results = await measureAll(rows.map(([, , candidate]) => candidate), data);
  for (const [i, [codec, compressed, candidate]] of rows.entries()) {
    const m = results[i]!;
    const recordsPerSecond = (m.median * 1e6) / data.length * records;
    const [, label, role] = /^(.*?)\s+(\[\w+\])$/.exec(candidate.name)!;
    console.log(
      `  ${codec.padEnd(7)}${role!.padEnd(11)}${label!.padEnd(44)} ${m.median.toFixed(0).padStart(5)} MB/s (${m.min.toFixed(0)}–${m.max.toFixed(0)})`.padEnd(90) +
        `${(recordsPerSecond / 1e6).toFixed(2).padStart(5)} M records/s  ratio ${(data.length / compressed).toFixed(1)}`,
    );
  }
  console.log('');
}
