// Test helpers for users' own stages: records without Kafka, an in-memory `Source` that behaves like the
// Kafka client (held to the same contract test), batches from arrays, and a `collect` that ends.
// Exported as `kafka-eventsource/testing`; not for production use.
import type { FetchedPartition, FetchOptions, Source, StartPosition } from './source/source.js';
import type { KafkaRecord, PartitionProgress, Position, RecordBatch } from './types.js';

/** A record to build; everything but `value` has a default. */
export interface RecordInit {
  /** Default `'test'`. */
  topic?: string;
  /** Default 0. */
  partition?: number;
  /** Default 0. */
  offset?: number;
  /** A Buffer is taken as is, null is a tombstone, anything else is JSON-encoded (a string too). */
  value: unknown;
  /** A string is UTF-8 encoded. Default null. */
  key?: string | Buffer | null;
  /** Default 0, so that records built twice are equal. */
  timestamp?: number;
  /** Default `{}`. */
  headers?: KafkaRecord['headers'];
}

/** A `KafkaRecord` as the Kafka client hands it over: `record({ value: { id: 1 } })`. */
export function record(init: RecordInit): KafkaRecord {
  const { value, key = null } = init;
  return {
    topic: init.topic ?? 'test',
    partition: init.partition ?? 0,
    offset: init.offset ?? 0,
    timestamp: init.timestamp ?? 0,
    key: key === null ? null : Buffer.isBuffer(key) ? key : Buffer.from(key),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value)),
    headers: init.headers ?? {},
  };
}

/** A record to append to a `MemorySource`: its offset is the next one of its partition. */
export interface MemoryRecordInit extends Omit<RecordInit, 'offset' | 'topic' | 'timestamp'> {
  topic: string;
  /** Default: the time of the append. */
  timestamp?: number;
}

export interface MemorySourceOptions {
  /** Most records one fetch returns per partition (default 100). */
  batchSize?: number;
  /** Topics that exist from the start, with their partition counts (appending creates the rest). */
  topics?: Record<string, number>;
}

/**
 * An in-memory `Source`: append-only partitions that `consume`, `resolveStart` and the other users of the
 * port read as they would read Kafka. `fetch` answers with the records at or after each position (at
 * most `batchSize` per partition); with `wait: true` it waits until something is appended, the signal
 * aborts or the source is closed. Offsets start at 0 and nothing is ever deleted.
 */
export class MemorySource implements Source {
  private readonly logs = new Map<string, KafkaRecord[]>();
  private readonly partitionCounts = new Map<string, number>();
  private waiters = new Set<(err?: unknown) => void>();
  private closed = false;
  readonly batchSize: number;
  /** Fetches made so far. */
  fetches = 0;

  /** `new MemorySource(4)` is `new MemorySource({ batchSize: 4 })`. */
  constructor(options: number | MemorySourceOptions = {}) {
    const { batchSize = 100, topics = {} } = typeof options === 'number' ? { batchSize: options } : options;
    this.batchSize = batchSize;
    for (const [topic, partitions] of Object.entries(topics)) this.createTopic(topic, partitions);
  }

  /** Makes a topic exist with at least `partitions` partitions. */
  createTopic(topic: string, partitions = 1): void {
    this.partitionCounts.set(topic, Math.max(partitions, this.partitionCounts.get(topic) ?? 0));
  }

  /** Appends records (creating their topics and partitions); returns them as stored, offsets assigned. */
  append(...inits: MemoryRecordInit[]): KafkaRecord[] {
    const added = inits.map((init) => {
      const partition = init.partition ?? 0;
      this.createTopic(init.topic, partition + 1);
      const log = this.log(init.topic, partition);
      const stored = record({ ...init, partition, offset: log.length, timestamp: init.timestamp ?? Date.now() });
      log.push(stored);
      return stored;
    });
    this.wake();
    return added;
  }

  private wake(err?: unknown): void {
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake(err);
  }

  private log(topic: string, partition: number): KafkaRecord[] {
    const k = `${topic}\u0000${partition}`;
    let log = this.logs.get(k);
    if (!log) this.logs.set(k, (log = []));
    return log;
  }

  async topicPartitions(topics: string[]): Promise<Map<string, number>> {
    this.assertOpen();
    const found = new Map<string, number>();
    for (const topic of topics) {
      const count = this.partitionCounts.get(topic);
      if (count !== undefined) found.set(topic, count);
    }
    return found;
  }

