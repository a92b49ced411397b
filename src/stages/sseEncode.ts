import type { DeserializedRecord, TrackedBatch, TrackedRecord } from '../types.js';
import { type IdRun, TrackedRecordOf } from './idTrack.js';
import { KEY_MEMBER, RawJsonRecord, TIMESTAMP_MEMBER } from './rawJsonRecord.js';

export interface SseEncodeOptions {
  /** After records the client never sees (skipped, filtered), send a position block at most this often (ms). */
  idOnlyIntervalMs?: number;
  /** Event type of every record (default `message`). */
  eventType?: string;
  /**
   * Event type of position blocks (default `position`), or null for bare `id:` blocks. See
   * docs/decisions/003-position-events.md: bare blocks are spec-pure but Node's `eventsource` ignores them.
   */
  positionEvent?: string | null;
}

const DATA = '\ndata: ';
const END = '\n\n';

// WHATWG HTML, "Interpreting an event stream": lines end in CRLF, LF or CR, so a value holding any of
// them must be split over several `data:` fields; the client joins them back with LF.
const LINE_BREAK = /\r\n|\r|\n/;

/** One `data:` field per line of `text`, so no client can misparse embedded line breaks. */
export function dataLines(text: string): string {
  return LINE_BREAK.test(text) ? text.split(LINE_BREAK).map((line) => `data: ${line}\n`).join('') : `data: ${text}\n`;
}

/** An SSE event block: `event:`, `id:`, `data:` and the blank line that dispatches it. */
export function encodeEvent(event: string, id: string | undefined, data: string): string {
  return `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}${dataLines(data)}\n`;
}

/** A comment line; clients ignore it, proxies see traffic. */
export function encodeComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/**
 * A block that only moves the client's last event ID. With an event type and an empty `data:` line every
 * conforming client dispatches it (dispatching is what sets the last event ID) and `onmessage` never sees
 * it; with `null`, a bare `id:` block, which browsers honour and some parsers ignore.
 */
export function encodePosition(id: string, eventType: string | null = 'position'): string {
  return eventType === null ? `id: ${id}\n\n` : `event: ${eventType}\nid: ${id}\ndata:\n\n`;
}

/**
 * The part both encoders share: per batch, the records' events (built by `encodeRecords`, with the position
 * block `trailer` appended when the batch id moved past its last record), or, for a batch without
 * records, a throttled position block, flushed when the stream starts and whenever it catches up.
 */
function batchEncoder<R extends DeserializedRecord, C>(
  options: SseEncodeOptions,
  encodeRecords: (records: TrackedRecord<R>[], eventHead: string, trailer: string) => C,
) {
  const interval = options.idOnlyIntervalMs ?? 250;
  const eventHead = `event: ${options.eventType ?? 'message'}\nid: `;
  const positionEvent = options.positionEvent === undefined ? 'position' : options.positionEvent;
  return async function* (source: AsyncIterable<TrackedBatch<R>>): AsyncGenerator<C | string> {
    let sentId: string | undefined;
    let sentAt = 0;
    for await (const batch of source) {
      if (batch.records.length > 0) {
        const lastId = batch.records[batch.records.length - 1]!.id;
        const trailer = lastId === batch.id ? '' : encodePosition(batch.id, positionEvent);
        sentId = batch.id;
        sentAt = Date.now();
        yield encodeRecords(batch.records, eventHead, trailer);
      } else if (sentId !== batch.id && (batch.idle || Date.now() - sentAt >= interval)) {
        sentId = batch.id;
        sentAt = Date.now();
        yield encodePosition(batch.id, positionEvent);
      }
    }
  };
}

/**
 * Encodes each batch as one string of SSE events (`event: message`, `id: <positions>`,
 * `data: <JSON of record.message>`). When records were dropped upstream (skipped, filtered), the client
 * still learns its new position through a position block; those are throttled, and flushed when the
 * stream starts and whenever it catches up (an idle batch).
 */
