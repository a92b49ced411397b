import type { FetchedPartition, RecordSource } from '../source/source.js';
import type { KafkaRecord, PartitionProgress, Position, RecordBatch } from '../types.js';

/** What `consume` reads from: any `Source` (the Kafka client, `MemorySource`), of which it calls `fetch` only. */
export type { RecordSource } from '../source/source.js';

export interface ConsumeOptions {
  /** Aborting ends the stream: the pending fetch is abandoned and the iterator returns. */
  signal?: AbortSignal;
  /** Instrumentation: called with kafkajs-style consumer event names (`consumer.fetch`, …). */
  onEvent?: (type: string, payload: Record<string, unknown>) => void;
  /**
   * While catching up, start the next fetch as soon as a batch is handed on, so Kafka's answer travels
   * while the pipeline works on the batch (default false: fetch only when pulled). At most one fetch is
   * ahead, so a consumer that stops pulling still stops the reads, one batch later.
   */
  readAhead?: boolean;
}

type Fetched = FetchedPartition[];

/**
 * The source stage: reads the assigned partitions from `start` onwards, one batch per fetch, and pulls
 * the next fetch only when the pipeline asks for it (or, with `readAhead`, one fetch ahead of it).
 * Yields an empty batch each time it has caught up.
 */
export async function* consume(
  source: RecordSource,
  start: Position[],
  options: ConsumeOptions = {},
): AsyncGenerator<RecordBatch<KafkaRecord>> {
  const signal = options.signal ?? new AbortController().signal;
  const emit = options.onEvent ?? (() => {});
  const positions = new Map(start.map((p) => [`${p.topic}\u0000${p.partition}`, { ...p }]));
  let caughtUp = false;
  let ahead: { fetched: Promise<Fetched>; startedAt: number } | undefined;
  const fetchNext = (wait: boolean) => {
    emit('consumer.fetch_start', {});
    const startedAt = Date.now();
    const fetched = source.fetch([...positions.values()], { wait, signal });
    return { fetched, startedAt };
  };
  while (!signal.aborted) {
    const pending = ahead ?? fetchNext(caughtUp);
    ahead = undefined;
    let fetched: Fetched;
    try {
      fetched = await pending.fetched;
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    emit('consumer.fetch', { numberOfBatches: fetched.length, duration: Date.now() - pending.startedAt });
    if (fetched.length === 0) {
      if (!caughtUp) yield { records: [], progress: [] };
      caughtUp = true;
      continue;
    }
    caughtUp = false;
    const { records, progress } = batchOf(fetched);
    for (const f of fetched) positions.get(`${f.topic}\u0000${f.partition}`)!.offset = f.nextOffset;
    if (options.readAhead && !signal.aborted) {
      ahead = fetchNext(false);
      // Settled when pulled. An error before that, or the answer of a fetch never pulled because the stream
      // ended (dropped: nothing of it was sent), must not go unhandled.
      ahead.fetched.catch(() => {});
    }
    emit('consumer.start_batch_process', { batchSize: records.length });
    yield { records, progress };
    emit('consumer.end_batch_process', { batchSize: records.length });
  }
}

/** A fetch as one batch: every partition's records in one array, and where each partition goes on. */
export function batchOf(fetched: FetchedPartition[]): RecordBatch<KafkaRecord> {
  // One array of every partition's records (flatMap is markedly slower on batches of thousands).
  const records: KafkaRecord[] = fetched.length === 1 ? fetched[0]!.records : [];
  if (fetched.length > 1) for (const f of fetched) for (const r of f.records) records.push(r);
  const progress: PartitionProgress[] = fetched.map((f) => {
    const last = f.records[f.records.length - 1];
    return { topic: f.topic, partition: f.partition, nextOffset: f.nextOffset, ...(last ? { lastTimestamp: last.timestamp } : {}) };
  });
  return { records, progress };
}