  async resolve(requests: StartPosition[]): Promise<Position[]> {
    this.assertOpen();
    return requests.map(({ topic, partition, offset, timestamp }) => {
      const log = this.log(topic, partition);
      const latest = log.length;
      let start = latest;
      if (offset !== undefined) start = offset >= 0 && offset <= latest ? offset : latest;
      else if (timestamp !== undefined) {
        const at = log.findIndex((r) => r.timestamp >= timestamp);
        start = at >= 0 ? at : latest;
      }
      return { topic, partition, offset: start };
    });
  }

  async fetch(positions: Position[], options: FetchOptions): Promise<FetchedPartition[]> {
    this.fetches++;
    for (;;) {
      this.assertOpen();
      const out = positions
        .map(({ topic, partition, offset }) => {
          const records = this.log(topic, partition).slice(offset, offset + this.batchSize);
          return { topic, partition, records, nextOffset: offset + records.length };
        })
        .filter((f) => f.records.length > 0);
      if (out.length > 0 || !options.wait) return out;
      await new Promise<void>((resolve, reject) => {
        const { signal } = options;
        if (signal.aborted) return reject(signal.reason);
        const wake = (err?: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (err === undefined) resolve();
          else reject(err);
        };
        const onAbort = () => {
          this.waiters.delete(wake);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.add(wake);
      });
    }
  }

  /** Ends the source: waiting fetches reject, and so does every call after this one. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake(new Error('The MemorySource is closed'));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('The MemorySource is closed');
  }
}

/**
 * Wraps plain arrays as batches, for feeding a single stage: `fromBatches([[r1, r2], [r3]])`. Each batch's
 * `progress` is what `consume` would report: one entry per partition in it, after its last record.
 */
export async function* fromBatches<R extends Pick<KafkaRecord, 'topic' | 'partition' | 'offset' | 'timestamp'>>(
  batches: R[][],
): AsyncGenerator<RecordBatch<R>> {
  for (const records of batches) {
    const byPartition = new Map<string, PartitionProgress>();
    for (const { topic, partition, offset, timestamp } of records) {
      const k = `${topic}\u0000${partition}`;
      const seen = byPartition.get(k);
      if (!seen || offset + 1 > seen.nextOffset) byPartition.set(k, { topic, partition, nextOffset: offset + 1, lastTimestamp: timestamp });
    }
    yield { records, progress: [...byPartition.values()] };
  }
}

// Taken before a test can mock them (node:test's mock.timers), so collect's deadline is in real time.
const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = globalThis;

export interface CollectOptions<T> {
  /** Stop after this many items, or after the first item for which this returns true (it is kept). */
  until?: number | ((item: T, collected: readonly T[]) => boolean);
  /**
   * Reject if the source has not ended (or `until` been met) by then, naming how many items came
   * (default 5000 ms; 0 waits for ever).
   */
  timeoutMs?: number;
}

/**
 * Collects an async iterable into an array: all of it, or until `until` is met, when the iterable is
 * closed (`return()`), which ends a `consume` cleanly. A consume never ends by itself (it waits for new
 * records once caught up), so a pipeline starting with one needs `until`, or a signal, or it fails after
 * `timeoutMs` with an error that says so.
 */
export async function collect<T>(source: AsyncIterable<T>, options: CollectOptions<T> = {}): Promise<T[]> {
  const { until, timeoutMs = 5000 } = options;
  const out: T[] = [];
  const done = (item: T) => (typeof until === 'number' ? out.length >= until : until ? until(item, out) : false);
  const drain = async () => {
    if (until === 0) return out;
    for await (const item of source) {
      out.push(item);
      if (done(item)) break;
    }
    return out;
  };
  if (!timeoutMs) return drain();
  let timer: ReturnType<typeof realSetTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => {
      const wanted = typeof until === 'number' ? `${until} items` : until ? 'an item matching `until`' : 'the end of the source';
      reject(
        new Error(
          `collect: waited ${timeoutMs} ms for ${wanted} and got ${out.length} item(s). ` +
            'A consume() never ends by itself: pass { until: n } or { until: (item) => … }, or abort its signal.',
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([drain(), timeout]);
  } finally {
    realClearTimeout(timer);
  }
}