export function sseEncode<R extends DeserializedRecord>(options: SseEncodeOptions = {}) {
  return batchEncoder<R, string>(options, (records, eventHead, trailer) => {
    // The chunk's pieces, joined once: a string built with += is a rope that writing (and counting its
    // bytes) must first flatten, which costs more than the join. encodeEvent's output is inlined:
    // JSON.stringify escapes every CR and LF, so its output is one line and needs one `data:` field.
    const parts: string[] = [];
    for (const { record, id } of records) {
      parts.push(eventHead, id, DATA);
      // A record the default deserializer let through unparsed (and nobody has parsed since) is sent
      // from its raw bytes: checked to hold no CR or LF, so it is one line too.
      if (record instanceof RawJsonRecord && !record.materialized) record.pushJson(parts);
      else parts.push(JSON.stringify(record.message) ?? 'null');
      parts.push(END);
    }
    parts.push(trailer);
    return parts.join('');
  });
}

/** Bytes of an ASCII/UTF-8 string, cached per distinct string (run heads and tails, `_kafka` prefixes). */
class ByteCache {
  private readonly map = new Map<string, Buffer>();
  get(text: string): Buffer {
    let bytes = this.map.get(text);
    if (bytes === undefined) {
      if (this.map.size >= 64) this.map.clear();
      bytes = Buffer.from(text, 'utf8');
      this.map.set(text, bytes);
    }
    return bytes;
  }
}

const TIMESTAMP_FIELD = Buffer.from(TIMESTAMP_MEMBER);
const KEY_FIELD = Buffer.from(KEY_MEMBER);
const NULL_KEY_END = Buffer.from(`${KEY_MEMBER}null}}${END}`);
const END_OF_KAFKA = Buffer.from(`}}${END}`);
const DIGITS = 20; // the most bytes writeNumber writes: a sign and 16 digits, or "null"

/** Writes the digits of `n`, an integer in [0, 2^31), at `at`; returns the new end. */
function writeDigits(chunk: Buffer, at: number, n: number, minDigits: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = (m / 10) | 0) digits++;
  if (digits < minDigits) digits = minDigits;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = (n / 10) | 0;
    chunk[i] = 0x30 + n - q * 10;
    n = q;
  }
  return end;
}

/** Writes `n` as JSON.stringify would (an integer's digits, `null` when not finite) at `at`; returns the new end. */
function writeNumber(chunk: Buffer, at: number, n: number): number {
  if (!Number.isSafeInteger(n)) return at + chunk.write(Number.isFinite(n) ? String(n) : 'null', at, 'latin1');
  if (n < 0) {
    chunk[at++] = 0x2d;
    n = -n;
  }
  if (n < 0x80000000) return writeDigits(chunk, at, n, 1);
  // Timestamps and large offsets: the digits above the last nine, then those nine.
  const high = Math.floor(n / 1e9);
  return writeDigits(chunk, writeNumber(chunk, at, high), n - high * 1e9, 9);
}

/** Copies `bytes` into `chunk` at `at`; returns the new end. Short pieces by hand, which beats `set`'s call. */
function put(chunk: Buffer, at: number, bytes: Buffer): number {
  const n = bytes.length;
  if (n > 48) {
    chunk.set(bytes, at);
    return at + n;
  }
  for (let i = 0; i < n; i++) chunk[at + i] = bytes[i]!;
  return at + n;
}

/** A record the byte path writes: unparsed by the default deserializer, its id from `idTrack`. */
function writtenAsBytes<R extends DeserializedRecord>(tracked: TrackedRecord<R>): tracked is TrackedRecordOf<R & RawJsonRecord> {
  const record = tracked.record;
  return tracked instanceof TrackedRecordOf && record instanceof RawJsonRecord && !record.materialized;
}

/**
 * `sseEncode`, yielding each batch of records as one Buffer (position blocks alone stay strings), byte for
 * byte the same output. Records the default deserializer let through unparsed, with ids from `idTrack`,
 * are written straight into the Buffer: the run's id parts and `_kafka` prefix as cached bytes, the
 * numbers as digits, the value copied from the fetched bytes, no string built per record. Anything else
 * (parsed records, ids made elsewhere) is framed as a string and copied in. `kafkaSse` uses it on its
 * raw-JSON fast path.
 */
