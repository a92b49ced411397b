// decodeFetchV11 against kafkajs 2.2.4's own Fetch v11 decoder: record batches are built with kafkajs's
// encoders (plus hand-set attribute bits for what kafkajs cannot write: control batches, LogAppendTime),
// framed as a Fetch v11 response, and decoded by both.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeFetchV11, type DecodedFetch, type DecodedPartition } from '../../src/kafka/fetchDecoder.js';
import { fromKafkajs, type RawFetchResponse } from '../../src/kafka/kafkajsInternals.js';

const require = createRequire(import.meta.url);
interface KafkajsEncoder {
  buffer: Buffer;
  writeInt8(v: number): KafkajsEncoder;
  writeInt16(v: number): KafkajsEncoder;
  writeInt32(v: number): KafkajsEncoder;
  writeInt64(v: number | string): KafkajsEncoder;
  writeString(v: string): KafkajsEncoder;
  writeBuffer(v: Buffer): KafkajsEncoder;
}
const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkajsEncoder;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch(options: Record<string, unknown>): Promise<KafkajsEncoder> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: Record<string, unknown>) => KafkajsEncoder;
const kafkajsV11 = require('kafkajs/src/protocol/requests/fetch/v11/response') as { decode(buf: Buffer): Promise<KafkajsResponse> };
const GZIP = 1;

interface KafkajsResponse {
  responses: Array<{ topicName: string; partitions: Array<{ partition: number; messages: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: object; isControlRecord: boolean }> }> }>;
}

interface BatchSpec {
  baseOffset: number;
  baseTimestamp: number;
  records: Array<{ timestampDelta?: number; key?: Buffer | null; value: Buffer | null; headers?: Record<string, Buffer | Buffer[]> }>;
  compression?: number;
  transactional?: boolean;
  producerId?: number;
  /** Attribute bits kafkajs's encoder cannot set (0x08 LogAppendTime, 0x20 control). */
  extraAttributes?: number;
  maxTimestamp?: number;
}

async function batch(spec: BatchSpec): Promise<Buffer> {
  const encoded = await RecordBatch({
    compression: spec.compression ?? 0,
    firstOffset: String(spec.baseOffset),
    firstTimestamp: spec.baseTimestamp,
    maxTimestamp: spec.maxTimestamp ?? spec.baseTimestamp,
    lastOffsetDelta: spec.records.length - 1,
    transactional: spec.transactional ?? false,
    producerId: String(spec.producerId ?? -1),
    records: spec.records.map((r, i) => Record({ offsetDelta: i, timestampDelta: r.timestampDelta ?? i, key: r.key ?? null, value: r.value, headers: r.headers ?? {} })),
  });
  const buf = Buffer.from(encoded.buffer);
  if (spec.extraAttributes) buf.writeInt16BE(buf.readInt16BE(21) | spec.extraAttributes, 21);
  return buf;
}

interface PartitionSpec {
  partition: number;
  errorCode?: number;
  aborted?: Array<{ producerId: number; firstOffset: number }>;
  records: Buffer;
}

function response(topic: string, partitions: PartitionSpec[]): Buffer {
  const e = new Encoder().writeInt32(0).writeInt16(0).writeInt32(0).writeInt32(1).writeString(topic).writeInt32(partitions.length);
  for (const p of partitions) {
    e.writeInt32(p.partition).writeInt16(p.errorCode ?? 0).writeInt64(1000).writeInt64(1000).writeInt64(0);
    e.writeInt32(p.aborted?.length ?? -1);
    for (const a of p.aborted ?? []) e.writeInt64(a.producerId).writeInt64(a.firstOffset);
    e.writeInt32(-1).writeInt32(p.records.length).writeBuffer(p.records);
  }
  return e.buffer;
}

/** What kafkajs makes of a response, in our shape (control records left out). */
async function viaKafkajs(buf: Buffer) {
  const { responses } = await kafkajsV11.decode(buf);
  return responses.flatMap(({ topicName, partitions }) =>
    partitions.map(({ partition, messages }) => ({
      topic: topicName,
      partition,
      records: messages
        .filter((m) => !m.isControlRecord)
        .map((m) => ({ topic: topicName, partition, offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key, value: m.value, headers: m.headers })),
    })),
  );
}

