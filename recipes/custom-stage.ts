// A stage of your own in the default pipeline: consume → deserialize → filter → [transform] → idTrack → sseEncode → sink.
// This one projects each message onto a few fields, so clients get only what they need.
//   npx tsx recipes/custom-stage.ts          then open http://localhost:6917/v1/stream/orders
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse, type DeserializedRecord, type RecordBatch } from '../src/index.js'; // in your project: from 'kafka-eventsource'

const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

const FIELDS = ['id', 'price'] as const;

// A stage is an async generator over batches (one batch per Kafka fetch). Keep each batch's `progress`
// as it is, and keep the records' topic, partition and offset: the event ids that follow are built from them.
// It may drop records too; dropped records still count as read.
async function* project(source: AsyncIterable<RecordBatch<DeserializedRecord>>): AsyncGenerator<RecordBatch<DeserializedRecord>> {
  for await (const batch of source) {
    yield {
      ...batch,
      records: batch.records.map((record) => {
        const message = record.message as Record<string, unknown>;
        return { ...record, message: Object.fromEntries(FIELDS.map((field) => [field, message[field] ?? null])) };
      }),
    };
  }
}

const server = createServer((req, res) => {
  // GET /v1/stream/:topics, topics comma-separated. Topic names need no URL decoding: kafkaSse rejects
  // anything that is not a legal name with a 400.
  const match = /^\/v1\/stream\/([^/?]+)/.exec(req.url ?? '');
  if (!match) return void res.writeHead(404).end();
  void kafkaSse(req, res, match[1]!, { kafka, transform: project });
});

server.listen(Number(process.env.PORT ?? 6917), () => {
  console.log(`Listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
