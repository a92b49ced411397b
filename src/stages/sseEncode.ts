import type { DeserializedRecord, TrackedBatch } from '../types.js';

export interface SseEncodeOptions {
  /** After records the client never sees (skipped, filtered), send an id-only block at most this often (ms). */
  idOnlyIntervalMs?: number;
  /** Event type of every record (default `message`). */
  eventType?: string;
}

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
 * Encodes each batch as one string of SSE events (`event: message`, `id: <positions>`,
 * `data: <JSON of record.message>`). When a batch's records were all dropped upstream, the client still
 * learns its new position through an id-only block: per the spec, an `id:` field followed by a blank line
 * updates the last event ID without dispatching an event. Those are throttled, and flushed whenever the
 * stream catches up (an empty batch).
 */
export function sseEncode<R extends DeserializedRecord>(options: SseEncodeOptions = {}) {
  const interval = options.idOnlyIntervalMs ?? 250;
  const eventType = options.eventType ?? 'message';
  return async function* (source: AsyncIterable<TrackedBatch<R>>): AsyncGenerator<string> {
    let sentId: string | undefined;
    let sentAt = 0;
    // encodeEvent's output, inlined: JSON.stringify escapes every CR and LF, so its output is one line
    // and needs no splitting into several `data:` fields.
    const eventHead = `event: ${eventType}\nid: `;
    for await (const batch of source) {
      if (batch.records.length > 0) {
        let chunk = '';
        for (const { record, id } of batch.records) chunk += `${eventHead}${id}\ndata: ${JSON.stringify(record.message) ?? 'null'}\n\n`;
        sentId = batch.records[batch.records.length - 1]!.id;
        sentAt = Date.now();
        if (sentId !== batch.id) {
          chunk += `id: ${batch.id}\n\n`;
          sentId = batch.id;
        }
        yield chunk;
      } else if (sentId !== batch.id && (batch.idle || Date.now() - sentAt >= interval)) {
        sentId = batch.id;
        sentAt = Date.now();
        yield `id: ${batch.id}\n\n`;
      }
    }
  };
}

