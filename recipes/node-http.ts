// The seed's server, with this library: topics in the path, e.g. http://localhost:6917/demo,other
// Run: npx tsx recipes/node-http.ts   (KAFKA_BROKERS and PORT are read from the environment)
import { createServer } from 'node:http';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse } from '../src/index.js'; // in your project: from 'kafka-sse'

const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});
const port = Number(process.env.PORT ?? 6917);

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const topics = decodeURIComponent(url.pathname.slice(1));
  console.log(`streaming ${topics} to ${req.socket.remoteAddress}`);
  void kafkaSse(req, res, topics, { kafka }).then(() => console.log(`finished streaming ${topics}`));
});

server.listen(port, () => console.log(`Listening for SSE connections at http://localhost:${port}/:topics`));
