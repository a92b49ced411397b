// The port between kafka-sse and wherever records come from. The stages, `resolveStart` and `kafkaSse`
// talk to a `Source`; the kafkajs adapter (`KafkaClient`, src/kafka/) and `MemorySource`
// (`kafka-eventsource/testing`) implement it, and one contract test (test/contract/source.contract.ts) holds
// both to the same behaviour.
import type { KafkaRecord, Position } from '../types.js';

/** Where one partition should start: an exact `offset`, else the first record at or after `timestamp`, else the end. */
export interface StartPosition {
  topic: string;
  partition: number;
  offset?: number;
  timestamp?: number;
}

/** Records fetched from one partition for one reader, and where that reader goes on. */
export interface FetchedPartition {
  topic: string;
  partition: number;
  records: KafkaRecord[];
  /** Next offset to read: after the last record, or moved forward when the old one left the log. */
  nextOffset: number;
}

export interface FetchOptions {
  /** false: answer at once, even if empty (catching up). true: wait until records arrive (or a long-poll times out, answering empty). */
  wait: boolean;
  /** Aborting ends a waiting fetch: it rejects with the signal's reason. */
  signal: AbortSignal;
}

/** A readable set of partitioned, append-only logs: a Kafka cluster, or an in-memory one in tests. */
export interface Source {
  /** Partition counts of the topics that exist; missing topics are absent from the map (never created). */
  topicPartitions(topics: string[]): Promise<Map<string, number>>;
  /**
   * One exact position per request, in order: `offset` if it lies within the partition's log (else the
   * latest offset), else the first offset at or after `timestamp` (the latest if there is none), else the
   * latest offset.
   */
  resolve(requests: StartPosition[]): Promise<Position[]>;
  /**
   * What follows `positions`: only partitions with something to report are in the answer. With
   * `wait: false` it answers at once (maybe empty); with `wait: true` it waits for records.
   */
  fetch(positions: Position[], options: FetchOptions): Promise<FetchedPartition[]>;
  /** Releases what the source holds. Fetches waiting at that moment, and any made later, reject. */
  close(): Promise<void>;
}

/** What `consume` needs of a source: its `fetch` only. */
export type RecordSource = Pick<Source, 'fetch'>;
