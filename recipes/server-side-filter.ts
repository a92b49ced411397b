// Server-side filtering: only records the filterer accepts reach the client.
//   npx tsx recipes/server-side-filter.ts    then open http://localhost:6917/v1/stream/prices
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse, type DeserializedRecord } from '../src/index.js'; // in your project: from 'kafka-eventsource'

const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

// The filterer sees each record after deserialization (`record.message` is the parsed JSON).
// Records it drops still count as read: the client's Last-Event-ID moves past them (an `event: position`
// block), so a reconnecting client never re-reads what the filter skipped.
function filterer(record: DeserializedRecord): boolean {
  const { price } = record.message as { price?: unknown };
  return typeof price === 'number' && price >= 10;
}

const server = createServer((req, res) => {
  // GET /v1/stream/:topics, topics comma-separated. Topic names need no URL decoding: kafkaSse rejects
  // anything that is not a legal name with a 400.
  const match = /^\/v1\/stream\/([^/?]+)/.exec(req.url ?? '');
  if (!match) return void res.writeHead(404).end();
  void kafkaSse(req, res, match[1]!, { kafka, filterer });
});

server.listen(Number(process.env.PORT ?? 6917), () => {
  console.log(`Listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
