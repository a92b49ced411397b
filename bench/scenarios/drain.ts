// Drain: 200,000 JSON records of ~300 bytes from a 3-partition topic to one HTTP client, against a bare
// kafkajs `eachBatch` consumer draining the same topic in the same run (timed from its first batch). The
// same drain with a user stage added (an identity `transform`, a `filterer` reading one field) is measured
// in the same rounds, against the default pipeline's rate; so is a URL filter (`?match.type=page_view`).
import type { Fixtures } from '../support.js';
import { BenchServer, countEvents, jsonRecord, now, openStream, progress, withTimeout } from '../support.js';

export interface DrainResult {
  records: number;
  bytesPerRecord: number;
  /** Best round, records/s, timed from the first `data:` byte to the last. */
  sseRate: number;
  sseSeconds: number;
  /** The same, timed from the request being sent. */
  sseRateFromRequest: number;
  referenceRate: number;
  referenceSeconds: number;
  ratio: number;
  /** kafkajs eachBatch doing the default pipeline's per-record work, no HTTP (records/s, best round). */
  workReferenceRate: number;
  /** The default pipeline plus an identity `transform` stage (records/s, best round). */
  identityRate: number;
  /** The default pipeline plus a `filterer` reading one field of `message` (records/s, best round). */
  filtererRate: number;
  /** The default pipeline plus `urlFilter('match.type=page_view')`, which keeps every record (records/s, best round). */
  urlMatchRate: number;
  /** Median over rounds of each round's rate with the stage over the default's rate in that round. */
  identityRatio: number;
  filtererRatio: number;
  urlMatchRatio: number;
  rounds: Array<{ sse: number; reference: number; workReference: number; identity: number; filterer: number; urlMatch: number }>;
}

const PARTITIONS = 3;
/** Keeps the reference's per-record work from being optimised away. */
let sink = 0;

type Stage = 'identity' | 'filterer' | 'urlMatch';
const VARIANTS = ['default', 'identity', 'filterer', 'urlMatch'] as const;
const LABELS: Record<(typeof VARIANTS)[number], string> = {
  default: '',
  identity: ' + identity transform',
  filterer: ' + filterer reading one field',
  urlMatch: ' + urlFilter match.type=page_view',
};

/** `stage`: a user stage the bench server adds (bench/server.ts), or none for the default pipeline. */
async function drainSse(server: BenchServer, topic: string, records: number, stage?: Stage) {
  const assignments = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 0 }));
  const { req, res, sentAt } = await openStream(server.url(assignments, stage === undefined ? '' : `&stage=${stage}`));
  let firstAt = 0;
  try {
    const lastAt = await withTimeout(
      new Promise<number>((resolve) => {
        countEvents(res, (total, at) => {
          if (firstAt === 0) firstAt = at;
          if (total >= records) resolve(at);
        });
      }),
      300_000,
      'SSE drain',
    );
    return { seconds: (lastAt - firstAt) / 1000, fromRequest: (lastAt - sentAt) / 1000 };
  } finally {
    req.destroy();
  }
}

/**
 * With `work`, the reference also does what the default pipeline must do per record (JSON.parse, add
 * `_kafka`, JSON.stringify, SSE framing) without any HTTP: a floor for any kafkajs-based SSE server.
 */
