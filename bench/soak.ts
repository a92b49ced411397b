// Load and soak: `npx tsx bench/soak.ts --clients 500 --seconds 60` (see docs/soak.md).
//
// The `kafka-sse serve` CLI runs in a child process on loopback; a producer writes steadily to a
// 3-partition topic; N raw SSE clients (node:http and a small parser) each cut their connection at random
// and resume with their Last-Event-ID. At the end every client must have received every record from its
// start exactly once, the server must be back to its idle handle count with no stream open, its RSS flat
// after warm-up, and its log free of errors. A progress line every few seconds; stops by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'src', 'server', 'cli.ts');

export interface SoakOptions {
  clients: number;
  seconds: number;
  /** Records produced per second, spread over the partitions. */
  rate: number;
  partitions: number;
  /** Mean time a client stays connected before it cuts the connection (exponentially distributed). */
  meanHoldSeconds: number;
  /** A client waits up to this long before it reconnects. */
  maxReconnectDelayMs: number;
  /** The first part of the run that RSS flatness ignores. */
  warmupSeconds: number;
  brokers: string[];
  /** Progress line interval; 0 for none. */
  progressEveryMs: number;
  log: (line: string) => void;
}

export interface ResourceCounts {
  /** `process.getActiveResourcesInfo()` by type, as the server's /metrics reports it. */
  byType: Record<string, number>;
  total: number;
}

export interface SoakResult {
  options: Omit<SoakOptions, 'log'>;
  /** Time with clients coming and going and the producer writing. */
  loadMs: number;
  /** Topic, server, warm-up and clients' first connections before the load. */
  setupMs: number;
  /** Time for every client to reach the final offsets once the producer stopped. */
  catchUpMs: number;
  produced: number;
  /** Events the clients received in total. */
  delivered: number;
  /** Connections the clients made (first ones and resumes). */
  connections: number;
  resumes: number;
  /** Requests answered with something other than a 200 stream, or failed to connect. */
  failedConnections: number;
  /** Clients that received every record from their start exactly once, in order. */
  exactClients: number;
  duplicates: number;
  gaps: number;
  /** Clients that had not caught up with the final offsets when the run ended. */
  incompleteClients: number;
  errorEvents: number;
  /** Request to 200 response headers, over every connection (ms). */
  setupLatency: { p50: number; p95: number; p99: number; max: number };
  server: {
    /** Average CPU use of the server process during the load (1 = one core). */
    cpuCores: number;
    openStreamsAtEnd: number;
    /** Active resources of the idle, warmed-up server before the clients, and after they all left. */
    resourcesBefore: ResourceCounts;
    resourcesAfter: ResourceCounts;
    /** Resource types whose count grew (type: [before, after]). */
    leaked: Record<string, [number, number]>;
    /** RSS after warm-up (bytes): first and last sample, and the maximum. */
    rss: { first: number; last: number; max: number; samples: number };
    heapUsed: { first: number; last: number; max: number };
    streamsOpenedLogged: number;
    streamsClosedLogged: number;
    closeReasons: Record<string, number>;
    /** Log lines above warn (error, fatal). */
    errorLines: string[];
    warnLines: number;
    exitCode: number | null;
  };
  machine: { cpus: string; cores: number; memoryGiB: number; node: string; platform: string };
}

