import type { DeserializedRecord, RecordBatch } from '../types.js';

/** Returns true to send the record to the client. */
export type Filterer<R extends DeserializedRecord = DeserializedRecord> = (record: R) => boolean;

/** Keeps the records `filterer` accepts. Dropped records still count as read (the batch keeps its progress). */
export function filter<R extends DeserializedRecord>(filterer: Filterer<R>) {
  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<RecordBatch<R>> {
    for await (const batch of source) {
      yield { records: batch.records.filter((r) => filterer(r)), progress: batch.progress };
    }
  };
}
