// Idle connections: many open streams on a quiet topic. What each costs the server in memory, and
// whether the server burns CPU while nothing happens. Reference: the same server with no stream open.
import type { Fixtures } from '../support.js';
import { BenchServer, jsonRecord, openStream, progress, sleep, withTimeout } from '../support.js';

export interface IdleResult {
  streams: number;
  rssBefore: number;
  rssAfter: number;
  rssPerStream: number;
  heapPerStream: number;
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

export async function idle(fx: Fixtures, quick: boolean): Promise<IdleResult> {
  const count = quick ? 200 : 1000;
  const windowSeconds = quick ? 3 : 10;
  const topic = await fx.createTopic(1, 'idle');
  await fx.fill(topic, 1, 10, (i) => jsonRecord(i));
  const server = await BenchServer.start();
  const streams: Array<Awaited<ReturnType<typeof openStream>>> = [];
  try {
    // Warm-up: one stream opened and closed, so the shared client is connected before the baseline.
    const warm = await openStream(server.url([topic]));
    for (let i = 0; i < 100 && (await server.stats()).waitingStreams < 1; i++) await sleep(50);
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
    progress(`idle: ${count} streams, ${((after.rss - before.rss) / count / 1024).toFixed(1)} KiB RSS each, CPU ${busy.cpuPercent.toFixed(2)} %`);
    return {
      streams: count,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssPerStream: (after.rss - before.rss) / count,
      heapPerStream: (after.heapUsed - before.heapUsed) / count,
      windowSeconds,
      ...busy,
      reference,
    };
  } finally {
    for (const s of streams) s.req.destroy();
    await server.stop();
  }
}
