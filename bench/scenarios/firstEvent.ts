// Time to first event: request sent → first `data:` byte, records already at the asked offsets.
// Reference: kafkajs's public consumer, one per connection, which must join a group before it fetches.
import type { Fixtures } from '../support.js';
import { BenchServer, jsonRecord, now, openStream, percentile, progress, withTimeout } from '../support.js';

export interface FirstEventResult {
  connections: number;
  p50: number;
  p95: number;
  max: number;
  perConnectionClient: { connections: number; p50: number; p95: number };
  reference: { connections: number; p50: number; p95: number; groupsCreated: number };
}

const RECORDS = 1000;

/** Opens a stream at `offset` and resolves with ms from request sent to the first `data:` byte. */
async function firstData(url: string): Promise<number> {
  const { req, res, sentAt } = await openStream(url);
  try {
    return await withTimeout(
      new Promise<number>((resolve, reject) => {
        let seen = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          seen = (seen + chunk).slice(-(chunk.length + 6));
          if (seen.includes('\ndata: ')) resolve(now() - sentAt);
        });
        res.once('end', () => reject(new Error('stream ended before its first event')));
      }),
      30_000,
      'first event',
    );
  } finally {
    req.destroy();
  }
}

async function kafkajsFirstEvent(fx: Fixtures, topic: string, offset: number): Promise<number> {
  const startedAt = now();
  const consumer = fx.kafka.consumer({ groupId: fx.referenceGroup() });
  let first!: (at: number) => void;
  const firstMessage = new Promise<number>((resolve) => (first = resolve));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachMessage: async () => first(now()) });
    consumer.seek({ topic, partition: 0, offset: String(offset) });
    return (await withTimeout(firstMessage, 60_000, 'kafkajs consumer first message')) - startedAt;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

export async function timeToFirstEvent(fx: Fixtures, quick: boolean): Promise<FirstEventResult> {
  const connections = quick ? 20 : 50;
  const perConnection = quick ? 5 : 10;
  const references = quick ? 2 : 5;
  const topic = await fx.createTopic(1, 'first');
  await fx.fill(topic, 1, RECORDS, (i) => jsonRecord(i));
  const server = await BenchServer.start();
  try {
    const offsetOf = (i: number) => (i * 397) % RECORDS;
    const url = (i: number, extra = '') => server.url([{ topic, partition: 0, offset: offsetOf(i) }], extra);
    await firstData(url(0)); // warm-up: connects the shared client, as the first request of a process does
    const times: number[] = [];
    for (let i = 1; i <= connections; i++) times.push(await firstData(url(i)));
    progress(`first event, shared client: p50 ${percentile(times, 50).toFixed(1)} ms over ${connections} connections`);
    const perConn: number[] = [];
    for (let i = 1; i <= perConnection; i++) perConn.push(await firstData(url(i, '&perConnection=1')));
    progress(`first event, client per connection: p50 ${percentile(perConn, 50).toFixed(1)} ms`);
    const ref: number[] = [];
    for (let i = 1; i <= references; i++) {
      ref.push(await kafkajsFirstEvent(fx, topic, offsetOf(i)));
      progress(`first event, kafkajs consumer with group join ${i}/${references}: ${ref[ref.length - 1]!.toFixed(0)} ms`);
    }
    return {
      connections,
      p50: percentile(times, 50),
      p95: percentile(times, 95),
      max: Math.max(...times),
      perConnectionClient: { connections: perConnection, p50: percentile(perConn, 50), p95: percentile(perConn, 95) },
      reference: { connections: references, p50: percentile(ref, 50), p95: percentile(ref, 95), groupsCreated: references },
    };
  } finally {
    await server.stop();
  }
}
