// Hono on @hono/node-server: a fetch-style handler (Request in, Response out). kafkaSseResponse returns a
// Response whose body is the SSE stream (a Web ReadableStream), or a JSON error response.
// The same handler works wherever Hono runs on Web streams.
//   npx tsx recipes/hono.ts                  then open http://localhost:6917/v1/stream/demo  (or /demo,other)
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaSseResponse } from '../src/index.js'; // in your project: from 'kafka-eventsource'

// One kafkajs instance for the whole process: every stream shares its broker connections.
const kafka = new Kafka({
  clientId: 'kafka-sse-recipe',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});

const app = new Hono();

// c.req.raw is the standard Request: its headers carry Last-Event-ID, and its signal tells the
// stream when the client has left.
app.get('/v1/stream/:topics', (c) => kafkaSseResponse(c.req.raw, c.req.param('topics'), { kafka }));

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 6917) }, (info) => {
  console.log(`Listening on http://localhost:${info.port}`);
});
