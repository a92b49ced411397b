// The fan-out bench's "floor": the least a server can do to send one topic to many SSE clients, as its
// own process. node:http, ONE kafkajs consumer per topic (a fresh group of one, from the end), and per
// fetched batch one Buffer of SSE text (`event: message\ndata: <value>\n\n` per record) written as is to
// every open response. No ids, no resume, no backpressure, no heartbeats, no validation: whatever
// kafka-sse spends beyond this is the price of what it does per stream.
//
//   node --import tsx bench/fanout/floorServer.ts --port <n> --topic <t> --group <id> [--brokers h:p]
//   GET /v1/stream/<topic>     the stream (only the topics named at start; 404 otherwise)
//
// Prints one JSON line {"ready":true,"port":n} on stdout once every consumer has joined its group, so no
// record produced afterwards is missed. Exits on SIGTERM or when stdin closes.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    topic: { type: 'string', multiple: true, default: [] },
    group: { type: 'string' },
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? 'localhost:9092' },
  },
});
const topics = values.topic!;
const kafka = new Kafka({ clientId: 'kafka-sse-bench-floor', brokers: values.brokers!.split(','), logLevel: logLevel.NOTHING });
const open = new Map<string, Set<http.ServerResponse>>(topics.map((t) => [t, new Set()]));
const HEAD = Buffer.from('event: message\ndata: ');
const TAIL = Buffer.from('\n\n');
const PREAMBLE = Buffer.from(': floor\n\n');

const server = http.createServer((req, res) => {
  const match = /^\/v1\/stream\/([^/?]+)/.exec(req.url ?? '');
  const responses = match ? open.get(decodeURIComponent(match[1]!)) : undefined;
  if (!responses) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(PREAMBLE);
  responses.add(res);
  res.once('close', () => responses.delete(res));
});
server.keepAliveTimeout = 0;
server.requestTimeout = 0;

const consumers: Consumer[] = [];
for (const topic of topics) {
  const responses = open.get(topic)!;
  const consumer = kafka.consumer({ groupId: `${values.group ?? 'kafka-sse-bench-reference-floor'}${consumers.length ? `-${consumers.length}` : ''}` });
  consumers.push(consumer);
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      if (batch.messages.length === 0 || responses.size === 0) return;
      const parts: Buffer[] = [];
      for (const m of batch.messages) if (m.value) parts.push(HEAD, m.value, TAIL);
      const frame = Buffer.concat(parts);
      for (const res of responses) res.write(frame);
    },
  });
  await joined;
}

server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ ready: true, port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close();
  await Promise.race([Promise.all(consumers.map((c) => c.disconnect().catch(() => {}))), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();
