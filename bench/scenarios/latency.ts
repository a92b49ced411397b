// End-to-end latency at a steady produce rate: record produced → event parsed by a connected client.
// Reference: a bare kafkajs consumer (eachMessage) subscribed to the same topic at the same time.
import type { Fixtures } from '../support.js';
import { BenchServer, now, openStream, parseEvents, percentile, produceAtRate, progress, sleep, withTimeout } from '../support.js';

export interface LatencyResult {
  ratePerSecond: number;
  seconds: number;
  produced: number;
  received: number;
  p50: number;
  p99: number;
  max: number;
  reference: { received: number; p50: number; p99: number; max: number };
}

export async function latency(fx: Fixtures, quick: boolean): Promise<LatencyResult> {
  const rate = 1000;
  const seconds = quick ? 5 : 20;
  const topic = await fx.createTopic(1, 'latency');
  const server = await BenchServer.start();
  const consumer = fx.kafka.consumer({ groupId: fx.referenceGroup() });
  const sse: number[] = [];
  const reference: number[] = [];
  const stream = await openStream(server.url([topic]));
  try {
    parseEvents(stream.res, (data) => {
      const at = now();
      sse.push(at - (JSON.parse(data) as { sentAt: number }).sentAt);
    });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const at = now();
        reference.push(at - (JSON.parse(message.value!.toString()) as { sentAt: number }).sentAt);
      },
    });
    await withTimeout(joined, 60_000, 'reference consumer joining its group');
    // Both readers are at the end of the empty topic and waiting before the first record is produced.
    for (let i = 0; i < 100 && (await server.stats()).waitingStreams < 1; i++) await sleep(50);
    await sleep(500);
    progress(`producing ${rate} records/s for ${seconds} s`);
    const producer = await fx.producer();
    const produced = await produceAtRate(producer, topic, rate, seconds * 1000, 300);
    for (let i = 0; i < 100 && (sse.length < produced || reference.length < produced); i++) await sleep(50);
    progress(`latency: kafka-sse p50 ${percentile(sse, 50).toFixed(1)} ms, kafkajs p50 ${percentile(reference, 50).toFixed(1)} ms`);
    return {
      ratePerSecond: rate,
      seconds,
      produced,
      received: sse.length,
      p50: percentile(sse, 50),
      p99: percentile(sse, 99),
      max: Math.max(...sse),
      reference: {
        received: reference.length,
        p50: percentile(reference, 50),
        p99: percentile(reference, 99),
        max: Math.max(...reference),
      },
    };
  } finally {
    stream.req.destroy();
    await consumer.disconnect().catch(() => {});
    await server.stop();
  }
}
