// Test helpers for users' own stages: an in-memory record source that behaves like Kafka to `consume`.
// Exported as `kafka-sse/testing`; not for production use.
import type { RecordSource } from './stages/consume.js';
import type { KafkaRecord, Position, RecordBatch } from './types.js';

export interface MemoryRecordInit {
  topic: string;
  partition: number;
  value: unknown;
  key?: string | null;
  timestamp?: number;
  headers?: KafkaRecord['headers'];
}

/**
 * An in-memory, append-only set of partitions. `fetch` answers like the Kafka client: records at or
 * after each position (at most `batchSize` per partition), and with `wait: true` it blocks until
 * something is appended or the signal aborts.
 */
export class MemorySource implements RecordSource {
  private readonly logs = new Map<string, KafkaRecord[]>();
  private waiters = new Set<() => void>();
  fetches = 0;

  constructor(readonly batchSize = 100) {}

  /** Appends records; values that are not Buffers or null are JSON-encoded. Returns the records as stored. */
  append(...inits: MemoryRecordInit[]): KafkaRecord[] {
    const added = inits.map((init) => {
      const log = this.log(init.topic, init.partition);
      const record: KafkaRecord = {
        topic: init.topic,
        partition: init.partition,
        offset: log.length,
        timestamp: init.timestamp ?? Date.now(),
        key: init.key === undefined || init.key === null ? null : Buffer.from(init.key),
        value: init.value === null ? null : Buffer.isBuffer(init.value) ? init.value : Buffer.from(JSON.stringify(init.value)),
        headers: init.headers ?? {},
      };
      log.push(record);
      return record;
    });
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
    return added;
  }

  private log(topic: string, partition: number): KafkaRecord[] {
    const k = `${topic}\u0000${partition}`;
    let log = this.logs.get(k);
    if (!log) this.logs.set(k, (log = []));
    return log;
  }

  async fetch(positions: Position[], options: { wait: boolean; signal: AbortSignal }) {
    this.fetches++;
    for (;;) {
      const out = positions
        .map(({ topic, partition, offset }) => {
          const records = this.log(topic, partition).slice(offset, offset + this.batchSize);
          return { topic, partition, records, nextOffset: offset + records.length };
        })
        .filter((f) => f.records.length > 0);
      if (out.length > 0 || !options.wait) return out;
      await new Promise<void>((resolve, reject) => {
        if (options.signal.aborted) return reject(options.signal.reason);
        const wake = () => {
          options.signal.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiters.delete(wake);
          reject(options.signal.reason);
        };
        options.signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.add(wake);
      });
    }
  }
}

/** Wraps plain arrays as batches, for feeding a single stage: `fromBatches([[r1, r2], [r3]])`. */
export async function* fromBatches<R>(batches: R[][]): AsyncGenerator<RecordBatch<R>> {
  for (const records of batches) {
    const progress = records.map((r) => {
      const { topic, partition, offset } = r as unknown as KafkaRecord;
      return { topic, partition, nextOffset: offset + 1 };
    });
    yield { records, progress };
  }
}

/** Drains an async iterable into an array. */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
