// The stages without HTTP: Kafka → consume → deserialize → [stop after --max] → ndjsonEncode → stdout.
// Each line on stdout is one message as JSON (the default deserializer adds `_kafka` metadata).
//   npx tsx recipes/no-http-pipeline.ts <topic[,topic…]> [--from-beginning | --since <ms epoch or ISO date>] [--max <n>]
// Without --from-beginning or --since it starts at the end and prints new records; Ctrl-C stops it.
// KAFKA_BROKERS (default localhost:9092) comes from the environment.
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { pipe } from 'it-pipe';
import {
  KafkaClient,
  KafkaSseError,
  consume,
  deserialize,
  ndjsonEncode,
  parseAssignments,
  parseTimestamp,
  resolveStart,
  sink,
  type DeserializedRecord,
  type RecordBatch,
} from '../src/index.js'; // in your project: from 'kafka-eventsource'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    'from-beginning': { type: 'boolean', default: false },
    since: { type: 'string' },
    max: { type: 'string' },
  },
});
const topics = positionals[0];
if (!topics) {
  console.error('usage: no-http-pipeline.ts <topic[,topic…]> [--from-beginning | --since <time>] [--max <n>]');
  process.exit(2);
}
const max = values.max === undefined ? Infinity : Number(values.max);

/** A stage of our own: passes records until `n` have gone through, then ends the pipeline. */
function take(n: number) {
  return async function* (source: AsyncIterable<RecordBatch<DeserializedRecord>>): AsyncGenerator<RecordBatch<DeserializedRecord>> {
    let left = n;
    if (left <= 0) return;
    for await (const batch of source) {
      const records = batch.records.slice(0, left);
      left -= records.length;
      yield { ...batch, records };
      // Returning closes every stage upstream, down to the Kafka fetch loop.
      if (left <= 0) return;
    }
  };
}

const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});
// The group-less reader kafkaSse uses: no consumer group, no offset commits.
const client = new KafkaClient(kafka);
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

try {
  // Offsets-for-times with timestamp 0 is the start of every partition, so --from-beginning needs no special case.
  const atTimestamp = values['from-beginning'] ? 0 : values.since !== undefined ? parseTimestamp(values.since) : undefined;
  await client.connect();
  // The same validation a server does: legal names, topics that exist, exact start offsets per partition.
  const positions = await resolveStart(client, parseAssignments(topics), { atTimestamp });
  await pipe(
    consume(client, positions, { signal: stop.signal }),
    deserialize(), // the default: UTF-8 JSON plus `_kafka`; pass your own deserializer here
    take(max),
    ndjsonEncode(),
    sink(process.stdout), // waits for `drain`, so a slow reader (`| less`) pauses the Kafka fetches
  );
} catch (err) {
  // Library errors carry a stable code and an actionable message, e.g. KSSE_TOPIC_NOT_FOUND.
  console.error(err instanceof KafkaSseError ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
} finally {
  await client.close();
}
