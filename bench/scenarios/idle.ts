// Idle connections: many open streams on a quiet topic. What each costs the server in memory, and
// whether the server burns CPU while nothing happens. Reference: the same server with no stream open.
import type { Fixtures } from '../support.js';
import { BenchServer, countEvents, jsonRecord, openStream, progress, sleep, withTimeout } from '../support.js';

export interface IdleResult {
  streams: number;
  rssBefore: number;
  rssAfter: number;
  /** RSS growth per stream, not counting the growth of V8's young generation (see newSpaceGrowth). */
  rssPerStream: number;
  /** Raw RSS growth per stream, young generation included. */
  rawRssPerStream: number;
  heapPerStream: number;
  /**
   * Growth of V8's young generation (semi-spaces) while the streams opened: a one-off of up to ~32 MiB
   * that any burst of allocation causes and a forced GC does not undo, so it is not charged per stream.
   */
  newSpaceGrowth: number;
  windowSeconds: number;
  /** CPU of the server while the streams sit idle, in % of one core. */
  cpuPercent: number;
  tailFetchesPerSecond: number;
  reference: { cpuPercent: number; tailFetchesPerSecond: number };
}

async function cpuWindow(server: BenchServer, seconds: number) {
  const a = await server.stats();
  await sleep(seconds * 1000);
  const b = await server.stats();
  const cpuMs = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000;
  return { cpuPercent: (100 * cpuMs) / (b.uptimeMs - a.uptimeMs), tailFetchesPerSecond: (b.tailFetches - a.tailFetches) / seconds };
}

const WARM_UP_RECORDS = 20_000;

export async function idle(fx: Fixtures, quick: boolean): Promise<IdleResult> {
  const count = quick ? 200 : 1000;
  const windowSeconds = quick ? 3 : 10;
  const topic = await fx.createTopic(1, 'idle');
  await fx.fill(topic, 1, 10, (i) => jsonRecord(i));
  const busyTopic = await fx.createTopic(1, 'idle-warmup');
  await fx.fill(busyTopic, 1, WARM_UP_RECORDS, (i) => jsonRecord(i));
  const server = await BenchServer.start();
  const streams: Array<Awaited<ReturnType<typeof openStream>>> = [];
  try {
    // Warm-up, so the baseline is a server that has served traffic: the shared client is connected and
    // V8's young generation has grown as it does under any load (a one-off of up to ~30 MiB that
    // would otherwise be charged to the idle streams; reported separately as newSpace).
    const warm = await openStream(server.url([{ topic: busyTopic, partition: 0, offset: 0 }]));
    await withTimeout(
      new Promise<void>((resolve) => countEvents(warm.res, (total) => total >= WARM_UP_RECORDS && resolve())),
      60_000,
      'warm-up stream',
    );
    warm.req.destroy();
    for (let i = 0; i < 100 && (await server.stats()).openStreams > 0; i++) await sleep(50);
    const reference = await cpuWindow(server, windowSeconds);
    const before = await server.settledStats();
    progress(`idle: opening ${count} streams`);
    for (let i = 0; i < count; i += 50) {
      const opened = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => openStream(server.url([topic]))));
      for (const s of opened) s.res.resume();
      streams.push(...opened);
    }
    await withTimeout(
      (async () => {
        while ((await server.stats()).waitingStreams < count) await sleep(100);
      })(),
      60_000,
      'all idle streams waiting',
    );
    await sleep(1000);
    const after = await server.settledStats();
    const busy = await cpuWindow(server, windowSeconds);
    progress(`idle: heap ${before.heapTotal >> 20}→${after.heapTotal >> 20} MiB total, new space ${before.newSpace >> 20}→${after.newSpace >> 20} MiB, external ${before.external >> 20}→${after.external >> 20} MiB, RSS ${before.rss >> 20}→${after.rss >> 20} MiB`);
    progress(`idle: ${count} streams, ${((after.rss - before.rss - Math.max(0, after.newSpace - before.newSpace)) / count / 1024).toFixed(1)} KiB RSS each (young generation excluded), CPU ${busy.cpuPercent.toFixed(2)} %`);
    return {
      streams: count,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssPerStream: (after.rss - before.rss - Math.max(0, after.newSpace - before.newSpace)) / count,
      rawRssPerStream: (after.rss - before.rss) / count,
      heapPerStream: (after.heapUsed - before.heapUsed) / count,
      newSpaceGrowth: Math.max(0, after.newSpace - before.newSpace),
      windowSeconds,
      ...busy,
      reference,
    };
  } finally {
    for (const s of streams) s.req.destroy();
    await server.stop();
  }
}