async function viaUs(buf: Buffer) {
  const { responses } = await decodeFetchV11(buf);
  return responses.flatMap(({ topicName, partitions }) => partitions.map(({ partition, records }) => ({ topic: topicName, partition, records: records.map((r) => ({ ...r })) })));
}

const json = (n: number) => Buffer.from(JSON.stringify({ n }));
const only = async (buf: Buffer): Promise<DecodedPartition> => (await decodeFetchV11(buf)).responses[0]!.partitions[0]!;

describe('decodeFetchV11', () => {
  it('reads what kafkajs reads: offsets, timestamps, keys, null values, headers (repeated keys as arrays), several batches and partitions', async () => {
    const first = await batch({
      baseOffset: 40,
      baseTimestamp: 1_764_250_000_000,
      records: [
        { value: json(1), key: Buffer.from('k1'), headers: { a: Buffer.from('1'), b: [Buffer.from('x'), Buffer.from('y')] } },
        { value: null, key: Buffer.from('tombstone') },
        { value: json(3), timestampDelta: -5 },
      ],
    });
    const second = await batch({ baseOffset: 43, baseTimestamp: 1_764_250_009_000, records: [{ value: Buffer.alloc(0) }, { value: json(5) }] });
    const third = await batch({ baseOffset: 2 ** 40, baseTimestamp: 0, records: [{ value: json(6), timestampDelta: 2 ** 33 }] });
    const buf = response('topic-a', [
      { partition: 0, records: Buffer.concat([first, second]) },
      { partition: 2, records: third },
      { partition: 1, records: Buffer.alloc(0) },
    ]);
    const ours = await viaUs(buf);
    assert.deepEqual(ours, await viaKafkajs(buf));
    assert.deepEqual(ours[0]!.records.map((r) => r.offset), [40, 41, 42, 43, 44]);
    assert.equal(ours[0]!.records[2]!.timestamp, 1_764_249_999_995);
    const decoded = await decodeFetchV11(buf);
    assert.deepEqual(decoded.responses[0]!.partitions.map((p) => p.nextOffset), [45, 2 ** 40 + 1, -1]);
  });

  it('reads gzip-compressed batches like kafkajs', async () => {
    const records = Array.from({ length: 20 }, (_, i) => ({ value: json(i), key: i % 2 ? Buffer.from(`k${i}`) : null }));
    const buf = response('t', [{ partition: 0, records: Buffer.concat([await batch({ baseOffset: 7, baseTimestamp: 1000, records, compression: GZIP }), await batch({ baseOffset: 27, baseTimestamp: 2000, records: [{ value: json(99) }] })]) }]);
    const ours = await viaUs(buf);
    assert.deepEqual(ours, await viaKafkajs(buf));
    assert.equal(ours[0]!.records.length, 21);
  });

  it('gives every record of a LogAppendTime batch the batch\'s max timestamp, as kafkajs does', async () => {
    const buf = response('t', [{ partition: 0, records: await batch({ baseOffset: 0, baseTimestamp: 1000, maxTimestamp: 5000, extraAttributes: 0x08, records: [{ value: json(1) }, { value: json(2) }] }) }]);
    assert.deepEqual(await viaUs(buf), await viaKafkajs(buf));
    assert.deepEqual((await only(buf)).records.map((r) => r.timestamp), [5000, 5000]);
  });

  it('stops at a batch cut off by the fetch size limit, and goes on from the last complete one', async () => {
    const whole = await batch({ baseOffset: 0, baseTimestamp: 1000, records: [{ value: json(1) }, { value: json(2) }] });
    const cut = (await batch({ baseOffset: 2, baseTimestamp: 1000, records: [{ value: json(3) }] })).subarray(0, 30);
    const part = await only(response('t', [{ partition: 0, records: Buffer.concat([whole, cut]) }]));
    assert.deepEqual(part.records.map((r) => r.offset), [0, 1]);
    assert.equal(part.nextOffset, 2);
    const nothing = await only(response('t', [{ partition: 0, records: cut }]));
    assert.deepEqual([nothing.records, nothing.nextOffset], [[], -1], 'no complete batch: no progress');
  });

  it('skips control batches (transaction markers) but moves past them', async () => {
    const marker = await batch({ baseOffset: 3, baseTimestamp: 1000, producerId: 7, transactional: true, extraAttributes: 0x20, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] });
    const data = await batch({ baseOffset: 0, baseTimestamp: 1000, producerId: 7, transactional: true, records: [{ value: json(0) }, { value: json(1) }, { value: json(2) }] });
    const part = await only(response('t', [{ partition: 0, records: Buffer.concat([data, marker]) }]));
    assert.deepEqual(part.records.map((r) => r.offset), [0, 1, 2], 'a committed transaction is delivered');
    assert.equal(part.nextOffset, 4, 'the marker is read past');
  });

  it('leaves out the records of aborted transactions (read_committed), and only those', async () => {
    const abort = (offset: number, producerId: number) =>
      batch({ baseOffset: offset, baseTimestamp: 1000, producerId, transactional: true, extraAttributes: 0x20, records: [{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] });
    const commit = (offset: number, producerId: number) =>
      batch({ baseOffset: offset, baseTimestamp: 1000, producerId, transactional: true, extraAttributes: 0x20, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] });
    const txn = (offset: number, producerId: number, n: number) =>
      batch({ baseOffset: offset, baseTimestamp: 1000, producerId, transactional: true, records: Array.from({ length: n }, (_, i) => ({ value: json(offset + i) })) });
    const plain = (offset: number) => batch({ baseOffset: offset, baseTimestamp: 1000, records: [{ value: json(offset) }] });
    // 0-1 producer 5 aborted; 2 plain; 3-4 producer 6 committed; 5 abort marker (5), 6 commit marker (6);
    // 7-8 producer 5 again, committed this time; 9 its marker.
    const records = Buffer.concat([await txn(0, 5, 2), await plain(2), await txn(3, 6, 2), await abort(5, 5), await commit(6, 6), await txn(7, 5, 2), await commit(9, 5)]);
    const part = await only(response('t', [{ partition: 0, aborted: [{ producerId: 5, firstOffset: 0 }], records }]));
    assert.deepEqual(part.records.map((r) => r.offset), [2, 3, 4, 7, 8]);
    assert.equal(part.nextOffset, 10);
    const unaware = await only(response('t', [{ partition: 0, records }]));
    assert.deepEqual(unaware.records.map((r) => r.offset), [0, 1, 2, 3, 4, 7, 8], 'without the broker\'s aborted list nothing is dropped');
  });

  it('has a fallback (kafkajs decodes, for brokers without Fetch v11) that gives the same records and next offsets', async () => {
    const records = Buffer.concat([
      await batch({ baseOffset: 5, baseTimestamp: 1000, records: [{ value: json(1), key: Buffer.from('k'), headers: { h: Buffer.from('v') } }, { value: null }] }),
      await batch({ baseOffset: 7, baseTimestamp: 2000, producerId: 3, transactional: true, extraAttributes: 0x20, records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }] }),
      await batch({ baseOffset: 8, baseTimestamp: 3000, records: [{ value: json(8) }], compression: GZIP }),
    ]);
    const buf = response('t', [{ partition: 0, records }, { partition: 1, records: Buffer.alloc(0) }]);
    const shape = ({ responses }: DecodedFetch) =>
      responses.map(({ topicName, partitions }) => ({ topicName, partitions: partitions.map((p) => ({ ...p, records: p.records.map((r) => ({ ...r })) })) }));
    const fallback = fromKafkajs((await kafkajsV11.decode(buf)) as unknown as RawFetchResponse);
    assert.deepEqual(shape(fallback), shape(await decodeFetchV11(buf)));
    assert.deepEqual(fallback.responses[0]!.partitions.map((p) => p.nextOffset), [9, -1]);
  });

  it('matches kafkajs on random batches (property)', async () => {
    const value = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)));
    const key = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)));
    const headers = fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.uint8Array({ maxLength: 5 }).map((b) => Buffer.from(b)), fc.array(fc.uint8Array({ maxLength: 3 }).map((b) => Buffer.from(b)), { minLength: 2, maxLength: 3 })));
    const record = fc.record({ value, key, headers, timestampDelta: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) });
    const spec = fc.record({
      baseTimestamp: fc.integer({ min: 0, max: 2 ** 45 }),
      records: fc.array(record, { minLength: 1, maxLength: 6 }),
      compression: fc.constantFrom(0, GZIP),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 2 ** 45 }), async (specs, start) => {
        let offset = start;
        const batches: Buffer[] = [];
        for (const s of specs) {
          batches.push(await batch({ ...s, baseOffset: offset }));
          offset += s.records.length;
        }
        const buf = response('p', [{ partition: 3, records: Buffer.concat(batches) }]);
        assert.deepEqual(await viaUs(buf), await viaKafkajs(buf));
      }),
      { numRuns: 300 },
    );
  });
});

