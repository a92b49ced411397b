import type { KafkaRecord, Position, RecordBatch, TrackedBatch, TrackedRecord } from '../types.js';

export interface IdTrackOptions {
  /** Put `timestamp` (last delivered timestamp + 1) in ids instead of `offset` (next offset). */
  useTimestampForId?: boolean;
  /** With `useTimestampForId`, the timestamp a partition with no delivered record yet carries (default: now). */
  startTimestamp?: number;
}

/**
 * Pairs each record with the event id a client holds after receiving it: a JSON array with one entry
 * per assigned partition, in assignment order, naming the next offset (or timestamp) to read.
 */
export function idTrack<R extends KafkaRecord>(assigned: Position[], options: IdTrackOptions = {}) {
  const useTimestamp = options.useTimestampForId === true;
  const startTimestamp = options.startTimestamp ?? Date.now();
  const index = new Map(assigned.map((p, i) => [`${p.topic}\u0000${p.partition}`, i]));
  // One JSON fragment per partition; an id is their join, so a record re-serializes only its own partition.
  const fragment = (topic: string, partition: number, value: number) =>
    useTimestamp
      ? JSON.stringify({ topic, partition, timestamp: value })
      : JSON.stringify({ topic, partition, offset: value });
  const fragments = assigned.map((p) => fragment(p.topic, p.partition, useTimestamp ? startTimestamp : p.offset));
  const current = () => `[${fragments.join(',')}]`;

  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<TrackedBatch<R>> {
    // The starting positions, before anything is read: a client that reconnects now resumes exactly here.
    yield { records: [], id: current(), idle: true };
    for await (const batch of source) {
      const records: TrackedRecord<R>[] = [];
      for (const record of batch.records) {
        const i = index.get(`${record.topic}\u0000${record.partition}`);
        if (i === undefined) continue;
        fragments[i] = fragment(record.topic, record.partition, useTimestamp ? record.timestamp + 1 : record.offset + 1);
        records.push({ record, id: current() });
      }
      for (const p of batch.progress) {
        const i = index.get(`${p.topic}\u0000${p.partition}`);
        if (i === undefined) continue;
        if (!useTimestamp) fragments[i] = fragment(p.topic, p.partition, p.nextOffset);
        else if (p.lastTimestamp !== undefined) fragments[i] = fragment(p.topic, p.partition, p.lastTimestamp + 1);
      }
      yield { records, id: current(), idle: batch.records.length === 0 && batch.progress.length === 0 };
    }
  };
}
