import type { DeserializedRecord, KafkaRecord, Position, RecordBatch, TrackedBatch, TrackedRecord } from '../types.js';

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
export function idTrack<R extends KafkaRecord = DeserializedRecord>(assigned: Position[], options: IdTrackOptions = {}) {
  const useTimestamp = options.useTimestampForId === true;
  const startTimestamp = options.startTimestamp ?? Date.now();
  const index = new Map(assigned.map((p, i) => [`${p.topic}\u0000${p.partition}`, i]));
  // One JSON fragment per partition; an id is their join, so a record re-serializes only its own partition.
  // Each fragment is a fixed prefix plus a number (JSON.stringify of a number is String() of it, or null).
  const prefixes = assigned.map((p) => {
    const json = JSON.stringify(useTimestamp ? { topic: p.topic, partition: p.partition, timestamp: 0 } : { topic: p.topic, partition: p.partition, offset: 0 });
    return json.slice(0, -2);
  });
  const fragment = (i: number, value: number) => `${prefixes[i]}${Number.isFinite(value) ? String(value) : 'null'}}`;
  const fragments = assigned.map((p, i) => fragment(i, useTimestamp ? startTimestamp : p.offset));
  const current = () => `[${fragments.join(',')}]`;
  // The ids around partition `around`: every other fragment joined, rebuilt only when one of them changes.
  let around = -1;
  let head = '';
  let tail = '';
  const idWith = (i: number, own: string) => {
    if (around !== i) {
      head = `[${fragments.slice(0, i).map((f) => `${f},`).join('')}`;
      tail = `${fragments.slice(i + 1).map((f) => `,${f}`).join('')}]`;
      around = i;
    }
    return head + own + tail;
  };

  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<TrackedBatch<R>> {
    // The starting positions, before anything is read: a client that reconnects now resumes exactly here.
    yield { records: [], id: current(), idle: true };
    for await (const batch of source) {
      const records: TrackedRecord<R>[] = [];
      // A fetch brings runs of records from one partition: look the partition up once per run.
      let runTopic: string | undefined;
      let runPartition = -1;
      let i: number | undefined;
      for (const record of batch.records) {
        if (record.topic !== runTopic || record.partition !== runPartition) {
          runTopic = record.topic;
          runPartition = record.partition;
          i = index.get(`${record.topic}\u0000${record.partition}`);
        }
        if (i === undefined) continue;
        fragments[i] = fragment(i, useTimestamp ? record.timestamp + 1 : record.offset + 1);
        records.push({ record, id: idWith(i, fragments[i]!) });
      }
      for (const p of batch.progress) {
        const i = index.get(`${p.topic}\u0000${p.partition}`);
        if (i === undefined) continue;
        if (!useTimestamp) fragments[i] = fragment(i, p.nextOffset);
        else if (p.lastTimestamp !== undefined) fragments[i] = fragment(i, p.lastTimestamp + 1);
        around = -1;
      }
      yield { records, id: current(), idle: batch.records.length === 0 && batch.progress.length === 0 };
    }
  };
}
