import type { DeserializedRecord, IdParts, TrackedBatch, TrackedRecord } from '../types.js';
import { ByteCache, NUMBER_BYTES, RawJsonWriter, isTombstone, messageJson, put, writeNumber } from './rawJsonRecord.js';

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
// Tombstones sent as deletes (`TombstoneRecord`): their own event type, so pages can listen for them.
const DELETE_HEAD = 'event: delete\nid: ';

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
    // bytes) must first flatten, which costs more than the join. encodeEvent's output is inlined: the data
    // is one line, as JSON.stringify escapes every CR and LF and a record's `rawJson` holds none.
    const parts: string[] = [];
    for (const { record, id } of records) parts.push(isTombstone(record) ? DELETE_HEAD : eventHead, id, DATA, messageJson(record), END);
    parts.push(trailer);
    return parts.join('');
  });
}

const DATA_FIELD = Buffer.from(DATA);
const DELETE_HEAD_BYTES = Buffer.from(DELETE_HEAD);
const END_BYTES = Buffer.from(END);

/** The tracked record's id parts, when it has them (`idTrack` sets them). */
const idPartsOf = (tracked: TrackedRecord<DeserializedRecord>): IdParts | undefined =>
  typeof tracked.idNumber === 'number' ? tracked.idRun : undefined;

/**
 * `sseEncode`, yielding each batch of records as one Buffer (position blocks alone stay strings), byte for
 * byte the same output. Nothing per record is made as a string where the record allows it: ids with
 * `idRun`/`idNumber` (from `idTrack`) are written from the run's cached bytes and the number's digits, and
 * records with `rawJson` (`RawJsonRecord`s nobody has parsed) from their fetched bytes; anything else is
 * framed as a string and copied in. `kafkaSse` uses it with the default deserializer.
 */
export function sseEncodeBytes<R extends DeserializedRecord>(options: SseEncodeOptions = {}) {
  const cache = new ByteCache();
  const writer = new RawJsonWriter();
  let lastRun: IdParts | undefined;
  let runHead: Buffer = Buffer.alloc(0);
  let runTail: Buffer = Buffer.alloc(0);
  // Per batch: the text of each id or data that is not written from parts, in record order, and each
  // record's bytes when it is sent from them (`rawJson` is read once per record: it may compare).
  const texts: string[] = [];
  const raws: Array<Buffer | null> = [];
  return batchEncoder<R, Buffer>(options, (records, eventHead, trailer) => {
    const n = records.length;
    const head = cache.get(eventHead);
    texts.length = 0;
    raws.length = 0;
    // An upper bound of the chunk's size; what is written is then cut to its length.
    let size = Buffer.byteLength(trailer) + n * (head.length + DATA_FIELD.length + END_BYTES.length);
    for (let i = 0; i < n; i++) {
      const tracked = records[i]!;
      const run = idPartsOf(tracked);
      if (run !== undefined) size += (run.head.length + run.tail.length) * 3 + NUMBER_BYTES;
      else size += pushText(texts, tracked.id);
      const record = tracked.record;
      if (isTombstone(record)) size += DELETE_HEAD_BYTES.length;
      const raw = record.rawJson;
      if (raw !== undefined && raw !== null) {
        raws.push(raw);
        size += writer.maxBytes(record, raw);
      } else {
        raws.push(null);
        size += pushText(texts, JSON.stringify(record.message) ?? 'null');
      }
    }
    const chunk = Buffer.allocUnsafe(size);
    let at = 0;
    let text = 0;
    for (let i = 0; i < n; i++) {
      const tracked = records[i]!;
      // event: message\nid: <id>\ndata: <data>\n\n
      at = put(chunk, at, isTombstone(tracked.record) ? DELETE_HEAD_BYTES : head);
      const run = idPartsOf(tracked);
      if (run !== undefined) {
        if (run !== lastRun) {
          lastRun = run;
          runHead = cache.get(run.head);
          runTail = cache.get(`${run.tail}${DATA}`);
        }
        at = put(chunk, writeNumber(chunk, put(chunk, at, runHead), tracked.idNumber!), runTail);
      } else {
        at += chunk.write(texts[text++]!, at);
        at = put(chunk, at, DATA_FIELD);
      }
      const raw = raws[i]!;
      if (raw !== null) at = writer.write(chunk, at, tracked.record, raw);
      else at += chunk.write(texts[text++]!, at);
      at = put(chunk, at, END_BYTES);
    }
    if (trailer !== '') at += chunk.write(trailer, at);
    texts.length = 0;
    raws.length = 0;
    return chunk.subarray(0, at);
  });
}

/** Appends `text` to `texts`; returns its size in bytes. */
function pushText(texts: string[], text: string): number {
  texts.push(text);
  return Buffer.byteLength(text);
}
