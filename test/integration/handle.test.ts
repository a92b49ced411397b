// createKafkaSse: options checked once at creation, limits and open streams per handle, close() ends
// every stream cleanly. Real broker.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaSse, kafkaSse, type KafkaSseOptions, type StreamSummary } from '../../src/index.js';
import { createTopic, testBrokers } from '../helpers/kafka.js';
import { readRaw } from '../helpers/sse.js';

test('options that cannot work are refused when the handle is made, naming the option', () => {
  const kafka = new Kafka({ brokers: testBrokers(), logLevel: logLevel.NOTHING });
  const cases: Array<[KafkaSseOptions, RegExp]> = [
    [{ kafka, kafkaConfig: { brokers: testBrokers() } }, /either `kafka`.*or `kafkaConfig`/],
    [{ heartbeatMs: -1 }, /heartbeatMs/],
    [{ maxConnections: Number.NaN }, /maxConnections/],
    [{ allowedTopics: 'orders' as unknown as string[] }, /allowedTopics/],
    [{ filterer: true as unknown as () => boolean }, /filterer/],
    [{ kafkaEventHandlers: { 'consumer.fetchh': () => {} } as unknown as KafkaSseOptions['kafkaEventHandlers'] }, /consumer\.fetchh/],
  ];
  for (const [options, message] of cases) assert.throws(() => createKafkaSse(options), (err: Error) => err instanceof TypeError && message.test(err.message));
});

test('kafkaSse with options that cannot work answers 500 KSSE_INTERNAL and says why in the log, not to the client', async () => {
  const logged: string[] = [];
  const logger = { child: () => logger, debug() {}, info() {}, warn() {}, error: (o: { err?: Error }) => void logged.push(String(o.err?.message)) };
  const server = createServer((req, res) => void kafkaSse(req, res, 'x', { heartbeatMs: -5, logger }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  assert.equal(res.status, 500);
  assert.equal(((await res.json()) as { code: string }).code, 'KSSE_INTERNAL');
  assert.match(logged.join('\n'), /heartbeatMs/);
});

test('a handle counts its open streams, and close() ends them cleanly with reason "server closing"', async () => {
  const topic = await createTopic(1, 'handle');
  const kafka = new Kafka({ brokers: testBrokers(), logLevel: logLevel.NOTHING });
  const ends: StreamSummary[] = [];
  let started = 0;
  // consumer.connect: the stream is set up (positions resolved) and about to send its first bytes.
  const sse = createKafkaSse({ kafka, onStreamEnd: (s) => ends.push(s), kafkaEventHandlers: { 'consumer.connect': () => started++ } });
  const server = createServer((req, res) => void sse.handle(req, res, topic));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const reading = readRaw(url, { until: () => false, timeoutMs: 10_000 });
  for (let i = 0; i < 250 && started === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(sse.openStreams, 1);
  await sse.close();
  const { ended, text } = await reading;
  assert.ok(ended, 'the stream ended by itself');
  assert.match(text, /^: kafka-sse stream /);
  for (let i = 0; i < 100 && ends.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(ends[0]?.reason, 'server closing');
  assert.equal(sse.openStreams, 0);
});
