// Fastify 5: take the raw Node request and response over with `reply.hijack()`, then hand them to kafkaSse.
//   npx tsx recipes/fastify.ts               then open http://localhost:6917/v1/stream/demo  (or /demo,other)
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSse } from '../src/index.js'; // in your project: from 'kafka-eventsource'

// One kafkajs instance for the whole process: every stream shares its broker connections.
const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

const app = Fastify();

app.get<{ Params: { topics: string } }>('/v1/stream/:topics', async (request, reply) => {
  // Fastify must not send a reply of its own: the response is a long-lived stream written by kafkaSse.
  reply.hijack();
  // Resolves when the stream ends (client gone, or an error sent as an SSE `error` event); never rejects.
  await kafkaSse(request.raw, reply.raw, request.params.topics, { kafka });
});

await app.listen({ port: Number(process.env.PORT ?? 6917) });
console.log(`Listening on http://localhost:${(app.server.address() as AddressInfo).port}`);
