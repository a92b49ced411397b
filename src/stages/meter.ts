/** What one stream has sent so far. `events` is counted by `countEvents`, `bytes` by `meter`. */
export interface StreamCounters {
  events: number;
  bytes: number;
}

/** Counts the records of each batch into `counters.events` as they pass (before they become events). */
export function countEvents(counters: StreamCounters) {
  return async function* <B extends { records: readonly unknown[] }>(source: AsyncIterable<B>): AsyncGenerator<B> {
    for await (const batch of source) {
      counters.events += batch.records.length;
      yield batch;
    }
  };
}

/**
 * Counts the bytes of each chunk into `counters.bytes` as it goes to the client, and reports each chunk
 * with the events counted since the last report (for live metrics).
 */
export function meter(counters: StreamCounters, onProgress?: (sent: { events: number; bytes: number }) => void) {
  return async function* <T extends string | Uint8Array>(source: AsyncIterable<T>): AsyncGenerator<T> {
    let reported = counters.events;
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      counters.bytes += bytes;
      if (onProgress) {
        onProgress({ events: counters.events - reported, bytes });
        reported = counters.events;
      }
      yield chunk;
    }
  };
}