async function drainKafkajs(fx: Fixtures, topic: string, records: number, work = false): Promise<number> {
  const consumer = fx.kafka.consumer({ groupId: fx.referenceGroup() });
  let firstAt = 0;
  let seen = 0;
  let done!: (at: number) => void;
  const finished = new Promise<number>((resolve) => (done = resolve));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (firstAt === 0) firstAt = now();
        seen += batch.messages.length;
        if (work) {
          let chunk = '';
          for (const m of batch.messages) {
            const message = JSON.parse(m.value!.toString('utf8')) as Record<string, unknown>;
            message._kafka = { topic, partition: batch.partition, offset: Number(m.offset), timestamp: Number(m.timestamp), key: null };
            chunk += `event: message\nid: [{"topic":"${topic}","partition":${batch.partition},"offset":${Number(m.offset) + 1}}]\ndata: ${JSON.stringify(message)}\n\n`;
          }
          sink += chunk.length;
        }
        if (seen >= records) done(now());
      },
    });
    const lastAt = await withTimeout(finished, 300_000, 'kafkajs drain');
    return (lastAt - firstAt) / 1000;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function drain(fx: Fixtures, quick: boolean): Promise<DrainResult> {
  const records = quick ? 30_000 : 200_000;
  // Six rounds: the four kafka-sse pipelines rotate, so each runs in each place of a round at least once.
  const roundCount = quick ? 1 : 6;
  const topic = await fx.createTopic(PARTITIONS, 'drain');
  progress(`producing ${records} records of ~300 bytes`);
  await fx.fill(topic, PARTITIONS, records, (i) => jsonRecord(i), 'drain topic');
  const server = await BenchServer.start();
  const rounds: Array<{ sse: number; reference: number; workReference: number; fromRequest: number; identity: number; filterer: number; urlMatch: number }> = [];
  try {
    // One untimed drain of each pipeline first: a fresh server's first drains run before V8 has optimised
    // the code, and the three would otherwise not start alike.
    if (!quick) {
      for (const stage of [undefined, 'identity', 'filterer', 'urlMatch'] as const) await drainSse(server, topic, records, stage);
      progress('drain: server warmed up (one untimed drain of each pipeline)');
    }
    for (let round = 1; round <= roundCount; round++) {
      const reference = await drainKafkajs(fx, topic, records);
      progress(`drain round ${round}: kafkajs eachBatch ${(records / reference).toFixed(0)} records/s`);
      // The pipelines in a rotating order, so none is always the one that runs first in a round.
      const seconds: Partial<Record<(typeof VARIANTS)[number], { seconds: number; fromRequest: number }>> = {};
      for (let k = 0; k < VARIANTS.length; k++) {
        const variant = VARIANTS[(round - 1 + k) % VARIANTS.length]!;
        seconds[variant] = await drainSse(server, topic, records, variant === 'default' ? undefined : variant);
        progress(`drain round ${round}: kafka-sse${LABELS[variant]} ${(records / seconds[variant]!.seconds).toFixed(0)} records/s`);
      }
      const sse = seconds.default!;
      const identity = seconds.identity!;
      const filterer = seconds.filterer!;
      const urlMatch = seconds.urlMatch!;
      const workReference = await drainKafkajs(fx, topic, records, true);
      progress(`drain round ${round}: kafkajs eachBatch + per-record JSON work ${(records / workReference).toFixed(0)} records/s`);
      rounds.push({ sse: sse.seconds, reference, workReference, fromRequest: sse.fromRequest, identity: identity.seconds, filterer: filterer.seconds, urlMatch: urlMatch.seconds });
    }
  } finally {
    await server.stop();
  }
  const best = (pick: (r: (typeof rounds)[number]) => number) => Math.min(...rounds.map(pick));
  const sseSeconds = best((r) => r.sse);
  const referenceSeconds = best((r) => r.reference);
  return {
    records,
    bytesPerRecord: jsonRecord(records).length,
    sseRate: records / sseSeconds,
    sseSeconds,
    sseRateFromRequest: records / best((r) => r.fromRequest),
    referenceRate: records / referenceSeconds,
    referenceSeconds,
    ratio: referenceSeconds / sseSeconds,
    workReferenceRate: records / best((r) => r.workReference),
    identityRate: records / best((r) => r.identity),
    filtererRate: records / best((r) => r.filterer),
    urlMatchRate: records / best((r) => r.urlMatch),
    identityRatio: median(rounds.map((r) => r.sse / r.identity)),
    filtererRatio: median(rounds.map((r) => r.sse / r.filterer)),
    urlMatchRatio: median(rounds.map((r) => r.sse / r.urlMatch)),
    rounds: rounds.map(({ sse, reference, workReference, identity, filterer, urlMatch }) => ({ sse, reference, workReference, identity, filterer, urlMatch })),
  };
}
