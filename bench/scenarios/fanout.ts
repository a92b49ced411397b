// Fan-out: thousands of SSE streams on one topic. The server under test is the real CLI in its own
// process (`kafka-sse serve`, `--fanout naive` or the default `cohort`), beside a "floor" server
// (bench/fanout/floorServer.ts: one kafkajs consumer, each batch framed once and written to every
// response); the streams are opened by a separate client process (bench/fanout/clients.ts). Per size and
// mode, side by side in the same run: streams opened/refused, time to first body byte, records delivered
// exactly once, produced → parsed latency, server CPU per delivery and server RSS per stream. Then the
// slow-client check: one extra stream stops reading for 30 s while the others' latency is compared with a
// phase where it reads. Loopback only; every child process is killed by PID in a finally block.
//
// Flags (read from the bench's command line):
//   --fanout-sizes=200,1000,5000,10000,200x50   streams[xrate/s] per run (rate default 10/s)
//   --fanout-modes=naive,cohort,floor           which servers, in this order for every size
//   --fanout-seconds=20                         production time per run
//   --fanout-slow=cohort,naive | off            modes of the slow-client check (1,000 streams)
//   --fanout-slow-seconds=35                    production per phase of that check; the stall is 5 s less
//   --fanout-wave=500                           streams opened at once (100 ms pause between waves)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Message, Producer } from 'kafkajs';
import type { Fixtures } from '../support.js';
import { BROKERS, now, progress, sleep, withTimeout } from '../support.js';

export type FanoutMode = 'naive' | 'cohort' | 'floor';

interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface FanoutRun {
  mode: FanoutMode;
  streams: number;
  ratePerSecond: number;
  seconds: number;
  opened: number;
  refused: number;
  refusedReasons: Record<string, number>;
  connect: Latency;
  produced: number;
  /** streams opened × records produced. */
  expected: number;
  exactlyOnce: number;
  missing: number;
  duplicates: number;
  /** Events carrying a record that the clients parsed (duplicates included). */
  deliveries: number;
  latency: Latency;
  /** Server CPU (utime + stime) from the first record produced to the end of the tail wait. */
  cpuSeconds: number;
  windowSeconds: number;
  cpuMicrosPerDelivery: number;
  rssBefore: number;
  rssOpen: number;
  rssPerStream: number;
  /** Seconds after the last record until every stream had every record (or the 15 s limit). */
  tailSeconds: number;
  clientLag: { p50: number; p99: number; max: number };
  /** CPU of the client process over the same window, in cores: near 1, the client is the bottleneck. */
  clientCpuCores: number;
  error?: string;
}

export interface FanoutSlowCheck {
  mode: FanoutMode;
  streams: number;
  stallSeconds: number;
  produceSeconds: number;
  ratePerSecond: number;
  /** The other streams' latency while the extra stream reads normally. */
  baseline: Latency;
  /** The other streams' latency while the extra stream does not read. */
  stalled: Latency;
  ratio: number;
  others: { expected: number; exactlyOnce: number; missing: number; duplicates: number };
  /** completeSecondsAfterResume: when the poll first saw it complete, counted from its resume (an upper bound). */
  stalledClient: { expected: number; exactlyOnce: number; missing: number; duplicates: number; messages: number; completeSecondsAfterResume: number };
  clientLag: { baselineP99: number; stalledP99: number; max: number };
  error?: string;
}

