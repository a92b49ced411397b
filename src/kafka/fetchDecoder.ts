// A decoder for Fetch v11 responses that goes straight from the response bytes to `KafkaRecord`s:
// offsets and timestamps as numbers (no Long, no decimal strings parsed back), keys and values as views
// of the response buffer, no decoder object per record. kafkajs's own decoder did the same job in about
// a third of a drain's server time, most of it garbage. Only the record layer is ours: requests, errors
// and anything but the current record format (magic 2) still go through kafkajs.
//
// It also drops what a read_committed consumer must not see: control batches (transaction markers) and
// the records of aborted transactions, using the aborted-transaction list the broker sends with each
// partition (the Java consumer's rule; kafkajs delivered aborted records).
//
// Nothing here imports kafkajs: the legacy message-set decoder comes in as an argument, from the kafkajs
// copy kafkajsInternals.ts loaded and checked.
import type { KafkaRecord } from '../types.js';
import { decompress } from './codecs.js';

/** One partition of a fetch response. */
export interface DecodedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  /** The records to deliver, in offset order: control records and aborted transactions left out. */
  records: KafkaRecord[];
  /**
   * The offset after the last complete batch in the response (skipped batches included), or -1 when the
   * response holds no complete batch. A stream reading this partition goes on from here.
   */
  nextOffset: number;
  /**
   * Why this partition could not be read (its error code as an error, or a batch that would not
   * decode). Only the streams reading this partition see it; the rest of the response is good.
   */
  error?: unknown;
}

export interface DecodedFetch {
  /** Only here so kafkajs's request queue can honour KIP-219 throttling. */
  clientSideThrottleTime: number;
  responses: Array<{ topicName: string; partitions: DecodedPartition[] }>;
}

/** A record of the pre-0.11 message formats, as kafkajs's legacy decoder gives it. */
export interface LegacyMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: KafkaRecord['headers'];
}

/** Decodes a pre-0.11 message set (kafkajs 2.2.4's decoder, which Kafka 4 no longer needs). */
export type LegacyMessageSetDecoder = (messageSet: Buffer) => Promise<LegacyMessage[]>;

const TWO_32 = 4294967296;
const BATCH_HEADER = 61; // baseOffset … recordCount
const MAGIC_END = 17; // baseOffset, length, partitionLeaderEpoch, magic
const TIMESTAMP_TYPE_LOG_APPEND = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const CONTROL_ABORT = 0;

/** The read position of the synchronous parts below (one decode runs to its next await alone). */
let at = 0;

function int64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

/** A zigzag varint that fits 32 bits. */
function varint(buf: Buffer): number {
  let b = buf[at++]!;
  let v = b & 0x7f;
  if (b & 0x80) {
    b = buf[at++]!;
    v |= (b & 0x7f) << 7;
    if (b & 0x80) {
      b = buf[at++]!;
      v |= (b & 0x7f) << 14;
      if (b & 0x80) {
        b = buf[at++]!;
        v |= (b & 0x7f) << 21;
        if (b & 0x80) {
          b = buf[at++]!;
          v |= (b & 0x0f) << 28;
          if (b & 0x80) throw new RangeError('varint longer than 5 bytes');
        }
      }
    }
  }
  return (v >>> 1) ^ -(v & 1);
}

/** A zigzag varint up to 64 bits, as a number (exact within ±2^53, which timestamp deltas are). */
function varlong(buf: Buffer): number {
  let b = buf[at++]!;
  if ((b & 0x80) === 0) return (b >>> 1) ^ -(b & 1);
  let v = b & 0x7f;
  let scale = 128;
  for (let i = 1; i < 10; i++) {
    b = buf[at++]!;
    v += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    scale *= 128;
  }
  throw new RangeError('varlong longer than 10 bytes');
}

