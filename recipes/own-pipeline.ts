// A pipeline of your own behind HTTP, from exported parts only: the default stages with a stage of yours
// in between. Browsers resume it like kafkaSse: it reads Last-Event-ID and sends the SSE headers.
//   npx tsx recipes/own-pipeline.ts          then open http://localhost:6917/orders
// KAFKA_BROKERS (default localhost:9092) and PORT (default 6917; 0 picks a free port) come from the environment.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { pipe } from 'it-pipe';
import {
  consume,
  defaultStages,
  parseAssignments,
  parseLastEventId,
  resolveStart,
  sendRefusal,
  sharedClient,
  sink,
  streamFraming,
  toClientError,
  type DeserializedRecord,
  type RecordBatch,
} from '../src/index.js'; // in your project: from 'kafka-eventsource'

const kafka = new Kafka({
  clientId: 'own-pipeline',
  brokers: (process.env.KAFKA_BROKERS ?? 'localhost:9092').split(','),
  logLevel: logLevel.ERROR,
});
const client = sharedClient(kafka);

// Your stage: marks every message with where it was served from. Changing `message` is fine; keep each
// batch's `progress` and each record's topic, partition and offset (the event ids are built from them).
async function* stamp(source: AsyncIterable<RecordBatch<DeserializedRecord>>): AsyncGenerator<RecordBatch<DeserializedRecord>> {
  for await (const batch of source) {
    for (const record of batch.records) (record.message as Record<string, unknown>).servedBy = 'own-pipeline';
    yield batch;
  }
}

const server = createServer(async (req, res) => {
  try {
    // A reconnecting EventSource sends where it stopped; a new one names its topics in the path.
    const lastEventId = req.headers['last-event-id'];
    const topics = (req.url ?? '/').split('?')[0]!.slice(1);
    const request = typeof lastEventId === 'string' ? parseLastEventId(lastEventId) : parseAssignments(topics);
    const positions = await resolveStart(client, request);
    const stop = new AbortController();
    res.once('close', () => stop.abort());
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    await pipe(
      consume(client, positions, { signal: stop.signal }),
      defaultStages({ positions, transform: stamp }),
      streamFraming({ connectionId: randomUUID(), signal: stop.signal }),
      sink(res),
    );
  } catch (err) {
    // A 400/404 as JSON; Kafka unreachable as a short stream that tells an EventSource to retry.
    sendRefusal(req, res, toClientError(err));
  }
});

server.listen(Number(process.env.PORT ?? 6917), () => {
  console.log(`Listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
