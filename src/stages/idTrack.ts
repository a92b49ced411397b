import type { DeserializedRecord, IdParts, KafkaRecord, Position, RecordBatch, TrackedBatch, TrackedRecord } from '../types.js';
import { jsonNumber } from './rawJsonRecord.js';

export interface IdTrackOptions {
  /** Put `timestamp` (last delivered timestamp + 1) in ids instead of `offset` (next offset). */
  useTimestampForId?: boolean;
  /** With `useTimestampForId`, the timestamp a partition with no delivered record yet carries (default: now). */
  startTimestamp?: number;
}

/**
 * The part of an id shared by a run of records from one partition: every other partition's fragment,
 * fixed for the run, around the run's own fragment, which only changes its number.
 */
class IdRun implements IdParts {
  constructor(
    /** `[` and the fragments before this partition's, then this partition's fragment up to its number. */
    readonly head: string,
    /** `}` closing this partition's fragment, then the fragments after it and `]`. */
    readonly tail: string,
  ) {}

  /** The id whose own fragment carries `value` (a next offset, or a timestamp). */
  id(value: number): string {
    return `${this.head}${jsonNumber(value)}${this.tail}`;
  }
}

/**
 * A record and its event id. The id is built when first read; encoders can write it from `idRun` and
 * `idNumber` without making the string (see `TrackedRecord`).
 */
class TrackedRecordOf<R extends KafkaRecord> implements TrackedRecord<R> {
  private text: string | undefined;
  constructor(
    readonly record: R,
    readonly idRun: IdRun,
    readonly idNumber: number,
  ) {}

  get id(): string {
    return (this.text ??= this.idRun.id(this.idNumber));
  }
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
  const fragment = (i: number, value: number) => `${prefixes[i]}${jsonNumber(value)}}`;
  const fragments = assigned.map((p, i) => fragment(i, useTimestamp ? startTimestamp : p.offset));
  const current = () => `[${fragments.join(',')}]`;
  // The run around partition `i`: every other fragment as it stands, made once per run of records.
  const runOf = (i: number) =>
    new IdRun(
      `[${fragments.slice(0, i).map((f) => `${f},`).join('')}${prefixes[i]}`,
      `}${fragments.slice(i + 1).map((f) => `,${f}`).join('')}]`,
    );

  return async function* (source: AsyncIterable<RecordBatch<R>>): AsyncGenerator<TrackedBatch<R>> {
    // The starting positions, before anything is read: a client that reconnects now resumes exactly here.
    yield { records: [], id: current(), idle: true };
    for await (const batch of source) {
      const records: TrackedRecord<R>[] = [];
      // A fetch brings runs of records from one partition: look the partition up once per run.
      let runTopic: string | undefined;
      let runPartition = -1;
      let i: number | undefined;
      let run: IdRun | undefined;
      let value = 0;
      for (const record of batch.records) {
        if (record.topic !== runTopic || record.partition !== runPartition) {
          if (run !== undefined) fragments[i!] = fragment(i!, value); // the run's last value, for the next run
          runTopic = record.topic;
          runPartition = record.partition;
          i = index.get(`${record.topic}\u0000${record.partition}`);
          run = i === undefined ? undefined : runOf(i);
        }
        if (run === undefined) continue;
        value = useTimestamp ? record.timestamp + 1 : record.offset + 1;
        records.push(new TrackedRecordOf(record, run, value));
      }
      if (run !== undefined) fragments[i!] = fragment(i!, value);
      for (const p of batch.progress) {
        const i = index.get(`${p.topic}\u0000${p.partition}`);
        if (i === undefined) continue;
        if (!useTimestamp) fragments[i] = fragment(i, p.nextOffset);
        else if (p.lastTimestamp !== undefined) fragments[i] = fragment(i, p.lastTimestamp + 1);
      }
      yield { records, id: current(), idle: batch.records.length === 0 && batch.progress.length === 0 };
    }
  };
}