export function sseEncodeBytes<R extends DeserializedRecord>(options: SseEncodeOptions = {}) {
  const cache = new ByteCache();
  let lastRun: IdRun | undefined;
  let runHead: Buffer = Buffer.alloc(0);
  let runTail: Buffer = Buffer.alloc(0);
  let metaTopic: string | undefined;
  let metaPartition = -1;
  let metaEmpty = false;
  let metaHead: Buffer = Buffer.alloc(0);
  return batchEncoder<R, Buffer>(options, (records, eventHead, trailer) => {
    const n = records.length;
    const head = cache.get(eventHead);
    // An upper bound of the chunk's size; what is written is then cut to its length.
    let size = Buffer.byteLength(trailer);
    for (let i = 0; i < n; i++) {
      const tracked = records[i]!;
      if (writtenAsBytes(tracked)) {
        const { run, record } = tracked;
        size += head.length + run.head.length * 3 + run.tail.length * 3 + DATA.length + record.raw.length;
        size += 128 + record.topic.length * 6 + 3 * DIGITS + (record.key === null ? 0 : record.key.length * 6 + 2);
      } else {
        size += Buffer.byteLength(encodedEvent(tracked, eventHead));
      }
    }
    const chunk = Buffer.allocUnsafe(size);
    let at = 0;
    let lastTimestamp = Number.NaN;
    let lastTimestampAt = -1;
    let lastTimestampLength = 0;
    for (let i = 0; i < n; i++) {
      const tracked = records[i]!;
      if (!writtenAsBytes(tracked)) {
        at += chunk.write(encodedEvent(tracked, eventHead), at);
        continue;
      }
      // event: message\nid: [..{"topic":..,"partition":..,"offset":<n>}..]\ndata: <value without its `}`>
      const { run, record } = tracked;
      if (run !== lastRun) {
        lastRun = run;
        runHead = cache.get(run.head);
        runTail = cache.get(`${run.tail}${DATA}`);
      }
      at = writeNumber(chunk, put(chunk, put(chunk, at, head), runHead), tracked.value);
      at = put(chunk, at, runTail);
      const raw = record.raw;
      chunk.set(raw, at);
      at += raw.length - 1;
      // ,"_kafka":{"topic":..,"partition":..,"offset":<n>,"timestamp":<n>,"key":<key>}}\n\n
      if (record.topic !== metaTopic || record.partition !== metaPartition || record.empty !== metaEmpty) {
        metaTopic = record.topic;
        metaPartition = record.partition;
        metaEmpty = record.empty;
        metaHead = cache.get(record.kafkaHead());
      }
      at = writeNumber(chunk, put(chunk, at, metaHead), record.offset);
      at = put(chunk, at, TIMESTAMP_FIELD);
      // Records produced together share their millisecond: copy the digits written last time.
      if (record.timestamp === lastTimestamp && lastTimestampAt >= 0) {
        const from = lastTimestampAt;
        lastTimestampAt = at;
        for (let d = 0; d < lastTimestampLength; d++) chunk[at++] = chunk[from + d]!;
      } else {
        lastTimestamp = record.timestamp;
        lastTimestampAt = at;
        at = writeNumber(chunk, at, record.timestamp);
        lastTimestampLength = at - lastTimestampAt;
      }
      if (record.key === null) {
        at = put(chunk, at, NULL_KEY_END);
      } else {
        at = put(chunk, at, KEY_FIELD);
        at += chunk.write(JSON.stringify(record.key.toString('utf8')), at);
        at = put(chunk, at, END_OF_KAFKA);
      }
    }
    if (trailer !== '') at += chunk.write(trailer, at);
    return chunk.subarray(0, at);
  });
}

/** One record's event as a string (`sseEncode`'s framing). */
function encodedEvent<R extends DeserializedRecord>({ record, id }: TrackedRecord<R>, eventHead: string): string {
  if (record instanceof RawJsonRecord && !record.materialized) return `${eventHead}${id}${DATA}${record.json()}${END}`;
  return `${eventHead}${id}${DATA}${JSON.stringify(record.message) ?? 'null'}${END}`;
}
