import type { DeserializedRecord, RecordBatch } from '../types.js';

/** Encodes each batch as newline-delimited JSON messages: no SSE framing, no ids. */
export function ndjsonEncode<R extends DeserializedRecord>() {
  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<string> {
    for await (const batch of source) {
      if (batch.records.length === 0) continue;
      let chunk = '';
      for (const record of batch.records) chunk += `${JSON.stringify(record.message) ?? 'null'}\n`;
      yield chunk;
    }
  };
}
