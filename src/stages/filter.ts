import type { DeserializedRecord, RecordBatch } from '../types.js';
import { RawJsonRecord } from './rawJsonRecord.js';

/**
 * Returns true to send the record. A filterer may carry a `cohortKey`: filterers with the same key keep
 * the same records, so streams using them can share one encoding of each batch (`urlFilter` sets it).
 * Without one, streams share an encoding only when they use the very same filterer function.
 */
export type Filterer<R extends DeserializedRecord = DeserializedRecord> = ((record: R) => boolean) & { readonly cohortKey?: string };

/**
 * Keeps the records `filterer` accepts. Dropped records still count as read (the batch keeps its progress).
 * A raw-JSON record whose message the filterer read but left as it was is still sent from its bytes.
 */
export function filter<R extends DeserializedRecord>(filterer: Filterer<R>) {
  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<RecordBatch<R>> {
    for await (const batch of source) {
      const records: R[] = [];
      for (const record of batch.records) {
        const keep = filterer(record);
        // What the filterer parsed to decide would otherwise live until the batch is encoded.
        RawJsonRecord.forgetUnchanged(record);
        if (keep) records.push(record);
      }
      yield { records, progress: batch.progress };
    }
  };
}
