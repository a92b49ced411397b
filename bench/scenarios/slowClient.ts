// A client reading at 1 % of the produce rate: the server's memory must stay flat, because the stream's
// fetch waits for the socket to drain instead of buffering what the client has not read.
// Reference: how far the client falls behind (what an unpaused fetch would have had to buffer).
import { encodeEvent } from '../../src/index.js';
import type { Fixtures } from '../support.js';
import { BenchServer, jsonRecord, now, openStream, produceAtRate, progress, sleep, withTimeout } from '../support.js';

export interface SlowClientResult {
  seconds: number;
  producedRecords: number;
  producedEventBytes: number;
  clientReadBytes: number;
  /** Bytes produced for the client that it had not read at the end: the backlog left in Kafka. */
  lagBytes: number;
  rssStart: number;
  rssMax: number;
  rssGrowth: number;
  /** Records the server fetched for the stream, and fetches made, per sample. */
  samples: Array<{ atSeconds: number; rss: number; fetches: number; recordsFetched: number; writableBytes: number }>;
  recordsFetched: number;
  fetchesFirstHalf: number;
  fetchesSecondHalf: number;
  maxWritableBytes: number;
}

export async function slowClient(fx: Fixtures, quick: boolean): Promise<SlowClientResult> {
  const rate = 1000;
  const seconds = quick ? 15 : 60;
  const size = 300;
  const topic = await fx.createTopic(1, 'slow');
  const server = await BenchServer.start();
  // What one record costs on the wire, so the client can read 1 % of what is produced for it.
  const sampleValue = JSON.parse(jsonRecord(123_456, size, { sentAt: now() })) as Record<string, unknown>;
  const eventBytes = Buffer.byteLength(
    encodeEvent(
      'message',
      JSON.stringify([{ topic, partition: 0, offset: 123_456 }]),
      JSON.stringify({ ...sampleValue, _kafka: { topic, partition: 0, offset: 123_456, timestamp: Date.now(), key: null } }),
    ),
  );
  const readPerSecond = 0.01 * rate * eventBytes;
  const stream = await openStream(server.url([topic]));
  let clientReadBytes = 0;
  const reader = setInterval(() => {
    let budget = Math.round(readPerSecond / 10);
    while (budget > 0) {
      const chunk = stream.res.read(Math.min(budget, stream.res.readableLength || budget)) as Buffer | null;
      if (!chunk) break;
      clientReadBytes += chunk.length;
      budget -= chunk.length;
    }
  }, 100);
  stream.res.pause();
  try {
    for (let i = 0; i < 100 && (await server.stats()).waitingStreams < 1; i++) await sleep(50);
    const start = await server.stats();
    const samples: SlowClientResult['samples'] = [];
    const producer = await fx.producer();
    progress(`slow client: producing ${rate} records/s for ${seconds} s, client reads ${(readPerSecond / 1024).toFixed(1)} KiB/s`);
    const sampling = (async () => {
      const startedAt = Date.now();
      while (Date.now() - startedAt < seconds * 1000) {
        await sleep(quick ? 1000 : 5000);
        const s = await server.stats();
        samples.push({
          atSeconds: Math.round((Date.now() - startedAt) / 1000),
          rss: s.rss,
          fetches: s.streamFetches - start.streamFetches,
          recordsFetched: s.streamRecords - start.streamRecords,
          writableBytes: s.writableBytes,
        });
        if (!quick || samples.length % 5 === 0) {
          progress(`slow client ${samples.at(-1)!.atSeconds}s: RSS ${(s.rss / 2 ** 20).toFixed(1)} MiB, fetches ${s.streamFetches}, records fetched ${s.streamRecords}`);
        }
      }
    })();
    const produced = await produceAtRate(producer, topic, rate, seconds * 1000, size);
    await withTimeout(sampling, 30_000, 'sampling');
    const end = await server.stats();
    const half = samples[Math.floor(samples.length / 2) - 1]?.fetches ?? 0;
    const rssMax = Math.max(start.rss, ...samples.map((s) => s.rss), end.rss);
    return {
      seconds,
      producedRecords: produced,
      producedEventBytes: produced * eventBytes,
      clientReadBytes,
      lagBytes: produced * eventBytes - clientReadBytes,
      rssStart: start.rss,
      rssMax,
      rssGrowth: rssMax - start.rss,
      samples,
      recordsFetched: end.streamRecords - start.streamRecords,
      fetchesFirstHalf: half,
      fetchesSecondHalf: end.streamFetches - start.streamFetches - half,
      maxWritableBytes: Math.max(...samples.map((s) => s.writableBytes), end.maxWritableBytes),
    };
  } finally {
    clearInterval(reader);
    stream.req.destroy();
    await server.stop();
  }
}