export interface FanoutResult {
  fdLimit: number;
  srcCommit: string;
  runs: FanoutRun[];
  slow: FanoutSlowCheck[];
  markdown: string;
  file: string;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENTS = fileURLToPath(new URL('../fanout/clients.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('../fanout/floorServer.ts', import.meta.url));
// The CLI as an installed package runs it: the esbuild output in dist/, rebuilt from the current source when
// the scenario starts. Run from source through tsx, every named arrow function would also carry the
// `name` property tsx's keepNames adds (a properties store of ~256 B per closure), which users never run.
const CLI = fileURLToPath(new URL('../../dist/server/cli.js', import.meta.url));
const PARTITIONS = 3;
const RECORD_BYTES = 260;
const TAIL_LIMIT_MS = 15_000;

function flag(name: string): string | undefined {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

// ---------------------------------------------------------------------------------------------------
// Processes

/** Every child still running, killed with SIGKILL if the bench exits without stopping it. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
});

function fdLimit(): number {
  return Number(execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim()) || 1024;
}

/**
 * `node --import tsx <args>` (or plain `node <args>` for built JavaScript) through bash, with the soft fd
 * limit raised to the hard one; exec keeps the PID.
 */
function spawnNode(args: string[], stdio: Parameters<typeof spawn>[2]['stdio'], limit: number, viaTsx = true): ChildProcess {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n ${limit} && exec node ${viaTsx ? '--import tsx ' : ''}${quoted}`], { cwd: ROOT, stdio });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  await withTimeout(exited, 5_000, 'stopping a child').catch(async () => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    await withTimeout(exited, 5_000, 'killing a child').catch(() => {});
  });
}

/** Forwards a child's output lines to stderr, prefixed, at most `max` of them (then counts the rest). */
function forward(stream: NodeJS.ReadableStream | null | undefined, prefix: string, max = 20, onLine?: (line: string) => void): void {
  if (!stream) return;
  let shown = 0;
  let dropped = 0;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (s: string) => {
    rest += s;
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      onLine?.(line);
      if (shown < max) {
        shown++;
        process.stderr.write(`    ${prefix}: ${line.slice(0, 400)}\n`);
      } else if (++dropped % 1000 === 1) process.stderr.write(`    ${prefix}: (${dropped} more lines not shown)\n`);
    }
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
}

async function startServer(mode: FanoutMode, topic: string, group: string, limit: number): Promise<Server> {
  const port = await freePort();
  if (mode === 'floor') {
    const child = spawnNode([FLOOR, '--port', String(port), '--topic', topic, '--group', group, '--brokers', BROKERS.join(',')], ['pipe', 'pipe', 'pipe'], limit);
    const ready = new Promise<void>((resolve, reject) => {
      forward(child.stdout, 'floor', 5, (line) => line.includes('"ready":true') && resolve());
      child.once('exit', (code) => reject(new Error(`floor server exited (${code})`)));
    });
    forward(child.stderr, 'floor');
    await withTimeout(ready, 60_000, 'the floor server joining its group');
    return { child, pid: child.pid!, port };
  }
  const args = [CLI, 'serve', '--port', String(port), '--host', '127.0.0.1', '--brokers', BROKERS.join(','), '--log-level', 'warn'];
  if (mode === 'naive') args.push('--fanout', 'naive');
  const child = spawnNode(args, ['ignore', 'pipe', 'pipe'], limit, false);
  forward(child.stdout, `server ${mode}`);
  forward(child.stderr, `server ${mode}`);
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`kafka-sse serve exited (${code})`))));
  exited.catch(() => {});
  await withTimeout(
    Promise.race([
      exited,
      (async () => {
        while (!(await accepts(port))) await sleep(100);
      })(),
    ]),
    30_000,
    'kafka-sse serve listening',
  );
  return { child, pid: child.pid!, port };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process, in seconds. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** VmRSS of a process, in bytes. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

// ---------------------------------------------------------------------------------------------------
// The client process

class Clients {
  private nextId = 1;
  private readonly waiting = new Map<number, { reply: (m: Record<string, unknown>) => void; fail: (err: Error) => void }>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: { type: string; id: number }) => {
      if (m.type === 'reply') {
        this.waiting.get(m.id)?.reply(m);
        this.waiting.delete(m.id);
      }
    });
    // One listener for every request waiting (one per request would pile up on a long run).
    child.once('exit', (code) => {
      for (const { fail } of this.waiting.values()) fail(new Error(`client process exited (${code})`));
      this.waiting.clear();
    });
  }

  static async start(limit: number): Promise<Clients> {
    const child = spawnNode([CLIENTS], ['ignore', 'inherit', 'inherit', 'ipc'], limit);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`client process exited (${code})`)));
      }),
      30_000,
      'starting the client process',
    );
    return new Clients(child);
  }

  request<T = Record<string, unknown>>(m: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => {
      // IPC is JSON: a NaN (a percentile of no samples) arrives as null and is made NaN again.
      const revive = (v: unknown): unknown =>
        v === null ? NaN : typeof v === 'object' ? Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, revive(x)])) : v;
      this.waiting.set(id, {
        reply: (r) => (r.error ? reject(new Error(`client process: ${String(r.error)}`)) : resolve(revive(r) as T)),
        fail: reject,
      });
      if (this.child.exitCode !== null || this.child.signalCode !== null) reject(new Error(`client process exited (${this.child.exitCode})`));
    });
    this.child.send({ ...m, id });
    return withTimeout(reply, timeoutMs, `client request ${String(m.type)}`);
  }
}

interface Status {
  streams: number;
  ready: number;
  failed: number;
  complete: number;
  messages: number;
  stalled: number;
  stalledComplete: number;
}

interface Summary {
  exactlyOnce: number;
  missing: number;
  duplicates: number;
  messages: number;
  complete: number;
}

interface Collected {
  connect: Latency;
  main: Summary & { latency: Latency; window: Latency };
  stalled?: Summary & { latency: Latency };
  eventLoopLag: { p50: number; p99: number; max: number };
  cpuCores: number;
}

// ---------------------------------------------------------------------------------------------------
// Producing

/** A ~260-byte JSON record whose first fields are `seq` and `sentAt`. */
function recordValue(seq: number): string {
  const base = JSON.stringify({ seq, sentAt: Number(now().toFixed(3)), type: 'page_view', user: `user-${seq % 9973}`, url: `/articles/${seq % 1000}`, pad: '' });
  return base.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, RECORD_BYTES - base.length))}"`);
}

/**
 * Produces `rate` records/s for `seconds` s in ticks of 100 ms (rate/10 records each, round-robin over
 * the partitions), starting at sequence `from`. Returns the number produced.
 */
async function produce(producer: Producer, topic: string, rate: number, seconds: number, from: number): Promise<number> {
  const ticks = Math.round(seconds * 10);
  const startedAt = Date.now();
  const inFlight = new Set<Promise<unknown>>();
  let seq = from;
  for (let k = 0; k < ticks; k++) {
    const wait = startedAt + k * 100 - Date.now();
    if (wait > 0) await sleep(wait);
    const count = Math.floor(((k + 1) * rate) / 10) - Math.floor((k * rate) / 10);
    const messages: Message[] = [];
    for (let i = 0; i < count; i++, seq++) messages.push({ partition: seq % PARTITIONS, value: recordValue(seq) });
    if (!messages.length) continue;
    const p = producer.send({ topic, acks: 1, messages }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await withTimeout(Promise.all(inFlight), 30_000, 'the last produce requests');
  return seq - from;
}

/** Polls the clients until every stream has `records` records (and the stalled ones too) or `limitMs` passes. */
async function waitComplete(clients: Clients, records: number, streams: number, stalled: number, limitMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const s = await clients.request<Status>({ type: 'status', records });
    if ((s.complete >= streams && s.stalledComplete >= stalled) || Date.now() - started >= limitMs) return (Date.now() - started) / 1000;
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------------
// One run: a size × mode

interface RunSetup {
  fx: Fixtures;
  mode: FanoutMode;
  streams: number;
  rate: number;
  limit: number;
  wave: number;
  /** One extra stream, counted apart, that the slow-client check stalls. */
  extraStalled: boolean;
}

async function withSetup<T>(setup: RunSetup, records: number, body: (ctx: { server: Server; clients: Clients; topic: string; producer: Producer; opened: number; refused: number; refusedReasons: Record<string, number>; rssBefore: number; rssOpen: number }) => Promise<T>): Promise<T> {
  const { fx, mode, streams, limit } = setup;
  const topic = `bench-fanout-${mode}-${streams}-${Date.now()}`;
  const admin = await fx.admin();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  // One record per partition before any server starts, retried until the broker has applied the new
  // topic's metadata (UNKNOWN_TOPIC_OR_PARTITION right after creation); streams start at the end, after it.
  // A producer of its own per run: kafkajs keeps refreshing the metadata of every topic a producer has
  // written to, and a shared one fails once an earlier run's topic is deleted.
  const producer = fx.kafka.producer({ allowAutoTopicCreation: false });
  let server: Server | undefined;
  let clients: Clients | undefined;
  try {
    await producer.connect();
    for (let attempt = 1; ; attempt++) {
      try {
        await producer.send({ topic, acks: 1, messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value: '{"warmUp":true}' })) });
        break;
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(500);
      }
    }
    server = await startServer(mode, topic, fx.referenceGroup(), limit);
    clients = await Clients.start(limit);
    await sleep(500);
    const rssBefore = rssOf(server.pid);
    const path = `/v1/stream/${encodeURIComponent(topic)}`;
    const common = { port: server.port, path, wave: setup.wave, pauseMs: 100, records, readyOnFirstByte: mode === 'floor' };
    const open = await clients.request<{ opened: number; refused: number; refusedReasons: Record<string, number>; seconds: number }>(
      { type: 'open', count: streams, ...common },
      Math.max(60_000, streams * 20),
    );
    if (setup.extraStalled) await clients.request({ type: 'open', count: 1, stalled: true, ...common });
    progress(`fanout ${mode} ${streams}: ${open.opened} open, ${open.refused} refused in ${open.seconds.toFixed(1)} s${open.refused ? ` (${JSON.stringify(open.refusedReasons)})` : ''}`);
    // Every stream at the end of the topic before the first record: the CLI's streams say so with their
    // `event: position`, the floor's as soon as they are open (its consumer joined before it listened).
    const readySince = Date.now();
    let status = await clients.request<Status>({ type: 'status', records });
    while (status.ready + status.failed < status.streams && Date.now() - readySince < 60_000) {
      await sleep(250);
      status = await clients.request<Status>({ type: 'status', records });
    }
    if (status.ready + status.failed < status.streams) progress(`fanout ${mode} ${streams}: only ${status.ready} of ${status.streams} streams ready after 60 s; producing anyway`);
    await sleep(1000);
    const rssOpen = rssOf(server.pid);
    return await body({ server, clients, topic, producer, opened: open.opened, refused: open.refused, refusedReasons: open.refusedReasons, rssBefore, rssOpen });
  } finally {
    if (clients) await clients.request({ type: 'close' }, 10_000).catch(() => {});
    await kill(server?.child);
    await kill(clients?.child);
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  }
}

async function oneRun(fx: Fixtures, mode: FanoutMode, streams: number, rate: number, seconds: number, limit: number, wave: number): Promise<FanoutRun> {
  const records = rate * seconds;
  return withSetup({ fx, mode, streams, rate, limit, wave, extraStalled: false }, records, async ({ server, clients, topic, producer, opened, refused, refusedReasons, rssBefore, rssOpen }) => {
    await clients.request({ type: 'produce-start' });
    const cpu0 = cpuOf(server.pid);
    const t0 = now();
    const produced = await produce(producer, topic, rate, seconds, 0);
    const tailSeconds = await waitComplete(clients, produced, opened, 0, TAIL_LIMIT_MS);
    const cpu1 = cpuOf(server.pid);
    const t1 = now();
    const c = await clients.request<Collected>({ type: 'collect', records: produced }, 60_000);
    const deliveries = c.main.messages;
    const run: FanoutRun = {
      mode,
      streams,
      ratePerSecond: rate,
      seconds,
      opened,
      refused,
      refusedReasons,
      connect: c.connect,
      produced,
      expected: opened * produced,
      exactlyOnce: c.main.exactlyOnce,
      missing: c.main.missing,
      duplicates: c.main.duplicates,
      deliveries,
      latency: c.main.latency,
      cpuSeconds: cpu1 - cpu0,
      windowSeconds: (t1 - t0) / 1000,
      cpuMicrosPerDelivery: deliveries ? ((cpu1 - cpu0) * 1e6) / deliveries : NaN,
      rssBefore,
      rssOpen,
      rssPerStream: opened ? (rssOpen - rssBefore) / opened : NaN,
      tailSeconds,
      clientLag: c.eventLoopLag,
      clientCpuCores: c.cpuCores,
    };
    progress(
      `fanout ${mode} ${streams}×${rate}/s: ${pctText(run.exactlyOnce, run.expected)} exactly once (missing ${run.missing}, dup ${run.duplicates}), p50 ${ms(run.latency.p50)} p99 ${ms(run.latency.p99)} max ${ms(run.latency.max)}, CPU ${run.cpuMicrosPerDelivery.toFixed(1)} µs/delivery, RSS ${(run.rssPerStream / 1024).toFixed(1)} KiB/stream, client loop lag p99 ${ms(run.clientLag.p99)}, client CPU ${run.clientCpuCores.toFixed(2)} cores`,
    );
    return run;
  });
}

async function slowCheck(fx: Fixtures, mode: FanoutMode, streams: number, rate: number, produceSeconds: number, limit: number, wave: number): Promise<FanoutSlowCheck> {
  const stallSeconds = produceSeconds - 5;
  const perPhase = rate * produceSeconds;
  return withSetup({ fx, mode, streams, rate, limit, wave, extraStalled: true }, perPhase * 2, async ({ server, clients, topic, producer, opened }) => {
    // Phase 1: the extra stream reads like the others.
    await clients.request({ type: 'produce-start' });
    await clients.request({ type: 'mark' });
    const a = await produce(producer, topic, rate, produceSeconds, 0);
    await waitComplete(clients, a, opened, 1, TAIL_LIMIT_MS);
    const c1 = await clients.request<Collected>({ type: 'collect', records: a }, 60_000);
    // Phase 2: the extra stream stops reading for `stallSeconds` while as much is produced again.
    await clients.request({ type: 'produce-start' });
    await clients.request({ type: 'mark' });
    await clients.request({ type: 'stall', ms: stallSeconds * 1000 });
    const stallStarted = Date.now();
    const b = await produce(producer, topic, rate, produceSeconds, a);
    await waitComplete(clients, a + b, opened, 0, TAIL_LIMIT_MS);
    const resumeAt = stallStarted + stallSeconds * 1000;
    if (Date.now() < resumeAt) await sleep(resumeAt - Date.now());
    await waitComplete(clients, a + b, opened, 1, TAIL_LIMIT_MS);
    const caughtUp = (Date.now() - resumeAt) / 1000;
    const c2 = await clients.request<Collected>({ type: 'collect', records: a + b }, 60_000);
    const st = c2.stalled!;
    const check: FanoutSlowCheck = {
      mode,
      streams: opened,
      stallSeconds,
      produceSeconds,
      ratePerSecond: rate,
      baseline: c1.main.window,
      stalled: c2.main.window,
      ratio: c2.main.window.p99 / c1.main.window.p99,
      others: { expected: opened * (a + b), exactlyOnce: c2.main.exactlyOnce, missing: c2.main.missing, duplicates: c2.main.duplicates },
      stalledClient: { expected: a + b, exactlyOnce: st.exactlyOnce, missing: st.missing, duplicates: st.duplicates, messages: st.messages, completeSecondsAfterResume: caughtUp },
      clientLag: { baselineP99: c1.eventLoopLag.p99, stalledP99: c2.eventLoopLag.p99, max: Math.max(c1.eventLoopLag.max, c2.eventLoopLag.max) },
    };
    void server;
    progress(
      `fanout slow client, ${mode} ${opened}: others' p99 ${ms(check.baseline.p99)} reading → ${ms(check.stalled.p99)} with one stalled (×${check.ratio.toFixed(2)}); stalled client got ${st.exactlyOnce}/${a + b} exactly once (missing ${st.missing}, dup ${st.duplicates})`,
    );
    return check;
  });
}

// ---------------------------------------------------------------------------------------------------
// Report

const ms = (v: number) => (Number.isFinite(v) ? `${v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')} ms` : '–');
const pctText = (part: number, whole: number) => (whole ? `${((100 * part) / whole).toFixed(part === whole ? 0 : 3)} %` : '–');
const n = (v: number) => v.toLocaleString('en-US');

function markdown(result: Omit<FanoutResult, 'markdown' | 'file'>, header: string): string {
  const lines = [header, ''];
  lines.push('| streams × rate | mode | opened / refused | connect p50 / p99 | delivered exactly once (missing, duplicates) | latency p50 / p99 / max | server CPU per delivery | server RSS per stream | client loop lag p99, client CPU |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of result.runs) {
    if (r.error) {
      lines.push(`| ${n(r.streams)} × ${r.ratePerSecond}/s | ${r.mode} | error: ${r.error.replace(/\|/g, '/').slice(0, 200)} | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${n(r.streams)} × ${r.ratePerSecond}/s | ${r.mode} | ${n(r.opened)} / ${n(r.refused)} | ${ms(r.connect.p50)} / ${ms(r.connect.p99)} | ${pctText(r.exactlyOnce, r.expected)} of ${n(r.expected)} (${n(r.missing)}, ${n(r.duplicates)}) | ${ms(r.latency.p50)} / ${ms(r.latency.p99)} / ${ms(r.latency.max)} | ${r.cpuMicrosPerDelivery.toFixed(1)} µs | ${(r.rssPerStream / 1024).toFixed(1)} KiB | ${ms(r.clientLag.p99)}, ${r.clientCpuCores.toFixed(2)} cores |`,
    );
  }
  if (result.slow.length) {
    lines.push('', '| slow client | others\' p99, extra stream reading | others\' p99, extra stream stalled | ratio | others delivered exactly once | stalled stream, after it resumed | client loop lag p99 |');
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const s of result.slow) {
      if (s.error) {
        lines.push(`| ${s.mode}, ${n(s.streams)} streams | error: ${s.error.replace(/\|/g, '/').slice(0, 200)} | | | | | |`);
        continue;
      }
      lines.push(
        `| ${s.mode}, ${n(s.streams)} + 1 streams × ${s.ratePerSecond}/s, stalled ${s.stallSeconds} s of ${s.produceSeconds} | ${ms(s.baseline.p99)} (p50 ${ms(s.baseline.p50)}) | ${ms(s.stalled.p99)} (p50 ${ms(s.stalled.p50)}) | ${s.ratio.toFixed(2)} | ${pctText(s.others.exactlyOnce, s.others.expected)} (missing ${n(s.others.missing)}, dup ${n(s.others.duplicates)}) | ${n(s.stalledClient.exactlyOnce)} of ${n(s.stalledClient.expected)} exactly once (missing ${n(s.stalledClient.missing)}, dup ${n(s.stalledClient.duplicates)}), ${s.stalledClient.exactlyOnce === s.stalledClient.expected ? `complete ≤ ${s.stalledClient.completeSecondsAfterResume.toFixed(1)} s after resuming` : `still incomplete ${s.stalledClient.completeSecondsAfterResume.toFixed(1)} s after resuming`} | ${ms(s.clientLag.baselineP99)} / ${ms(s.clientLag.stalledP99)} |`,
      );
    }
  }
  lines.push(
    '',
    `Server and client processes run with \`ulimit -n ${result.fdLimit}\`. Latency: record produced (sentAt) → event parsed by the client process; CPU: server utime+stime from the first record produced to the end of the tail wait, per event delivered; RSS: VmRSS with every stream open minus before the first, per stream. src at ${result.srcCommit}.`,
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------

export async function fanout(fx: Fixtures, quick: boolean): Promise<FanoutResult> {
  const sizes = (flag('fanout-sizes') ?? (quick ? '200,1000' : '200,1000,5000,10000,200x50')).split(',').map((s) => {
    const [streams, rate] = s.split('x');
    return { streams: Number(streams), rate: Number(rate ?? 10) };
  });
  const modes = (flag('fanout-modes') ?? 'naive,cohort,floor').split(',') as FanoutMode[];
  for (const m of modes) if (!['naive', 'cohort', 'floor'].includes(m)) throw new Error(`unknown fan-out mode ${m}`);
  const seconds = Number(flag('fanout-seconds') ?? (quick ? 8 : 20));
  const slowFlag = flag('fanout-slow') ?? (quick ? 'cohort' : 'cohort,naive');
  const slowModes = slowFlag === 'off' ? [] : (slowFlag.split(',') as FanoutMode[]);
  const slowSeconds = Number(flag('fanout-slow-seconds') ?? (quick ? 12 : 35));
  const wave = Number(flag('fanout-wave') ?? 500);
  const limit = fdLimit();
  if (modes.some((m) => m !== 'floor')) {
    progress('building the package (dist/) from the current source, for the CLI under test');
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const srcCommit = (() => {
    try {
      const commit = execFileSync('git', ['log', '-1', '--format=%h %s', '--', 'src'], { cwd: ROOT }).toString().trim().slice(0, 100);
      const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim();
      return `${commit}${dirty ? ` (plus uncommitted changes to src/: ${dirty.split('\n').length} paths)` : ''}`;
    } catch {
      return 'unknown';
    }
  })();
  const largest = Math.max(...sizes.map((s) => s.streams));
  progress(`fanout: server and client processes start through \`bash -c 'ulimit -n ${limit}; exec node …'\` (fd limit ${limit})${limit < largest + 1000 ? `: TOO LOW for ${largest} streams` : ''}`);
  const runs: FanoutRun[] = [];
  const slow: FanoutSlowCheck[] = [];
  const failed = (e: unknown) => (e instanceof Error ? e.message : String(e));
  for (const { streams, rate } of sizes) {
    for (const mode of modes) {
      try {
        runs.push(await withTimeout(oneRun(fx, mode, streams, rate, seconds, limit, wave), 240_000 + streams * 20, `fanout ${mode} ${streams}`));
      } catch (e) {
        progress(`fanout ${mode} ${streams}: ${failed(e)}${process.env.FANOUT_DEBUG ? `\n${(e as Error).stack}` : ''}`);
        runs.push({ mode, streams, ratePerSecond: rate, seconds, error: failed(e) } as FanoutRun);
      }
    }
  }
  for (const mode of slowModes) {
    try {
      slow.push(await withTimeout(slowCheck(fx, mode, 1000, 10, slowSeconds, limit, wave), 300_000, `fanout slow client ${mode}`));
    } catch (e) {
      progress(`fanout slow client ${mode}: ${failed(e)}`);
      slow.push({ mode, streams: 1000, stallSeconds: slowSeconds - 5, produceSeconds: slowSeconds, error: failed(e) } as FanoutSlowCheck);
    }
  }
  const date = new Date();
  const stamp = date.toISOString().slice(0, 16).replace('T', '-').replace(':', '');
  const header = `kafka-sse fan-out bench — ${date.toISOString()}, ${process.argv.slice(2).join(' ') || '(no flags)'}, ${seconds} s per run, 3 partitions, ~${RECORD_BYTES} B records`;
  const partial = { fdLimit: limit, srcCommit, runs, slow };
  const md = markdown(partial, header);
  const file = `bench/results/${stamp}-fanout.md`;
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}${file}`, `${md}\n`);
  process.stderr.write(`\n${md}\n\n  · written to ${file}\n`);
  return { ...partial, markdown: md, file };
}
