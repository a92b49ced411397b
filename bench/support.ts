// Shared pieces of the benchmark: the server process, raw SSE clients, Kafka fixtures and statistics.
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin, type Message, type Producer } from 'kafkajs';

export const BROKERS = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');

/** Progress goes to stderr so `--json` output on stdout stays machine-readable. */
export function progress(line: string): void {
  process.stderr.write(`  · ${line}\n`);
}

export const now = (): number => performance.timeOrigin + performance.now();

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bench: ${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Kafka fixtures

export class Fixtures {
  readonly kafka = new Kafka({ clientId: 'kafka-sse-bench', brokers: BROKERS, logLevel: logLevel.NOTHING });
  private adminP?: Promise<Admin>;
  private producerP?: Promise<Producer>;
  private readonly topics: string[] = [];
  readonly referenceGroups: string[] = [];

  admin(): Promise<Admin> {
    return (this.adminP ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })());
  }

  producer(): Promise<Producer> {
    return (this.producerP ??= (async () => {
      const producer = this.kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      return producer;
    })());
  }

  async createTopic(partitions: number, label: string): Promise<string> {
    const topic = `bench-${label}-${randomUUID().slice(0, 8)}`;
    const admin = await this.admin();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
    this.topics.push(topic);
    return topic;
  }

  /** A group id for a reference kafkajs consumer; deleted at the end, and never counted as ours. */
  referenceGroup(): string {
    const group = `${REFERENCE_GROUP_PREFIX}${randomUUID().slice(0, 8)}`;
    this.referenceGroups.push(group);
    return group;
  }

  /** Produces `count` records of `value(i)` round-robin over `partitions`, in large batches. */
  async fill(topic: string, partitions: number, count: number, value: (i: number) => string, label = topic): Promise<void> {
    const producer = await this.producer();
    const batch = 2000;
    let lastReport = Date.now();
    for (let i = 0; i < count; i += batch) {
      const messages: Message[] = [];
      for (let j = i; j < Math.min(count, i + batch); j++) messages.push({ partition: j % partitions, value: value(j) });
      await producer.send({ topic, acks: 1, messages });
      if (Date.now() - lastReport > 5000) {
        progress(`producing ${label}: ${Math.min(count, i + batch)}/${count}`);
        lastReport = Date.now();
      }
    }
  }

  async groups(): Promise<string[]> {
    const admin = await this.admin();
    const { groups } = await admin.listGroups();
    return groups.map((g) => g.groupId);
  }

  async close(): Promise<void> {
    const admin = this.adminP ? await this.adminP.catch(() => undefined) : undefined;
    if (admin) {
      if (this.topics.length) await admin.deleteTopics({ topics: this.topics }).catch(() => {});
      if (this.referenceGroups.length) await admin.deleteGroups(this.referenceGroups).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
    const producer = this.producerP ? await this.producerP.catch(() => undefined) : undefined;
    await producer?.disconnect().catch(() => {});
  }
}

export const REFERENCE_GROUP_PREFIX = 'kafka-sse-bench-reference-';

/** A JSON record of about `size` bytes. */
export function jsonRecord(i: number, size = 300, extra: Record<string, unknown> = {}): string {
  const base = JSON.stringify({ id: i, type: 'page_view', user: `user-${i % 9973}`, url: `/articles/${i % 1000}`, ...extra, pad: '' });
  return base.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, size - base.length))}"`);
}

// ---------------------------------------------------------------------------------------------------
// The server under test

export interface ServerStats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** V8's young generation: it grows under allocation and stays grown, whatever allocated. */
  newSpace: number;
  external: number;
  cpu: { user: number; system: number };
  uptimeMs: number;
  openStreams: number;
  waitingStreams: number;
  directFetches: number;
  tailFetches: number;
  streamFetches: number;
  streamRecords: number;
  streamsOpened: number;
  writableBytes: number;
  maxWritableBytes: number;
}

