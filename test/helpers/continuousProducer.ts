// A producer that writes across an outage or a failover, and the exactly-once check of what a stream
// delivered, for the fault tests (one broker restarted, a cluster node killed).
import assert from 'node:assert/strict';
import type { Producer } from 'kafkajs';
import { delay } from './wait.js';

/** A record the broker acknowledged: where it was written, and its sequence number `n`. */
export interface Acked {
  partition: number;
  offset: number;
  n: number;
}

/** A record a stream delivered: its `_kafka` coordinates and its `n`. */
export interface Received {
  partition: number;
  offset: number;
  n: number;
}

/**
 * Writes `{ n }` records one at a time, round-robin over `partitions`, until stopped: a send that fails
 * is retried (the same record) until acknowledged. With a plain producer a retried send may be written
 * twice; an idempotent one has the broker drop the copy. What was acked is in `acked`.
 */
export function keepProducing(producer: Producer, topic: string, partitions: number, options: { sendTimeoutMs: number; pauseMs: number }) {
  const acked: Acked[] = [];
  let failedSends = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        await producer.connect();
        break;
      } catch {
        await delay(100);
      }
    }
    for (let n = 0; running; n++) {
      for (;;) {
        try {
          const [meta] = await producer.send({
            topic,
            acks: -1,
            timeout: options.sendTimeoutMs,
            messages: [{ partition: n % partitions, value: JSON.stringify({ n }) }],
          });
          acked.push({ partition: meta!.partition, offset: Number(meta!.baseOffset), n });
          break;
        } catch {
          failedSends++;
          if (!running) return;
          await delay(100);
        }
      }
      await delay(options.pauseMs);
    }
  })();
  return {
    acked,
    failedSends: () => failedSends,
    async stop() {
      running = false;
      await done;
      await producer.disconnect();
    },
  };
}

/** Every offset 0..end-1 of every partition exactly once and in order, and every acked record at the offset it was acked at. */
export function assertExactlyOnce(received: Received[], ends: Map<number, number>, acked: Acked[]): void {
  for (const [partition, end] of ends) {
    const offsets = received.filter((r) => r.partition === partition).map((r) => r.offset);
    assert.deepEqual(offsets, Array.from({ length: end }, (_, i) => i), `partition ${partition}: offsets 0..${end - 1}, each once, in order`);
  }
  const seen = new Map(received.map((r) => [`${r.partition}:${r.offset}`, r.n]));
  const lost = acked.filter((a) => seen.get(`${a.partition}:${a.offset}`) !== a.n);
  assert.deepEqual(lost, [], 'every acknowledged record reached the client, at the offset it was acked at');
}