/** Bytes prefixed by a zigzag varint length (-1 for null), as a view of `buf`. */
function varBytes(buf: Buffer): Buffer | null {
  const length = varint(buf);
  if (length < 0) return null;
  const start = at;
  at += length;
  return buf.subarray(start, at);
}

/** Record headers the way kafkajs gives them: string keys, Buffer values, repeated keys as arrays. */
function headers(buf: Buffer, count: number): KafkaRecord['headers'] {
  const out: KafkaRecord['headers'] = {};
  for (let h = 0; h < count; h++) {
    const keyLength = varint(buf);
    const name = buf.toString('utf8', at, at + keyLength);
    at += keyLength;
    const value = varBytes(buf) as Buffer;
    const seen = out[name];
    out[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

interface Batch {
  baseOffset: number;
  attributes: number;
  baseTimestamp: number;
  maxTimestamp: number;
  recordCount: number;
}

/** Appends the records of `buf[from, end)` (`count` of them, uncompressed) to `out`. */
function readRecords(topic: string, partition: number, batch: Batch, buf: Buffer, from: number, end: number, out: KafkaRecord[]): void {
  const logAppend = (batch.attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0 && batch.maxTimestamp !== 0;
  at = from;
  for (let r = 0; r < batch.recordCount && at < end; r++) {
    const length = varint(buf);
    const next = at + length;
    at++; // record attributes, unused
    const timestampDelta = varlong(buf);
    const offsetDelta = varint(buf);
    const key = varBytes(buf);
    const value = varBytes(buf);
    const headerCount = varint(buf);
    out.push({
      topic,
      partition,
      offset: batch.baseOffset + offsetDelta,
      timestamp: logAppend ? batch.maxTimestamp : batch.baseTimestamp + timestampDelta,
      key,
      value,
      headers: headerCount > 0 ? headers(buf, headerCount) : {},
    });
    at = next;
  }
}

/** Whether a control batch holds an ABORT marker (its record's key: version int16, type int16). */
function isAbortMarker(buf: Buffer, from: number): boolean {
  at = from;
  varint(buf); // record length
  at++; // attributes
  varlong(buf); // timestamp delta
  varint(buf); // offset delta
  const keyLength = varint(buf);
  return keyLength >= 4 && buf.readInt16BE(at + 2) === CONTROL_ABORT;
}

/** The record set of one partition: every complete batch, in order. */
async function decodeRecordSet(
  topic: string,
  partition: number,
  buf: Buffer,
  start: number,
  end: number,
  aborted: Array<{ producerId: number; firstOffset: number }>,
  decodeLegacy: LegacyMessageSetDecoder | undefined,
): Promise<{ records: KafkaRecord[]; nextOffset: number }> {
  const records: KafkaRecord[] = [];
  let nextOffset = -1;
  // Aborted transactions by first offset; a producer's batches are skipped from there to its ABORT marker.
  aborted.sort((a, b) => a.firstOffset - b.firstOffset);
  let abortedFrom = 0;
  const abortedProducers = new Set<number>();
  let p = start;
  // Enough for a batch's offset, length and magic: a pre-0.11 message set can be shorter than a v2 header.
  while (p + MAGIC_END <= end) {
    const batchEnd = p + 12 + buf.readInt32BE(p + 8);
    if (batchEnd > end) break; // the last batch may be cut off by the size limits of the fetch
    const magic = buf.readInt8(p + 16);
    if (magic !== 2) {
      // A pre-0.11 message set (only before any current batch): kafkajs's decoder reads it all.
      if (!decodeLegacy) throw new Error(`a pre-0.11 message set (magic ${magic}) at byte ${p}, and no legacy decoder was given`);
      const legacy = await decodeLegacy(buf.subarray(p, end));
      for (const m of legacy) {
        const offset = Number(m.offset);
        records.push({ topic, partition, offset, timestamp: Number(m.timestamp), key: m.key, value: m.value, headers: m.headers ?? {} });
        nextOffset = offset + 1;
      }
      break;
    }
    const attributes = buf.readInt16BE(p + 21);
    const batch: Batch = {
      baseOffset: int64(buf, p),
      attributes,
      baseTimestamp: int64(buf, p + 27),
      maxTimestamp: int64(buf, p + 35),
      recordCount: buf.readInt32BE(p + 57),
    };
    const lastOffset = batch.baseOffset + buf.readInt32BE(p + 23);
    const producerId = int64(buf, p + 43);
    nextOffset = lastOffset + 1;
    let skip = (attributes & CONTROL) !== 0;
    if (producerId >= 0 && aborted.length > 0) {
      while (abortedFrom < aborted.length && aborted[abortedFrom]!.firstOffset <= lastOffset) {
        abortedProducers.add(aborted[abortedFrom++]!.producerId);
      }
      if (skip) {
        if (batch.recordCount > 0 && isAbortMarker(buf, p + BATCH_HEADER)) abortedProducers.delete(producerId);
      } else if ((attributes & TRANSACTIONAL) !== 0 && abortedProducers.has(producerId)) {
        skip = true;
      }
    }
    if (!skip && batch.recordCount > 0) {
      if (attributes & 0x07) {
        const plain = await decompress(attributes & 0x07, buf.subarray(p + BATCH_HEADER, batchEnd));
        readRecords(topic, partition, batch, plain, 0, plain.length, records);
      } else {
        readRecords(topic, partition, batch, buf, p + BATCH_HEADER, batchEnd, records);
      }
    }
    p = batchEnd;
  }
  return { records, nextOffset };
}

/**
 * Decodes a Fetch v11 response body (what follows the correlation id). Message sets older than Kafka
 * 0.11 go to `decodeLegacy` (kafkajs's decoder, given by kafkajsInternals.ts).
 */
export async function decodeFetchV11(buf: Buffer, decodeLegacy?: LegacyMessageSetDecoder): Promise<DecodedFetch> {
  const clientSideThrottleTime = buf.readInt32BE(0);
  // error_code (int16) and session_id (int32) are not used.
  let p = 10;
  const topicCount = buf.readInt32BE(p);
  p += 4;
  const responses: DecodedFetch['responses'] = [];
  for (let t = 0; t < topicCount; t++) {
    const nameLength = buf.readInt16BE(p);
    const topicName = buf.toString('utf8', p + 2, p + 2 + nameLength);
    p += 2 + nameLength;
    const partitionCount = buf.readInt32BE(p);
    p += 4;
    const partitions: DecodedPartition[] = [];
    for (let i = 0; i < partitionCount; i++) {
      const partition = buf.readInt32BE(p);
      const errorCode = buf.readInt16BE(p + 4);
      const highWatermark = int64(buf, p + 6);
      // last_stable_offset and log_start_offset (int64 each) are not used.
      p += 30;
      const abortedCount = buf.readInt32BE(p);
      p += 4;
      const aborted: Array<{ producerId: number; firstOffset: number }> = [];
      for (let a = 0; a < abortedCount; a++, p += 16) aborted.push({ producerId: int64(buf, p), firstOffset: int64(buf, p + 8) });
      p += 4; // preferred_read_replica
      const size = buf.readInt32BE(p);
      p += 4;
      let set: { records: KafkaRecord[]; nextOffset: number } = { records: [], nextOffset: -1 };
      let error: unknown;
      try {
        if (size > 0) set = await decodeRecordSet(topicName, partition, buf, p, p + size, aborted, decodeLegacy);
      } catch (err) {
        // One undecodable batch (say, an unavailable codec) fails its partition, not the whole response.
        error = err;
      }
      if (size > 0) p += size;
      partitions.push({ partition, errorCode, highWatermark, records: set.records, nextOffset: set.nextOffset, ...(error !== undefined ? { error } : {}) });
    }
    responses.push({ topicName, partitions });
  }
  return { clientSideThrottleTime, responses };
}