export class BenchServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<BenchServer> {
    const script = fileURLToPath(new URL('./server.ts', import.meta.url));
    const child = fork(script, [], {
      // BENCH_SERVER_PROF=<dir> writes a CPU profile of the server (for finding where time goes).
      execArgv: ['--import', 'tsx', '--expose-gc', ...(process.env.BENCH_SERVER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SERVER_PROF}`] : [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        child.once('message', (m) => resolve((m as { port: number }).port));
        child.once('exit', (code) => reject(new Error(`bench server exited (${code})`)));
      }),
      30_000,
      'starting the server',
    );
    return new BenchServer(child, port);
  }

  url(assignments: unknown, extra = ''): string {
    return `http://127.0.0.1:${this.port}/stream?assignments=${encodeURIComponent(JSON.stringify(assignments))}${extra}`;
  }

  async stats(gc = false): Promise<ServerStats> {
    const res = await fetch(`http://127.0.0.1:${this.port}/stats${gc ? '?gc=1' : ''}`);
    return (await res.json()) as ServerStats;
  }

  /** RSS after two forced collections a moment apart, so garbage does not count. */
  async settledStats(): Promise<ServerStats> {
    await this.stats(true);
    await sleep(300);
    return this.stats(true);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await withTimeout(exited, 10_000, 'stopping the server').catch(() => this.child.kill('SIGKILL'));
  }
}

// ---------------------------------------------------------------------------------------------------
// Clients

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/** Opens a stream and resolves with the response once headers arrive; the caller reads the body. */
export function openStream(url: string): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; sentAt: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { accept: 'text/event-stream' } });
    const sentAt = now();
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`stream answered ${res.statusCode}`));
        res.resume();
        return;
      }
      resolve({ req, res, sentAt });
    });
    req.once('error', reject);
  });
}

const DATA = Buffer.from('\ndata: ');

/**
 * Counts `data:` lines in a byte stream (each event of a single-line JSON record has one) without
 * decoding it, so the client costs as little as possible. `onData(total, at)` is called per chunk.
 */
export function countEvents(res: http.IncomingMessage, onData: (total: number, at: number) => void): void {
  let carry: Buffer = Buffer.alloc(0);
  let total = 0;
  res.on('data', (chunk: Buffer) => {
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let from = 0;
    let found = 0;
    for (;;) {
      const i = buf.indexOf(DATA, from);
      if (i < 0) break;
      found++;
      from = i + DATA.length;
    }
    carry = buf.subarray(Math.max(from, buf.length - (DATA.length - 1)));
    if (found > 0) {
      total += found;
      onData(total, now());
    }
  });
}

/** Parses SSE events (WHATWG rules for `data:` and the blank line) and calls `onEvent` with each data payload. */
export function parseEvents(res: http.IncomingMessage, onEvent: (data: string) => void): void {
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data: string[] = [];
      for (const line of block.split('\n')) if (line.startsWith('data: ')) data.push(line.slice(6));
      if (data.length) onEvent(data.join('\n'));
    }
  });
}

/** Produces at `ratePerSecond`, each record carrying its production time, until `durationMs` has passed. */
export async function produceAtRate(
  producer: Producer,
  topic: string,
  ratePerSecond: number,
  durationMs: number,
  size: number,
): Promise<number> {
  const startedAt = Date.now();
  let sent = 0;
  const inFlight = new Set<Promise<unknown>>();
  while (Date.now() - startedAt < durationMs) {
    const due = Math.floor(((Date.now() - startedAt) / 1000) * ratePerSecond) - sent;
    if (due > 0) {
      const messages: Message[] = [];
      for (let i = 0; i < due; i++) messages.push({ partition: 0, value: jsonRecord(sent + i, size, { sentAt: now() }) });
      sent += due;
      const p = producer.send({ topic, acks: 1, messages }).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await sleep(5);
  }
  await Promise.all(inFlight);
  return sent;
}
