// A custom deserializer: decide what each Kafka record becomes on the wire.
//   npx tsx recipes/custom-deserializer.ts   then open http://localhost:6917/v1/stream/orders
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse, type Deserializer, type KafkaRecord } from '../src/index.js'; // in your project: from 'kafka-eventsource'

const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

/** The first value of a Kafka header as a string, or null. */
function header(record: KafkaRecord, name: string): string | null {
  const value = record.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? null : first.toString();
}

// Set `record.message` and return the record. Leave topic, partition and offset alone: event ids are
// built from them. Throw, or return undefined, to skip a record (it still counts as read).
const deserializer: Deserializer = (record) => {
  if (record.value === null) return undefined; // a tombstone: nothing to show
  const message = {
    ...(JSON.parse(record.value.toString('utf8')) as Record<string, unknown>),
    key: record.key?.toString('utf8') ?? null, // the record key, e.g. an order id
    source: header(record, 'source'), // a header set by the producer
    receivedAt: new Date(record.timestamp).toISOString(), // the Kafka timestamp, readable
  };
  return Object.assign(record, { message });
};

const server = createServer((req, res) => {
  // GET /v1/stream/:topics, topics comma-separated. Topic names need no URL decoding: kafkaSse rejects
  // anything that is not a legal name with a 400.
  const match = /^\/v1\/stream\/([^/?]+)/.exec(req.url ?? '');
  if (!match) return void res.writeHead(404).end();
  void kafkaSse(req, res, match[1]!, { kafka, deserializer });
});

server.listen(Number(process.env.PORT ?? 6917), () => {
  console.log(`Listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
