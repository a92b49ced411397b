// The server under test, run in its own process so its RSS and CPU are its own: node:http plus kafkaSse
// with one shared kafkajs instance, as a user would write it. Started by bench/run.ts; exits when the
// bench process goes away (IPC channel closed).
//
//   GET /stream?assignments=<JSON>      the stream (kafkaSse with the shared `kafka`)
//   GET /stream?perConnection=1&…       the same with a kafkajs client made per connection (kafkaConfig)
//   GET /stream?stage=identity&…        the same plus a user `transform` that passes batches on untouched
//   GET /stream?stage=filterer&…        the same plus a user `filterer` that reads one field of `message`
//   GET /stream?stage=urlMatch&…        the same plus `urlFilter('match.type=page_view')` (every record matches)
//   GET /stats[?gc=1]                   process and stream counters as JSON
import http from 'node:http';
import v8 from 'node:v8';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse, sharedClient, urlFilter, type DeserializedRecord, type KafkaInstrumentationEvent, type KafkaSseOptions, type RecordBatch } from '../src/index.js';

const brokers = (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(',');
const kafka = new Kafka({ clientId: 'kafka-sse-bench-server', brokers, logLevel: logLevel.NOTHING });
const client = sharedClient(kafka);

interface StreamStats {
  fetches: number;
  records: number;
}
const open = new Map<http.ServerResponse, StreamStats>();

/** User stages a drain can add, as a user writes them (`?stage=`). */
const stages: Record<string, Pick<KafkaSseOptions, 'transform' | 'filterer'>> = {
  identity: {
    transform: async function* (source: AsyncIterable<RecordBatch<DeserializedRecord>>) {
      yield* source;
    },
  },
  // Reads one field of every message and keeps every record (the bench's records all have a numeric id).
  filterer: { filterer: (r) => typeof (r.message as { id?: unknown }).id === 'number' },
  // The URL filter language on one field of the message, which every bench record has with this value.
  urlMatch: { filterer: urlFilter('match.type=page_view')! },
};
const totals = { fetches: 0, records: 0, streamsOpened: 0 };

function stats(url: URL) {
  if (url.searchParams.get('gc') === '1') (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  let writableBytes = 0;
  let maxWritableBytes = 0;
  for (const res of open.keys()) {
    writableBytes += res.writableLength;
    maxWritableBytes = Math.max(maxWritableBytes, res.writableLength);
  }
  return {
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    newSpace: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0,
    external: mem.external,
    cpu: process.cpuUsage(),
    uptimeMs: process.uptime() * 1000,
    openStreams: open.size,
    waitingStreams: client.waitingStreams,
    directFetches: client.directFetches,
    tailFetches: client.tailFetches,
    streamFetches: totals.fetches,
    streamRecords: totals.records,
    streamsOpened: totals.streamsOpened,
    writableBytes,
    maxWritableBytes,
  };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats(url)));
    return;
  }
  if (url.pathname !== '/stream') {
    res.writeHead(404).end();
    return;
  }
  const mine: StreamStats = { fetches: 0, records: 0 };
  open.set(res, mine);
  totals.streamsOpened++;
  res.once('close', () => open.delete(res));
  // Per-stream counts through the public instrumentation hooks: fetches made and records they brought.
  const kafkaEventHandlers = {
    'consumer.fetch': () => {
      mine.fetches++;
      totals.fetches++;
    },
    'consumer.start_batch_process': (e: KafkaInstrumentationEvent) => {
      const n = Number(e.payload.batchSize ?? 0);
      mine.records += n;
      totals.records += n;
    },
  };
  const assignments = JSON.parse(url.searchParams.get('assignments') ?? '[]') as Parameters<typeof kafkaSse>[2];
  const stage = url.searchParams.get('stage');
  const options: KafkaSseOptions = {
    ...(url.searchParams.get('perConnection') === '1' ? { kafkaConfig: { brokers, logLevel: logLevel.NOTHING } } : { kafka }),
    kafkaEventHandlers,
    ...(stage === null ? {} : stages[stage]),
  };
  void kafkaSse(req, res, assignments, options);
});
server.keepAliveTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
});
// Stop with the bench: when it exits (even abruptly) the IPC channel closes.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
