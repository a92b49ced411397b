import { StageError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { NOT_RAW, rawJsonObject } from '../json/validate.js';
import type { DeserializedRecord, KafkaRecord, Logger, RecordBatch } from '../types.js';
import { RawJsonRecord, TombstoneRecord, kafkaMeta } from './rawJsonRecord.js';

/** Sets `record.message` from the record and returns it; throws (or returns undefined) to skip the record. */
export type Deserializer = (record: KafkaRecord & { message?: unknown }) => DeserializedRecord | undefined;

/**
 * The default: the value as UTF-8 JSON, which must be an object, plus
 * `_kafka: {topic, partition, offset, timestamp, key}`. Tombstones (null values) are skipped.
 */
export const jsonDeserializer: Deserializer = (record) => {
  if (record.value === null) throw new Error('tombstone (null value)');
  const message: unknown = JSON.parse(record.value.toString('utf8'));
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new Error('value is JSON but not an object');
  }
  (message as Record<string, unknown>)._kafka = kafkaMeta(record);
  return Object.assign(record, { message });
};

export interface DeserializeOptions {
  /** Sets `record.message` (default: `jsonDeserializer`). */
  deserializer?: Deserializer;
  /** Where skipped records are reported (default: silent). */
  logger?: Logger;
  /**
   * With the default deserializer only: let values that are plain JSON objects through unparsed (see
   * `rawJsonObject`), as `RawJsonRecord`s (src/types.ts): `message` is parsed when first read, and until
   * then every encoder writes the record from its bytes. The client gets the same JSON value either way.
   */
  rawJson?: boolean;
  /**
   * Tombstones (null values): `'skip'` (default) hands them to the deserializer as any record (the default
   * one skips them); `'delete'` sends each as a `TombstoneRecord` (event `delete`, data `{ _kafka }`), with
   * any deserializer.
   */
  tombstones?: 'skip' | 'delete';
}

/**
 * Turns Kafka records into messages. A record the deserializer rejects is skipped with a warning and
 * the stream goes on; its offset still counts as read (the batch keeps its progress).
 * `deserialize({ deserializer, logger, rawJson })`, like every stage factory; the seed-era positional
 * form `deserialize(deserializer, logger, { rawJson })` still works.
 */
export function deserialize(options?: DeserializeOptions): (source: AsyncIterable<RecordBatch<KafkaRecord>>) => AsyncGenerator<RecordBatch<DeserializedRecord>>;
/** @deprecated Pass one options object: `deserialize({ deserializer, logger, rawJson })`. */
export function deserialize(deserializer?: Deserializer, logger?: Logger, options?: DeserializeOptions): (source: AsyncIterable<RecordBatch<KafkaRecord>>) => AsyncGenerator<RecordBatch<DeserializedRecord>>;
export function deserialize(first?: DeserializeOptions | Deserializer, positionalLogger?: Logger, positionalOptions: DeserializeOptions = {}) {
  const options: DeserializeOptions =
    typeof first === 'function' || first === undefined && (positionalLogger !== undefined || positionalOptions.rawJson !== undefined)
      ? { ...positionalOptions, ...(first ? { deserializer: first } : {}), ...(positionalLogger ? { logger: positionalLogger } : {}) }
      : (first ?? {});
  const deserializer = options.deserializer ?? jsonDeserializer;
  const logger = options.logger ?? silentLogger;
  const raw = options.rawJson === true && deserializer === jsonDeserializer;
  const deletes = options.tombstones === 'delete';
  return async function* (source: AsyncIterable<RecordBatch<KafkaRecord>>): AsyncGenerator<RecordBatch<DeserializedRecord>> {
    for await (const batch of source) {
      const records: DeserializedRecord[] = [];
      for (const record of batch.records) {
        if (deletes && record.value === null) {
          records.push(new TombstoneRecord(record));
          continue;
        }
        if (raw && record.value !== null) {
          if (rawJsonObject(record.value) !== NOT_RAW) {
            records.push(new RawJsonRecord(record, record.value));
            continue;
          }
        }
        const { topic, partition, offset } = record;
        let out: DeserializedRecord | undefined;
        try {
          out = deserializer(record);
        } catch (err) {
          logger.warn({ topic, partition, offset, reason: (err as Error).message }, 'skipped a record that did not deserialize');
          continue;
        }
        if (out === undefined || out === null) continue;
        if (out.topic !== topic || out.partition !== partition || out.offset !== offset) {
          throw new StageError('A deserializer changed a record\'s topic, partition or offset', { topic, partition, offset });
        }
        records.push(out);
      }
      yield { records, progress: batch.progress };
    }
  };
}
