// kafkaSse is the public composition: a pipeline built by hand from exported parts (parse, resolve,
// consume, defaultStages, streamFraming, sink) sends byte for byte what kafkaSse sends, as SSE and as
// NDJSON, on the real broker.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { pipe } from 'it-pipe';
import {
  consume,
  defaultStages,
  parseLastEventId,
  resolveStart,
  sharedClient,
  sink,
  streamFormat,
  streamFraming,
  type DefaultStagesOptions,
} from '../../src/index.js';
import { createTopic, produce } from '../helpers/kafka.js';
import { readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const kafka = sharedKafka();
const topic = await createTopic(3, 'composition');
// Plain JSON, a value that is not an object (skipped by the default deserializer: the ids still move) and a tombstone.
await produce(topic, [
  ...Array.from({ length: 30 }, (_, n) => ({ partition: n % 3, value: { n, text: `record ${n} "quoted" \u00e9` } })),
  { partition: 1, value: Buffer.from('[1,2]') },
  { partition: 2, value: null },
  { partition: 0, value: { n: 30 } },
]);
const from = JSON.stringify([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));

/** The same stream built from exported parts, served on its own port. */
async function handBuilt(extra: Pick<DefaultStagesOptions, 'filterer'> = {}) {
  const client = sharedClient(kafka);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const format = streamFormat(req);
      const positions = await resolveStart(client, parseLastEventId(String(req.headers['last-event-id'])));
      const connectionId = String(req.headers['x-request-id']);
      const abort = new AbortController();
      res.once('close', () => abort.abort());
      res.writeHead(200, { 'content-type': format === 'ndjson' ? 'application/json; charset=utf-8' : 'text/event-stream; charset=utf-8' });
      await pipe(
        consume(client, positions, { signal: abort.signal, readAhead: true }),
        defaultStages({ positions, format, ...extra }),
        streamFraming({ format, connectionId, signal: abort.signal }),
        sink(res),
      );
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function body(url: string, accept: string): Promise<string> {
  const { status, text } = await readRaw(url, {
    headers: { accept, 'last-event-id': from, 'x-request-id': 'same-connection' },
    // Until the last record and the position block that follows a caught-up fetch.
    until: (t) => t.includes('"n":30') && t.lastIndexOf('"n":30') < t.lastIndexOf(accept === 'text/event-stream' ? 'event: position' : '\n'),
    timeoutMs: 10_000,
  });
  assert.equal(status, 200);
  return text;
}

test('SSE: a hand-built pipeline of exported parts sends byte for byte what kafkaSse sends', async () => {
  const library = await startServer({ kafka });
  const own = await handBuilt();
  const expected = await body(`${library.url}/${topic}`, 'text/event-stream');
  assert.match(expected, /^: kafka-sse stream same-connection\n\nretry: 2000\n\n/);
  assert.equal((expected.match(/^data: \{"n"/gm) ?? []).length, 31);
  assert.equal(await body(`${own}/${topic}`, 'text/event-stream'), expected);
});

test('NDJSON: the same, line for line', async () => {
  const library = await startServer({ kafka });
  const own = await handBuilt();
  const expected = await body(`${library.url}/${topic}`, 'application/json');
  assert.equal(expected.trim().split('\n').length, 31);
  assert.equal(await body(`${own}/${topic}`, 'application/json'), expected);
});

test('with a filterer: the same bytes, and the filtered-out records still move the ids', async () => {
  const filterer = (r: { message: unknown }) => (r.message as { n: number }).n % 2 === 0;
  const library = await startServer({ kafka, filterer });
  const own = await handBuilt({ filterer });
  const expected = await body(`${library.url}/${topic}`, 'text/event-stream');
  assert.doesNotMatch(expected, /"n":1,/);
  assert.equal(await body(`${own}/${topic}`, 'text/event-stream'), expected);
});
