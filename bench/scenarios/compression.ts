// Response compression (`compress` option): bytes on the wire and CPU per event, compressed against
// uncompressed in the same run. The stream is the library's own default pipeline (defaultStages →
// streamFraming, then the compress stage as kafkaSse runs it) over in-memory batches, so the figures are
// the encoding's and not Kafka's: the bench's ~300-byte JSON records and the demo's shop events, each
// live (one event per chunk, as a quiet topic sends them: a flush per event) and catching up (100 events
// per chunk). CPU is process.cpuUsage (every thread: zlib runs on the libuv pool), the median of 3 interleaved rounds.
import { pipe } from 'it-pipe';
import { defaultStages, streamFraming } from '../../src/pipeline.js';
import { compress, type StreamEncoding } from '../../src/stages/compress.js';
import { demoEvent } from '../../src/server/demoProducer.js';
import type { KafkaRecord, RecordBatch } from '../../src/types.js';
import { jsonRecord, progress } from '../support.js';

export interface CompressionCase {
  data: 'bench' | 'demo';
  eventsPerChunk: number;
  coding: 'identity' | 'gzip' | 'br';
  events: number;
  bytesPerEvent: number;
  cpuMicrosPerEvent: number;
}

export interface CompressionResult {
  cases: CompressionCase[];
}

function recordsOf(data: 'bench' | 'demo', count: number): KafkaRecord[] {
  const openOrders = new Map<string, string>();
  return Array.from({ length: count }, (_, i) => ({
    topic: 'bench-compression',
    partition: i % 3,
    offset: 1_000_000 + Math.floor(i / 3),
    timestamp: 1_764_547_200_000 + i * 7,
    key: null,
    value: Buffer.from(data === 'bench' ? jsonRecord(i) : JSON.stringify(demoEvent(openOrders))),
    headers: {},
  }));
}

async function* batches(records: KafkaRecord[], size: number): AsyncGenerator<RecordBatch<KafkaRecord>> {
  for (let i = 0; i < records.length; i += size) {
    const slice = records.slice(i, i + size);
    yield { records: slice, progress: slice.map((r) => ({ topic: r.topic, partition: r.partition, nextOffset: r.offset + 1 })) };
  }
}

async function runCase(records: KafkaRecord[], eventsPerChunk: number, coding: CompressionCase['coding']) {
  const positions = [0, 1, 2].map((partition) => ({ topic: 'bench-compression', partition, offset: 1_000_000 }));
  let bytes = 0;
  const cpu = process.cpuUsage();
  const chunks = pipe(
    batches(records, eventsPerChunk),
    defaultStages({ positions }),
    streamFraming({ connectionId: 'bench', heartbeatMs: 0 }),
    (source) => (coding === 'identity' ? source : compress(coding as StreamEncoding)(source)),
  );
  for await (const chunk of chunks) bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  const used = process.cpuUsage(cpu);
  return { bytesPerEvent: bytes / records.length, cpuMicrosPerEvent: (used.user + used.system) / records.length };
}

/** Every case, the codings interleaved over `rounds` rounds; the CPU figure is each case's median round. */
export async function compression(_fx: unknown, quick: boolean): Promise<CompressionResult> {
  const rounds = quick ? 2 : 3;
  const cases: CompressionCase[] = [];
  // Warm-up, not measured: the first case would otherwise pay for compiling the pipeline.
  for (const coding of ['identity', 'gzip', 'br'] as const) await runCase(recordsOf('bench', 2_000), 1, coding);
  for (const data of ['bench', 'demo'] as const) {
    for (const eventsPerChunk of [1, 100]) {
      const events = eventsPerChunk === 1 ? (quick ? 2_000 : 5_000) : quick ? 20_000 : 50_000;
      const records = recordsOf(data, events);
      const samples = new Map<CompressionCase['coding'], Array<{ bytesPerEvent: number; cpuMicrosPerEvent: number }>>();
      for (let round = 0; round < rounds; round++) {
        for (const coding of ['identity', 'gzip', 'br'] as const) {
          const list = samples.get(coding) ?? [];
          list.push(await runCase(records, eventsPerChunk, coding));
          samples.set(coding, list);
        }
      }
      for (const [coding, list] of samples) {
        const cpus = list.map((s) => s.cpuMicrosPerEvent).sort((a, b) => a - b);
        cases.push({ data, eventsPerChunk, coding, events, bytesPerEvent: list[0]!.bytesPerEvent, cpuMicrosPerEvent: cpus[Math.floor(cpus.length / 2)]! });
      }
      progress(`compression: ${data}, ${eventsPerChunk} per chunk done`);
    }
  }
  return { cases };
}
