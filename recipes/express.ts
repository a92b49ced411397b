// Express 5: mount kafkaSse on a route. Express's req and res are Node's, so they go straight in.
//   npx tsx recipes/express.ts               then open http://localhost:6917/v1/stream/demo  (or /demo,other)
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse } from '../src/index.js'; // in your project: from 'kafka-eventsource'

// One kafkajs instance for the whole process: every stream shares its broker connections.
const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

const app = express();

// `:topics` is one topic or several, comma-separated. kafkaSse answers everything itself — the SSE
// stream, or a JSON error status (400 bad request, 404 unknown topic…) — and its promise never rejects.
app.get('/v1/stream/:topics', (req, res) => {
  void kafkaSse(req, res, req.params.topics, { kafka });
});

const server = app.listen(Number(process.env.PORT ?? 6917), (error) => {
  if (error) throw error;
  console.log(`Listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
