import type { DeserializedRecord, RecordBatch } from '../types.js';
import { isTombstone, messageJson } from './rawJsonRecord.js';

/**
 * Encodes each batch as newline-delimited JSON messages: no SSE framing, no ids. NDJSON has no event
 * types, so a tombstone sent as a delete is its `{"_kafka":…}` line with `"_deleted":true` added.
 */
export function ndjsonEncode<R extends DeserializedRecord>() {
  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<string> {
    for await (const batch of source) {
      if (batch.records.length === 0) continue;
      // A record's JSON is one line: JSON.stringify escapes CR and LF, and a record's `rawJson` holds none.
      const lines: string[] = [];
      for (const record of batch.records) {
        const json = messageJson(record);
        lines.push(isTombstone(record) ? `${json.slice(0, -1)},"_deleted":true}` : json, '\n');
      }
      yield lines.join('');
    }
  };
}