// Compressed batches written by kafkajs's own encoder with each codec registered the way a kafkajs user
// registers it (restored afterwards). Our decoder never looks at that registry; it only lets kafkajs
// encode, and decode for comparison.
describe('decodeFetchV11 with compressed batches', () => {
  type KafkajsCodec = () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };
  const codecs = (require('kafkajs') as { CompressionCodecs: Record<number, KafkajsCodec> }).CompressionCodecs;
  const SNAPPY = 2;
  const LZ4 = 3;
  const ZSTD = 4;
  const XERIAL_SNAPPY = -1; // snappy as the Java client frames it; written with attribute 2
  const kafkajsSnappy = require('kafkajs-snappy') as KafkajsCodec;
  const KafkajsLz4 = require('kafkajs-lz4') as new () => { codec: KafkajsCodec };
  interface Zstd { Streaming: new () => { compress(d: Uint8Array, level: number): Uint8Array; decompress(d: Uint8Array): Uint8Array } }
  const zstd = new Promise<Zstd>((resolve) => (require('zstd-codec') as { ZstdCodec: { run(cb: (z: Zstd) => void): void } }).ZstdCodec.run(resolve));
  // zstd-codec's streaming encoder leaves out the content size, as zstd-jni (the Java client) does.
  const zstdCodec: KafkajsCodec = () => ({
    compress: async (encoder) => Buffer.from(new (await zstd).Streaming().compress(encoder.buffer, 3)),
    decompress: async (buffer) => Buffer.from(new (await zstd).Streaming().decompress(buffer)),
  });
  // snappy-java's framing around kafkajs-snappy's raw blocks, in 32 KiB chunks like SnappyOutputStream.
  const xerialCodec: KafkajsCodec = () => ({
    async compress(encoder) {
      const parts: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
      for (let p = 0; p < encoder.buffer.length; p += 32 * 1024) {
        const block = await kafkajsSnappy().compress({ buffer: encoder.buffer.subarray(p, p + 32 * 1024) });
        parts.push(Buffer.from([block.length >>> 24, (block.length >>> 16) & 0xff, (block.length >>> 8) & 0xff, block.length & 0xff]), block);
      }
      return Buffer.concat(parts);
    },
    decompress: (buffer) => kafkajsSnappy().decompress(buffer),
  });
  const saved = { ...codecs };
  const register = (codec: number) => {
    codecs[SNAPPY] = codec === XERIAL_SNAPPY ? xerialCodec : kafkajsSnappy;
    codecs[LZ4] = new KafkajsLz4().codec;
    codecs[ZSTD] = zstdCodec;
  };
  const restore = () => Object.assign(codecs, saved);

  const pad = 'abcdefghij'.repeat(28);
  const records = Array.from({ length: 300 }, (_, i): { key: Buffer; value: Buffer; headers: Record<string, Buffer> } => ({
    key: Buffer.from(`k${i}`),
    value: Buffer.from(JSON.stringify({ n: i, pad })),
    headers: i % 10 === 0 ? { trace: Buffer.from(`t${i}`) } : {},
  }));

  for (const [name, codec] of [['snappy (raw blocks, kafkajs-snappy)', SNAPPY], ['snappy (xerial framing, as Java writes it)', XERIAL_SNAPPY], ['lz4 (kafkajs-lz4)', LZ4], ['zstd (no content size)', ZSTD]] as const) {
    it(`reads ${name} batches like kafkajs with the codec registered, and gives back the records written`, async () => {
      register(codec);
      let buf: Buffer;
      let theirs: Awaited<ReturnType<typeof viaKafkajs>>;
      try {
        const compressed = await batch({ baseOffset: 100, baseTimestamp: 5000, records, compression: codec === XERIAL_SNAPPY ? SNAPPY : codec });
        assert.equal(compressed.readInt16BE(21) & 0x07, codec === XERIAL_SNAPPY ? SNAPPY : codec, 'the batch names the codec');
        const plain = await batch({ baseOffset: 400, baseTimestamp: 6000, records: [{ value: json(400) }] });
        buf = response('t', [{ partition: 3, records: Buffer.concat([compressed, plain]) }]);
        theirs = await viaKafkajs(buf);
      } finally {
        restore();
      }
      const ours = await viaUs(buf);
      assert.deepEqual(ours, theirs);
      const part = ours[0]!.records;
      assert.equal(part.length, 301);
      assert.deepEqual(part.map((r) => r.offset), Array.from({ length: 301 }, (_, i) => 100 + i));
      for (let i = 0; i < 300; i++) {
        assert.deepEqual([part[i]!.key, part[i]!.value, part[i]!.headers], [records[i]!.key, records[i]!.value, records[i]!.headers], `record ${i}`);
      }
      assert.equal((await only(buf)).nextOffset, 401);
    });
  }

  it('fails a batch with an unknown codec id (5) with CodecUnavailableError', async () => {
    const unknown = await batch({ baseOffset: 0, baseTimestamp: 1000, records: [{ value: json(1) }], extraAttributes: 5 });
    const buf = response('t', [{ partition: 0, records: unknown }]);
    const { CodecUnavailableError } = await import('../../src/kafka/codecs.js');
    // Thrown, or kept on the partition, depending on how the caller wants partition errors.
    const error = await decodeFetchV11(buf).then((r) => (r.responses[0]!.partitions[0] as { error?: unknown }).error, (err: unknown) => err);
    assert.ok(error instanceof CodecUnavailableError, String(error));
    assert.equal(error.codec, '5');
  });
});

