import type { DeserializedRecord, RecordBatch } from '../types.js';
import { messageJson } from './rawJsonRecord.js';

/** Encodes each batch as newline-delimited JSON messages: no SSE framing, no ids. */
export function ndjsonEncode<R extends DeserializedRecord>() {
  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<string> {
    for await (const batch of source) {
      if (batch.records.length === 0) continue;
      // A record's JSON is one line: JSON.stringify escapes CR and LF, and a record's `rawJson` holds none.
      const lines: string[] = [];
      for (const record of batch.records) lines.push(messageJson(record), '\n');
      yield lines.join('');
    }
  };
}
