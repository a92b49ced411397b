import type { KafkaRecord, PartitionProgress, Position, RecordBatch } from '../types.js';

/** What `consume` reads from: the Kafka client, or an in-memory source in tests (see `kafka-sse/testing`). */
export interface RecordSource {
  fetch(
    positions: Position[],
    options: { wait: boolean; signal: AbortSignal },
  ): Promise<Array<{ topic: string; partition: number; records: KafkaRecord[]; nextOffset: number }>>;
}

export interface ConsumeOptions {
  /** Aborting ends the stream: the pending fetch is abandoned and the iterator returns. */
  signal?: AbortSignal;
  /** Instrumentation: called with kafkajs-style consumer event names (`consumer.fetch`, …). */
  onEvent?: (type: string, payload: Record<string, unknown>) => void;
}

/**
 * The source stage: reads the assigned partitions from `start` onwards, one batch per fetch, and pulls
 * the next fetch only when the pipeline asks for it. Yields an empty batch each time it has caught up.
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
  while (!signal.aborted) {
    emit('consumer.fetch_start', {});
    const startedAt = Date.now();
    let fetched;
    try {
      fetched = await source.fetch([...positions.values()], { wait: caughtUp, signal });
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const records = fetched.flatMap((f) => f.records);
    emit('consumer.fetch', { numberOfBatches: fetched.length, duration: Date.now() - startedAt });
    if (fetched.length === 0) {
      if (!caughtUp) yield { records: [], progress: [] };
      caughtUp = true;
      continue;
    }
    caughtUp = false;
    const progress: PartitionProgress[] = fetched.map((f) => {
      positions.get(`${f.topic}\u0000${f.partition}`)!.offset = f.nextOffset;
      const last = f.records[f.records.length - 1];
      return { topic: f.topic, partition: f.partition, nextOffset: f.nextOffset, ...(last ? { lastTimestamp: last.timestamp } : {}) };
    });
    emit('consumer.start_batch_process', { batchSize: records.length });
    yield { records, progress };
    emit('consumer.end_batch_process', { batchSize: records.length });
  }
}