describe('decodeFetchV11 with a pre-0.11 message set', () => {
  const MessageSet = require('kafkajs/src/protocol/messageSet') as (options: Record<string, unknown>) => KafkajsEncoder;
  /** A magic-1 message set of `values` from offset 10 (kafkajs's encoder writes -1 offsets; ours are set). */
  function messageSet(values: string[]): Buffer {
    const buf = Buffer.from(MessageSet({ messageVersion: 1, compression: 0, entries: values.map((value, i) => ({ key: null, value, timestamp: 2000 + i })) }).buffer);
    for (let p = 0, i = 0; p < buf.length; p += 12 + buf.readInt32BE(p + 8), i++) buf.writeBigInt64BE(BigInt(10 + i), p);
    return buf;
  }

  it("reads it with kafkajs's legacy decoder, loaded from the checked kafkajs", async () => {
    const { kafkajsInternals } = await import('../../src/kafka/kafkajsInternals.js');
    const buf = response('t', [{ partition: 0, records: messageSet(['a', 'b']) }]);
    const part = (await decodeFetchV11(buf, kafkajsInternals().decodeLegacyMessageSet)).responses[0]!.partitions[0]!;
    assert.equal(part.error, undefined);
    assert.deepEqual(part.records.map((r) => [r.offset, r.timestamp, r.value?.toString()]), [[10, 2000, 'a'], [11, 2001, 'b']]);
    assert.equal(part.nextOffset, 12);
  });

  it('fails only that partition, saying why, when no legacy decoder is given', async () => {
    const buf = response('t', [{ partition: 0, records: messageSet(['a']) }]);
    const part = (await decodeFetchV11(buf)).responses[0]!.partitions[0]!;
    assert.match(String(part.error), /pre-0\.11 message set \(magic 1\).*no legacy decoder/);
  });
});
