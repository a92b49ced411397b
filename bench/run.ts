// `npm run bench [-- --quick] [-- --json] [-- --only=firstEvent,drain,latency,slowClient,idle]`
// Measures every figure of the performance table against the local broker, each beside its reference
// from the same run, and prints the table (or JSON with --json). Loopback only; stops by itself.
import os from 'node:os';
import { createRequire } from 'node:module';
import { kafkaVersion, runningVersion } from '../scripts/lib/kafkaHarness.js';
import { compression, type CompressionResult } from './scenarios/compression.js';
import { drain, type DrainResult } from './scenarios/drain.js';
import { timeToFirstEvent, type FirstEventResult } from './scenarios/firstEvent.js';
import { idle, type IdleResult } from './scenarios/idle.js';
import { latency, type LatencyResult } from './scenarios/latency.js';
import { slowClient, type SlowClientResult } from './scenarios/slowClient.js';
import { BROKERS, Fixtures, REFERENCE_GROUP_PREFIX, progress, withTimeout } from './support.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const SCENARIOS = ['firstEvent', 'drain', 'latency', 'slowClient', 'idle', 'compression'] as const;
type Scenario = (typeof SCENARIOS)[number];
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = new Set<Scenario>(onlyArg ? (onlyArg.slice(7).split(',') as Scenario[]) : SCENARIOS);
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(', ')}`);

interface Row {
  figure: string;
  result: string;
  reference: string;
  ratio: string;
  target: string;
  pass: boolean;
}

const ms = (v: number) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
const mib = (v: number) => `${(v / 2 ** 20).toFixed(1)} MiB`;
const kib = (v: number) => `${(v / 1024).toFixed(1)} KiB`;
const rate = (v: number) => `${Math.round(v).toLocaleString('en-US')} records/s`;

async function main() {
  const fx = new Fixtures();
  const startedAt = new Date();
  const results: {
    firstEvent?: FirstEventResult;
    drain?: DrainResult;
    latency?: LatencyResult;
    slowClient?: SlowClientResult;
    idle?: IdleResult;
    compression?: CompressionResult;
    groups?: { before: number; newByStreaming: string[]; newByReference: number; newByOthers: string[] };
  } = {};
  try {
    const groupsBefore = new Set(await fx.groups());
    const run = async <K extends Scenario>(name: K, fn: (fx: Fixtures, quick: boolean) => Promise<NonNullable<(typeof results)[K]>>) => {
      if (!only.has(name)) return;
      process.stderr.write(`» ${name}\n`);
      const t = Date.now();
      results[name] = (await fn(fx, quick)) as (typeof results)[K];
      process.stderr.write(`  done in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
    };
    await run('firstEvent', timeToFirstEvent);
    await run('drain', drain);
    await run('latency', latency);
    await run('slowClient', slowClient);
    await run('idle', idle);
    await run('compression', compression);
    // Groups created while the bench streamed: kafka-sse's server uses client id kafka-sse-bench-server
    // (or KafkaSSE-<id> per connection); the reference consumers use a known prefix. Anything else was
    // made by another client of the same broker during the run and is listed, not counted.
    const fresh = (await fx.groups()).filter((g) => !groupsBefore.has(g));
    const unknown = fresh.filter((g) => !g.startsWith(REFERENCE_GROUP_PREFIX));
    const described = unknown.length ? (await (await fx.admin()).describeGroups(unknown)).groups : [];
    const ours = described
      .filter((g) => g.members.length === 0 || g.members.some((m) => /^(kafka-sse-bench-server|KafkaSSE-)/.test(m.clientId)))
      .map((g) => g.groupId);
    results.groups = {
      before: groupsBefore.size,
      newByStreaming: ours,
      newByReference: fresh.length - unknown.length,
      newByOthers: unknown.filter((g) => !ours.includes(g)),
    };
  } finally {
    await fx.close();
  }

  const rows: Row[] = [];
  const { firstEvent: fe, drain: dr, latency: la, slowClient: sc, idle: id, groups } = results;
  if (fe) {
    rows.push({
      figure: `time to first event, ${fe.connections} sequential connections (shared client)`,
      result: `p50 ${ms(fe.p50)}, p95 ${ms(fe.p95)}`,
      reference: `kafkajs consumer per connection (group join), ${fe.reference.connections} connections: p50 ${ms(fe.reference.p50)}, p95 ${ms(fe.reference.p95)}`,
      ratio: `${(fe.reference.p50 / fe.p50).toFixed(0)}× faster (p50)`,
      target: 'p50 ≤ 50 ms, p95 ≤ 150 ms',
      pass: fe.p50 <= 50 && fe.p95 <= 150,
    });
    const pc = fe.perConnectionClient;
    rows.push({
      figure: `time to first event, ${pc.connections} sequential connections (kafkaConfig: a client per connection)`,
      result: `p50 ${ms(pc.p50)}, p95 ${ms(pc.p95)}`,
      reference: `shared client, same run: p50 ${ms(fe.p50)}, p95 ${ms(fe.p95)}`,
      ratio: `${(pc.p50 / fe.p50).toFixed(1)}× the shared client's p50`,
      target: 'p50 ≤ 20 ms',
      pass: pc.p50 <= 20,
    });
  }
  if (groups) {
    rows.push({
      figure: 'consumer groups created by streaming',
      result: `${groups.newByStreaming.length}${groups.newByStreaming.length ? ` (${groups.newByStreaming.join(', ')})` : ''}`,
      reference: `${groups.newByReference} by the reference kafkajs consumers of this run (one per consumer)${groups.newByOthers.length ? `; ${groups.newByOthers.length} by other clients of the broker, ignored` : ''}`,
      ratio: '',
      target: '0',
      pass: groups.newByStreaming.length === 0,
    });
  }
  if (dr) {
    rows.push({
      figure: `drain ${dr.records.toLocaleString('en-US')} records of ~${dr.bytesPerRecord} B, 3 partitions, one HTTP client`,
      result: `${rate(dr.sseRate)} (${dr.sseSeconds.toFixed(2)} s)`,
      reference: `bare kafkajs eachBatch consumer: ${rate(dr.referenceRate)} (${dr.referenceSeconds.toFixed(2)} s); kafkajs eachBatch doing the same per-record JSON work, no HTTP: ${rate(dr.workReferenceRate)} (ratio to it ${(dr.sseRate / dr.workReferenceRate).toFixed(2)})`,
      ratio: dr.ratio.toFixed(2),
      target: '≥ 0.8',
      pass: dr.ratio >= 0.8,
    });
    // The fast path with user stages, each against the default pipeline drained in the same rounds. The
    // ratio is the median of the per-round ratios: on a shared machine one lucky round moves a best-of.
    const withStage = (figure: string, stageRate: number, ratio: number, target: number) =>
      rows.push({
        figure,
        result: `${rate(stageRate)} (best round)`,
        reference: `default pipeline, same rounds: ${rate(dr.sseRate)} (best round; ratio of the bests ${(stageRate / dr.sseRate).toFixed(2)})`,
        ratio: `${ratio.toFixed(2)} (median of ${dr.rounds.length} rounds)`,
        target: `≥ ${target} of the default`,
        pass: ratio >= target,
      });
    withStage('the same drain plus an identity `transform` stage', dr.identityRate, dr.identityRatio, 0.9);
    withStage('the same drain plus a `filterer` reading one field of `message`', dr.filtererRate, dr.filtererRatio, 0.5);
    withStage('the same drain plus a URL filter, `urlFilter(\'match.type=page_view\')` (keeps every record)', dr.urlMatchRate, dr.urlMatchRatio, 0.5);
  }
  if (la) {
    rows.push({
      figure: `end-to-end latency at ${la.ratePerSecond} records/s for ${la.seconds} s (${la.received}/${la.produced} received)`,
      result: `p50 ${ms(la.p50)}, p99 ${ms(la.p99)}`,
      reference: `bare kafkajs eachMessage consumer: p50 ${ms(la.reference.p50)}, p99 ${ms(la.reference.p99)}`,
      ratio: `${(la.p50 / la.reference.p50).toFixed(2)} (p50)`,
      target: 'p50 ≤ 20 ms, p99 ≤ 100 ms',
      pass: la.p50 <= 20 && la.p99 <= 100 && la.received >= la.produced,
    });
  }
  if (sc) {
    const buffered = Math.max(0, sc.recordsFetched * (sc.producedEventBytes / sc.producedRecords) - sc.clientReadBytes);
    const paused = sc.fetchesSecondHalf <= Math.max(2, sc.fetchesFirstHalf / 10) && sc.recordsFetched < sc.producedRecords;
    rows.push({
      figure: `slow client at 1 % of the produce rate for ${sc.seconds} s`,
      result: `RSS growth ${mib(sc.rssGrowth)}; fetched ${sc.recordsFetched.toLocaleString('en-US')} of ${sc.producedRecords.toLocaleString('en-US')} records, fetches ${sc.fetchesFirstHalf} in the first half, ${sc.fetchesSecondHalf} in the second; ≤ ${mib(buffered)} in flight (socket buffers included)`,
      reference: `client's backlog ${mib(sc.lagBytes)} (what an unpaused fetch would have had to buffer)`,
      ratio: '',
      target: 'RSS growth ≤ 50 MiB; fetch paused',
      pass: sc.rssGrowth <= 50 * 2 ** 20 && paused,
    });
  }
  if (id) {
    rows.push({
      figure: `${id.streams.toLocaleString('en-US')} idle open streams on a quiet topic`,
      result: `${kib(id.rssPerStream)} RSS per stream (${kib(id.heapPerStream)} of it JS heap; plus a one-off ${mib(id.newSpaceGrowth)} young-generation growth, ${kib(id.rawRssPerStream)} each if charged to the streams); CPU ${id.cpuPercent.toFixed(2)} % of a core; ${id.tailFetchesPerSecond.toFixed(1)} fetches/s`,
      reference: `same server, no stream open: CPU ${id.reference.cpuPercent.toFixed(2)} %, ${id.reference.tailFetchesPerSecond.toFixed(1)} fetches/s`,
      ratio: '',
      target: '≤ 50 KiB each, CPU near zero (≤ 2 % of a core)',
      pass: id.rssPerStream <= 50 * 1024 && id.cpuPercent <= 2,
    });
  }

  if (results.compression) {
    // Response compression (`compress`), against the same stream uncompressed in the same run.
    const cases = results.compression.cases;
    const of = (data: string, per: number, coding: string) => cases.find((c) => c.data === data && c.eventsPerChunk === per && c.coding === coding)!;
    const figures = (c: { bytesPerEvent: number; cpuMicrosPerEvent: number }) => `${c.bytesPerEvent.toFixed(0)} B/event, ${c.cpuMicrosPerEvent.toFixed(1)} µs CPU/event`;
    for (const data of ['bench', 'demo'] as const) {
      for (const per of [1, 100]) {
        const plain = of(data, per, 'identity');
        const gzip = of(data, per, 'gzip');
        const br = of(data, per, 'br');
        rows.push({
          figure: `response compression, ${data === 'bench' ? 'bench records (~300 B JSON)' : 'demo shop events'}, ${per === 1 ? 'live: 1 event per flush' : 'catching up: 100 events per flush'}`,
          result: `gzip-6 ${figures(gzip)}; br-4 ${figures(br)}`,
          reference: `uncompressed, same run: ${figures(plain)}`,
          ratio: `gzip ${(gzip.bytesPerEvent / plain.bytesPerEvent).toFixed(3)}, br ${(br.bytesPerEvent / plain.bytesPerEvent).toFixed(3)} of the bytes`,
          target: 'gzip ≤ 0.25 of the bytes',
          pass: gzip.bytesPerEvent <= 0.25 * plain.bytesPerEvent,
        });
      }
    }
  }

  const require = createRequire(import.meta.url);
  const meta = {
    date: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    mode: quick ? 'quick' : 'full',
    node: process.version,
    kafka: runningVersion() ?? `${kafkaVersion()} (expected; broker not started by this checkout's harness)`,
    kafkajs: (require('kafkajs/package.json') as { version: string }).version,
    brokers: BROKERS,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify({ meta, rows, results }, null, 2)}\n`);
  } else {
    console.log(`\nkafka-sse bench (${meta.mode}) — ${meta.date}, Node ${meta.node}, Kafka ${meta.kafka}, kafkajs ${meta.kafkajs}, ${meta.cpus} × ${meta.cpuModel}\n`);
    console.log('| figure | kafka-sse | reference (same run) | ratio | target | met |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${r.figure} | ${r.result} | ${r.reference} | ${r.ratio} | ${r.target} | ${r.pass ? 'yes' : 'NO'} |`);
  }
  progress(`finished in ${meta.durationSeconds} s`);
}

// Bounded: whatever happens, the bench ends (and its server processes with it).
const deadline = setTimeout(() => {
  console.error('bench: overall time limit reached');
  process.exit(2);
}, 20 * 60_000);
deadline.unref();
await withTimeout(main(), 20 * 60_000, 'the whole bench').then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
