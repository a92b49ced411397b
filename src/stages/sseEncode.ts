import type { DeserializedRecord, TrackedBatch, TrackedRecord } from '../types.js';
import { RawJsonRecord } from './rawJsonRecord.js';

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

/**
 * `sseEncode`, yielding each batch of records as one Buffer (position blocks alone stay strings), byte for
 * byte the same output: records the default deserializer let through unparsed are copied from their value
 * bytes, with no UTF-8 decoding, joining and re-encoding on the way. `kafkaSse` uses it on its raw-JSON
 * fast path.
 */
export function sseEncodeBytes<R extends DeserializedRecord>(options: SseEncodeOptions = {}) {
  const heads: string[] = [];
  const raws: Array<Buffer | undefined> = [];
  const tails: string[] = [];
  return batchEncoder<R, Buffer>(options, (records, eventHead, trailer) => {
    const n = records.length;
    // Per record: a head string (event, id, `data: ` and, off the fast path, the JSON), the raw value
    // (or nothing) and a tail string (`_kafka` and the blank line).
    heads.length = n;
    raws.length = n;
    tails.length = n;
    let size = Buffer.byteLength(trailer);
    for (let i = 0; i < n; i++) {
      const { record, id } = records[i]!;
      if (record instanceof RawJsonRecord && !record.materialized) {
        heads[i] = `${eventHead}${id}${DATA}`;
        raws[i] = record.raw;
        tails[i] = record.jsonTail();
        size += Buffer.byteLength(heads[i]!) + record.raw.length - 1 + Buffer.byteLength(tails[i]!);
      } else {
        heads[i] = `${eventHead}${id}${DATA}${JSON.stringify(record.message) ?? 'null'}${END}`;
        raws[i] = undefined;
        tails[i] = '';
        size += Buffer.byteLength(heads[i]!);
      }
    }
    const chunk = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < n; i++) {
      at += chunk.write(heads[i]!, at);
      const raw = raws[i];
      if (raw !== undefined) {
        chunk.set(raw, at);
        at += raw.length - 1;
        at += chunk.write(tails[i]!, at);
      }
    }
    if (trailer !== '') chunk.write(trailer, at);
    heads.length = 0;
    raws.length = 0;
    tails.length = 0;
    return chunk;
  });
}