const DEFAULTS: SoakOptions = {
  clients: 500,
  seconds: 60,
  rate: 40,
  partitions: 3,
  meanHoldSeconds: 6,
  maxReconnectDelayMs: 500,
  warmupSeconds: 15,
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',').map((b) => b.trim()).filter(Boolean),
  progressEveryMs: 5000,
  log: (line) => process.stderr.write(`${line}\n`),
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`soak: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------------
// The server: the CLI in a child process, its pino lines going to a file read at the end

interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** `GET /metrics` on the server's metrics listener. */
  metricsUrl: string;
  logFile: string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
  cleanup(): void;
}

async function startServer(brokers: string[], topic: string): Promise<ServerProcess> {
  const dir = mkdtempSync(join(os.tmpdir(), 'kafka-sse-soak-'));
  const logFile = join(dir, 'server.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--port', '0', '--host', '127.0.0.1', '--metrics-port', '0', '--brokers', brokers.join(','), '--allowed-topics', topic, '--heartbeat', '5', '--log-level', 'info'],
    { cwd: ROOT, stdio: ['ignore', fd, 'pipe'], env: { ...process.env } },
  );
  closeSync(fd);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let port: number | undefined;
  let metricsUrl: string | undefined;
  let dead = false;
  void exited.then(() => (dead = true));
  await waitFor(
    () => {
      if (dead) throw new Error(`soak: the server exited before listening:\n${stderr}`);
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (line.includes('"msg":"listening"')) ({ port, metricsUrl } = JSON.parse(line) as { port: number; metricsUrl: string });
      }
      return port !== undefined;
    },
    30_000,
    'the server listening',
  );
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: metricsUrl!,
    logFile,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    cleanup() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every sample of the server's /metrics, by series. */
async function scrape(metricsUrl: string): Promise<Map<string, number>> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

function resources(metrics: Map<string, number>): ResourceCounts {
  const byType: Record<string, number> = {};
  for (const [series, value] of metrics) {
    const m = /^kafka_sse_nodejs_active_resources\{type="([^"]+)"\}$/.exec(series);
    if (m) byType[m[1]!] = value;
  }
  return { byType, total: metrics.get('kafka_sse_nodejs_active_resources_total') ?? 0 };
}

// ---------------------------------------------------------------------------------------------------
// A raw SSE client: node:http plus the few lines of the WHATWG parser this needs

interface ClientState {
  id: number;
  /** The last event id received: what a reconnection sends as Last-Event-ID. */
  lastId: string | undefined;
  /** First offset per partition, from the first id the client saw. */
  start: Map<number, number> | undefined;
  /** Next offset expected per partition. */
  expected: Map<number, number>;
  received: number;
  duplicates: number;
  gaps: number;
  errorEvents: number;
  connections: number;
  failed: number;
  request: http.ClientRequest | undefined;
  /** Milliseconds from each request to its 200 response headers (the server's setup time, mostly). */
  setupMs: number[];
  connected: boolean;
  stopped: boolean;
  timer: NodeJS.Timeout | undefined;
}

class SoakClient {
  readonly state: ClientState;
  private buffer = '';
  private onProgress: () => void = () => {};

  constructor(
    id: number,
    private readonly url: string,
    private readonly topic: string,
    private readonly agent: http.Agent,
  ) {
    this.state = { id, lastId: undefined, start: undefined, expected: new Map(), received: 0, duplicates: 0, gaps: 0, errorEvents: 0, connections: 0, failed: 0, request: undefined, setupMs: [], connected: false, stopped: false, timer: undefined };
  }

  /** Resolves when `done()` holds, checked after every event. */
  whenDone(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      this.onProgress = () => {
        if (done()) resolve();
      };
      this.onProgress();
    });
  }

  connect(): void {
    const s = this.state;
    clearTimeout(s.timer);
    if (s.stopped || s.request) return;
    this.buffer = '';
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (s.lastId !== undefined) headers['last-event-id'] = s.lastId;
    const sentAt = Date.now();
    const req = http.get(`${this.url}/v1/stream/${this.topic}`, { agent: this.agent, headers });
    s.request = req;
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        s.failed++;
        res.resume();
        res.on('end', () => {
          if (s.request === req) this.retry();
        });
        return;
      }
      s.connections++;
      s.setupMs.push(Date.now() - sentAt);
      s.connected = true;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.feed(chunk));
      res.on('error', () => {});
      res.on('close', () => {
        s.connected = false;
        if (s.request === req) this.retry();
      });
    });
    req.on('error', () => {
      if (!s.connected && s.request === req) {
        s.failed++;
        this.retry();
      }
    });
  }

  /** Cuts the connection now (as a flaky network would) and comes back shortly with the last id. */
  cut(maxDelayMs: number): void {
    const s = this.state;
    const req = s.request;
    s.request = undefined;
    s.connected = false;
    req?.destroy();
    if (!s.stopped) s.timer = setTimeout(() => this.connect(), Math.random() * maxDelayMs);
  }

  stop(): void {
    const s = this.state;
    s.stopped = true;
    clearTimeout(s.timer);
    s.request?.destroy();
    s.request = undefined;
  }

  private retry(): void {
    this.state.request = undefined;
    if (!this.state.stopped) this.state.timer = setTimeout(() => this.connect(), 200);
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.handleBlock(block);
    }
  }

  private handleBlock(block: string): void {
    const s = this.state;
    let event = 'message';
    let id: string | undefined;
    let data: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    }
    if (id !== undefined) {
      if (s.start === undefined) {
        // The first id is the stream's start: the next offset of every partition.
        const positions = JSON.parse(id) as Array<{ partition: number; offset: number }>;
        s.start = new Map(positions.map((p) => [p.partition, p.offset]));
        s.expected = new Map(s.start);
      }
    }
    if (event === 'error') s.errorEvents++;
    if (event === 'message' && data !== undefined) {
      const { _kafka } = JSON.parse(data) as { _kafka: { partition: number; offset: number } };
      const expected = s.expected.get(_kafka.partition)!;
      if (_kafka.offset === expected) s.expected.set(_kafka.partition, expected + 1);
      else if (_kafka.offset < expected) s.duplicates++;
      else {
        s.gaps += _kafka.offset - expected;
        s.expected.set(_kafka.partition, _kafka.offset + 1);
      }
      s.received++;
    }
    // The id is taken only once the whole block has been handled, as a browser does.
    if (id !== undefined) s.lastId = id;
    this.onProgress();
  }
}

// ---------------------------------------------------------------------------------------------------
// The run

export async function runSoak(overrides: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const o: SoakOptions = { ...DEFAULTS, ...overrides };
  const log = o.log;
  const kafka = new Kafka({ clientId: 'kafka-sse-soak', brokers: o.brokers, logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  const topic = `soak-${randomUUID().slice(0, 8)}-${Date.now().toString(36)}`;
  let server: ServerProcess | undefined;
  const clients: SoakClient[] = [];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const timers = new Set<NodeJS.Timeout>();
  let topicCreated = false;
  const startedAt = Date.now();
  try {
    await admin.connect();
    await producer.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: o.partitions }], waitForLeaders: true });
    topicCreated = true;
    server = await startServer(o.brokers, topic);
    const srv = server;
    log(`soak: server pid ${srv.child.pid} at ${srv.url}, topic ${topic} (${o.partitions} partitions), ${o.clients} clients, ${o.seconds} s, ${o.rate} records/s`);

    // Warm-up stream: the server's Kafka connections are open before the baseline is taken (and before
    // hundreds of streams fetch at once: see test/soak/leaks.test.ts).
    const warm = new SoakClient(-1, srv.url, topic, agent);
    warm.connect();
    await waitFor(async () => ((await scrape(srv.metricsUrl)).get('kafka_sse_fetch_duration_seconds_count') ?? 0) > 0, 20_000, 'a first fetch');
    warm.stop();
    await waitFor(async () => (await scrape(srv.metricsUrl)).get('kafka_sse_active_streams') === 0, 10_000, 'the warm-up stream closing');
    await sleep(500);
    const idle = await scrape(srv.metricsUrl);
    const resourcesBefore = resources(idle);

    // Clients connect over the first two seconds, then come and go at random.
    for (let i = 0; i < o.clients; i++) clients.push(new SoakClient(i, srv.url, topic, agent));
    let chaos = true;
    const scheduleCut = (client: SoakClient) => {
      const hold = -Math.log(1 - Math.random()) * o.meanHoldSeconds * 1000;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!chaos) return;
        client.cut(o.maxReconnectDelayMs);
        scheduleCut(client);
      }, hold);
      timers.add(timer);
    };
    clients.forEach((client, i) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        client.connect();
        scheduleCut(client);
      }, (i / o.clients) * 2000);
      timers.add(timer);
    });
    // Every client has its start before records flow, so "every record from its start" is all of them.
    await waitFor(() => clients.every((c) => c.state.start !== undefined), 30_000, 'every client starting', 100);

    const loadStartedAt = Date.now();
    const cpuAtStart = (await scrape(srv.metricsUrl)).get('kafka_sse_process_cpu_seconds_total') ?? 0;
    const setupMs = loadStartedAt - startedAt;
    // The producer: a batch every 250 ms, spread round-robin over the partitions.
    let produced = 0;
    let producing = true;
    const perBatch = Math.max(1, Math.round(o.rate / 4));
    const producerLoop = (async () => {
      const t0 = Date.now();
      for (let batch = 0; producing; batch++) {
        const messages = Array.from({ length: perBatch }, (_, i) => {
          const n = produced + i;
          return { partition: n % o.partitions, value: JSON.stringify({ n, at: Date.now(), pad: 'x'.repeat(64) }) };
        });
        await producer.send({ topic, acks: -1, messages });
        produced += messages.length;
        const next = t0 + (batch + 1) * 250;
        await sleep(Math.max(0, next - Date.now()));
      }
    })();

    // Sampling and progress.
    const rss: Array<{ t: number; rss: number; heap: number }> = [];
    let lastProgress = Date.now();
    let lastDelivered = 0;
    const runEnd = loadStartedAt + o.seconds * 1000;
    const sampling = (async () => {
      while (Date.now() < runEnd) {
        await sleep(Math.min(1000, Math.max(0, runEnd - Date.now())));
        const m = await scrape(srv.metricsUrl).catch(() => undefined);
        if (!m) continue;
        rss.push({ t: Date.now() - loadStartedAt, rss: m.get('kafka_sse_process_resident_memory_bytes') ?? 0, heap: m.get('kafka_sse_nodejs_heap_size_used_bytes') ?? 0 });
        if (o.progressEveryMs > 0 && Date.now() - lastProgress >= o.progressEveryMs) {
          const delivered = clients.reduce((n, c) => n + c.state.received, 0);
          const rate = ((delivered - lastDelivered) * 1000) / (Date.now() - lastProgress);
          lastDelivered = delivered;
          lastProgress = Date.now();
          const connected = clients.filter((c) => c.state.connected).length;
          const resumes = clients.reduce((n, c) => n + Math.max(0, c.state.connections - 1), 0);
          log(
            `soak: ${String(Math.round((Date.now() - loadStartedAt) / 1000)).padStart(4)} s | clients connected ${connected}/${o.clients} | server streams ${m.get('kafka_sse_active_streams')} | ` +
              `produced ${produced} | delivered ${delivered} (${Math.round(rate)}/s) | resumes ${resumes} | server RSS ${(rss.at(-1)!.rss / 2 ** 20).toFixed(0)} MiB`,
          );
        }
      }
    })();
    await sampling;
    producing = false;
    chaos = false;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    await producerLoop;
    const loadEnd = Date.now();
    const cpuAtEnd = (await scrape(srv.metricsUrl)).get('kafka_sse_process_cpu_seconds_total') ?? 0;

    // Every client that is between connections comes back; all must catch up with the final offsets.
    const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    const caughtUp = (c: SoakClient) => [...high].every(([p, h]) => (c.state.expected.get(p) ?? 0) >= h);
    log(`soak: producer stopped at ${produced} records; waiting for every client to catch up`);
    let catchUpTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(clients.map((c) => c.whenDone(() => caughtUp(c)))),
      new Promise<void>((resolve) => (catchUpTimer = setTimeout(resolve, 30_000))),
    ]);
    clearTimeout(catchUpTimer);
    const catchUpMs = Date.now() - loadEnd;
    for (const c of clients) c.stop();

    // The server must come back to idle: no stream open, no more resources than before the clients.
    let openStreamsAtEnd = -1;
    await waitFor(
      async () => {
        openStreamsAtEnd = (await scrape(srv.metricsUrl)).get('kafka_sse_active_streams') ?? -1;
        return openStreamsAtEnd === 0;
      },
      15_000,
      'every stream closing',
    ).catch(() => {});
    let resourcesAfter = resources(await scrape(srv.metricsUrl));
    const grown = (after: ResourceCounts) =>
      Object.fromEntries(
        Object.entries(after.byType)
          .filter(([type, n]) => n > (resourcesBefore.byType[type] ?? 0))
          .map(([type, n]) => [type, [resourcesBefore.byType[type] ?? 0, n] as [number, number]]),
      );
    // Sockets and timers are released as their close events run; give them a few seconds to settle.
    await waitFor(
      async () => {
        resourcesAfter = resources(await scrape(srv.metricsUrl));
        return Object.keys(grown(resourcesAfter)).length === 0;
      },
      5000,
      'resources settling',
      250,
    ).catch(() => {});
    const leaked = grown(resourcesAfter);
    const afterWarmup = rss.filter((s) => s.t >= o.warmupSeconds * 1000);
    const window = afterWarmup.length > 0 ? afterWarmup : rss;
    const exitCode = await srv.stop();

    // The server's log: one open and one close line per stream, nothing above warn.
    const lines = readFileSync(srv.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string });
    const closeReasons: Record<string, number> = {};
    for (const l of lines) if (l.msg === 'stream closed') closeReasons[l.reason ?? '?'] = (closeReasons[l.reason ?? '?'] ?? 0) + 1;

    const perClient = clients.map((c) => {
      const expectedCount = [...high].reduce((n, [p, h]) => n + (h - (c.state.start?.get(p) ?? h)), 0);
      return { exact: c.state.duplicates === 0 && c.state.gaps === 0 && caughtUp(c) && c.state.received === expectedCount, complete: caughtUp(c) };
    });
    const cpus = os.cpus();
    return {
      options: { clients: o.clients, seconds: o.seconds, rate: o.rate, partitions: o.partitions, meanHoldSeconds: o.meanHoldSeconds, maxReconnectDelayMs: o.maxReconnectDelayMs, warmupSeconds: o.warmupSeconds, brokers: o.brokers, progressEveryMs: o.progressEveryMs },
      loadMs: loadEnd - loadStartedAt,
      setupMs,
      catchUpMs,
      produced,
      delivered: clients.reduce((n, c) => n + c.state.received, 0),
      connections: clients.reduce((n, c) => n + c.state.connections, 0),
      resumes: clients.reduce((n, c) => n + Math.max(0, c.state.connections - 1), 0),
      failedConnections: clients.reduce((n, c) => n + c.state.failed, 0),
      exactClients: perClient.filter((c) => c.exact).length,
      duplicates: clients.reduce((n, c) => n + c.state.duplicates, 0),
      gaps: clients.reduce((n, c) => n + c.state.gaps, 0),
      incompleteClients: perClient.filter((c) => !c.complete).length,
      errorEvents: clients.reduce((n, c) => n + c.state.errorEvents, 0),
      setupLatency: latencySummary(clients.flatMap((c) => c.state.setupMs)),
      server: {
        cpuCores: (cpuAtEnd - cpuAtStart) / ((loadEnd - loadStartedAt) / 1000),
        openStreamsAtEnd,
        resourcesBefore,
        resourcesAfter,
        leaked,
        rss: { first: window[0]?.rss ?? 0, last: window.at(-1)?.rss ?? 0, max: Math.max(0, ...window.map((s) => s.rss)), samples: window.length },
        heapUsed: { first: window[0]?.heap ?? 0, last: window.at(-1)?.heap ?? 0, max: Math.max(0, ...window.map((s) => s.heap)) },
        streamsOpenedLogged: lines.filter((l) => l.msg === 'stream opened').length,
        streamsClosedLogged: lines.filter((l) => l.msg === 'stream closed').length,
        closeReasons,
        errorLines: lines.filter((l) => l.level > 40).map((l) => JSON.stringify(l).slice(0, 500)),
        warnLines: lines.filter((l) => l.level === 40).length,
        exitCode,
      },
      machine: { cpus: cpus[0]?.model ?? 'unknown', cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    for (const c of clients) c.stop();
    agent.destroy();
    if (server) {
      await server.stop().catch(() => {});
      server.cleanup();
    }
    if (topicCreated) await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

function latencySummary(values: number[]): SoakResult['setupLatency'] {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

/** The checks both the benchmark and the test apply; an empty list means the run passed. */
export function soakFailures(r: SoakResult, rssGrowthLimit = 1.5): string[] {
  const failures: string[] = [];
  const { clients } = r.options;
  if (r.exactClients !== clients) failures.push(`${clients - r.exactClients} of ${clients} clients did not receive every record exactly once`);
  if (r.duplicates > 0) failures.push(`${r.duplicates} duplicate events`);
  if (r.gaps > 0) failures.push(`${r.gaps} missing events`);
  if (r.incompleteClients > 0) failures.push(`${r.incompleteClients} clients did not catch up`);
  if (r.errorEvents > 0) failures.push(`${r.errorEvents} SSE error events`);
  if (r.failedConnections > 0) failures.push(`${r.failedConnections} connections failed`);
  if (r.resumes < clients) failures.push(`only ${r.resumes} resumes for ${clients} clients: the run did not exercise resuming`);
  if (r.server.openStreamsAtEnd !== 0) failures.push(`${r.server.openStreamsAtEnd} streams still open at the end`);
  if (Object.keys(r.server.leaked).length > 0) failures.push(`server resources grew: ${JSON.stringify(r.server.leaked)}`);
  // A client that cuts while its stream is being set up never sees the response, but the server may
  // have opened (and at once closed) the stream: more lines than connections the clients counted.
  if (r.server.streamsOpenedLogged < r.connections + 1) failures.push(`${r.server.streamsOpenedLogged} "stream opened" lines for ${r.connections + 1} streams (incl. warm-up)`);
  if (r.server.streamsClosedLogged !== r.server.streamsOpenedLogged) failures.push(`${r.server.streamsClosedLogged} "stream closed" lines for ${r.server.streamsOpenedLogged} opened`);
  if (r.server.errorLines.length > 0) failures.push(`server logged ${r.server.errorLines.length} lines above warn, e.g. ${r.server.errorLines[0]}`);
  if (r.server.exitCode !== 0) failures.push(`server exited with ${r.server.exitCode} on SIGTERM`);
  if (r.server.rss.samples > 0 && r.server.rss.last > r.server.rss.first * rssGrowthLimit) {
    failures.push(`server RSS grew from ${(r.server.rss.first / 2 ** 20).toFixed(0)} to ${(r.server.rss.last / 2 ** 20).toFixed(0)} MiB after warm-up`);
  }
  return failures;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** The result as the Markdown table docs/soak.md shows. */
export function soakTable(r: SoakResult): string {
  const s = r.server;
  const rows: Array<[string, string]> = [
    ['Date', new Date().toISOString().slice(0, 10)],
    ['Machine', `${r.machine.cpus}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, ${r.machine.platform}; Node ${r.machine.node}; broker on the same machine`],
    ['Clients / load', `${r.options.clients} concurrent / ${(r.loadMs / 1000).toFixed(0)} s of load (then ${(r.catchUpMs / 1000).toFixed(1)} s for every client to catch up); each cuts its connection every ${r.options.meanHoldSeconds} s on average and resumes within ${r.options.maxReconnectDelayMs} ms`],
    ['Records produced', `${r.produced.toLocaleString('en-US')} (${r.options.rate}/s over ${r.options.partitions} partitions)`],
    ['Events delivered', r.delivered.toLocaleString('en-US')],
    ['Connections (resumes with Last-Event-ID)', `${r.connections.toLocaleString('en-US')} (${r.resumes.toLocaleString('en-US')})`],
    ['Clients with every record exactly once', `${r.exactClients} / ${r.options.clients} (duplicates ${r.duplicates}, gaps ${r.gaps}, error events ${r.errorEvents}, failed connections ${r.failedConnections})`],
    ['Stream setup (request → 200 headers): p50 / p95 / p99 / max', `${r.setupLatency.p50} / ${r.setupLatency.p95} / ${r.setupLatency.p99} / ${r.setupLatency.max} ms`],
    ['Server CPU during the load', `${(s.cpuCores * 100).toFixed(0)} % of one core`],
    ['Open streams after the clients left', String(s.openStreamsAtEnd)],
    ['Server resources before → after (getActiveResourcesInfo)', `${s.resourcesBefore.total} → ${s.resourcesAfter.total} (${Object.entries(s.resourcesAfter.byType).map(([t, n]) => `${t} ${s.resourcesBefore.byType[t] ?? 0}→${n}`).join(', ')})`],
    ['Server RSS after warm-up: first / last / max', `${mib(s.rss.first)} / ${mib(s.rss.last)} / ${mib(s.rss.max)} (${s.rss.samples} samples)`],
    ['Server heap used after warm-up: first / last / max', `${mib(s.heapUsed.first)} / ${mib(s.heapUsed.last)} / ${mib(s.heapUsed.max)}`],
    ['Log lines: stream opened / closed / warn / above warn', `${s.streamsOpenedLogged} / ${s.streamsClosedLogged} / ${s.warnLines} / ${s.errorLines.length}`],
    ['Close reasons', Object.entries(s.closeReasons).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['Server exit on SIGTERM', String(s.exitCode)],
  ];
  return ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function parseArgs(argv: string[]): Partial<SoakOptions> & { json?: boolean } {
  const out: Partial<SoakOptions> & { json?: boolean } = {};
  const numeric: Record<string, keyof SoakOptions> = {
    '--clients': 'clients',
    '--seconds': 'seconds',
    '--rate': 'rate',
    '--partitions': 'partitions',
    '--mean-hold': 'meanHoldSeconds',
    '--warmup': 'warmupSeconds',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') out.json = true;
    else if (arg in numeric) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${arg} needs a positive number`);
      (out as Record<string, number>)[numeric[arg]!] = value;
    } else throw new Error(`unknown argument ${arg}; known: ${Object.keys(numeric).join(' ')} --json`);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { json, ...options } = parseArgs(process.argv.slice(2));
  const seconds = options.seconds ?? DEFAULTS.seconds;
  // Bounded: the whole run, catch-up and checks, or the process exits with an error.
  const deadline = setTimeout(() => {
    process.stderr.write('soak: did not finish in time\n');
    process.exit(2);
  }, (seconds + 120) * 1000);
  deadline.unref();
  const result = await runSoak({ warmupSeconds: Math.min(DEFAULTS.warmupSeconds, seconds / 4), ...options });
  const failures = soakFailures(result);
  if (json) process.stdout.write(`${JSON.stringify({ ...result, failures }, null, 2)}\n`);
  else process.stdout.write(`\n${soakTable(result)}\n\n${failures.length === 0 ? 'PASS' : `FAIL\n- ${failures.join('\n- ')}`}\n`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}
