// The seed's server, with this library: plain node:http, topics in the path.
//   npx tsx recipes/node-http.ts            then open http://localhost:6917/demo  (or /demo,other)
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse } from '../src/index.js'; // in your project: from 'kafka-eventsource'

// One kafkajs instance for the whole process: every stream shares its broker connections.
const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

const server = createServer((req, res) => {
  // "/a,b" → "a,b": kafkaSse takes comma-separated topic names and validates them (400 if malformed).
  // Legal topic names need no URL decoding.
  const topics = (req.url ?? '/').split('?')[0]!.slice(1);
  console.log(`streaming ${topics} to ${req.socket.remoteAddress}`);
  // kafkaSse never rejects: it answers errors itself (a JSON status before the stream, an SSE `error` event after)
  // and settles when the client leaves or the stream ends.
  void kafkaSse(req, res, topics, { kafka }).then(() => console.log(`finished streaming ${topics}`));
});

server.listen(Number(process.env.PORT ?? 6917), () => {
  const { port } = server.address() as AddressInfo;
  console.log(`Listening on http://localhost:${port} (streams at http://localhost:${port}/:topics)`);
});
