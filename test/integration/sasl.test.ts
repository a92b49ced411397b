// Streams from a broker that asks for SASL/SCRAM-SHA-512 (localhost:29292, a node of this file's own):
// the right password streams, with a shared kafkajs instance and with a per-connection kafkaConfig; a
// wrong one gets a prompt answer with a stable code that tells the browser nothing about the broker or
// how the server logs in to it.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { EventSource } from 'eventsource';
import { logLevel } from 'kafkajs';
import { KafkaUnavailableError, closeSharedClient, type KafkaSseOptions } from '../../src/index.js';
import { clusterSkip, startSaslBroker, type TestSaslBroker } from '../helpers/cluster.js';
import { readRaw, startServer } from '../helpers/sse.js';
import { delay, eventually } from '../helpers/wait.js';

const skip = clusterSkip;
// Started at the top level: `after` hooks registered inside a `before` hook run as soon as that hook ends.
const broker = (skip ? undefined : await startSaslBroker()) as TestSaslBroker;

const WRONG_PASSWORD = 'not-the-kafka-sse-secret';
const PARTITIONS = 2;
const PER_PARTITION = 20;

/** A topic with PER_PARTITION records `{ n }` in each partition, made once (as the SCRAM user). */
let fixture: Promise<string> | undefined;
function topicWithRecords(): Promise<string> {
  fixture ??= (async () => {
    const topic = `sasl-${Date.now().toString(36)}`;
    const admin = await broker.admin();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    const producer = broker.kafka().producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = [];
    for (let n = 0; n < PER_PARTITION; n++) {
      for (let partition = 0; partition < PARTITIONS; partition++) messages.push({ partition, value: JSON.stringify({ n }) });
    }
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();
    return topic;
  })();
  return fixture;
}

/** The two ways a user gives kafkaSse its Kafka, logged in with `password`. */
function configurations(password: string): Array<{ name: string; options(): KafkaSseOptions }> {
  const sasl = () => ({ ...broker.sasl, password });
  return [
    {
      name: 'shared kafka instance with sasl',
      options() {
        const kafka = broker.kafka({ clientId: 'sasl-sse-shared', sasl: sasl() });
        after(() => closeSharedClient(kafka));
        return { kafka };
      },
    },
    {
      name: 'kafkaConfig with sasl',
      options: () => ({ kafkaConfig: { brokers: broker.brokers, sasl: sasl(), logLevel: logLevel.NOTHING } }),
    },
  ];
}

for (const configuration of configurations(broker?.sasl.password ?? '')) {
  test(`the right SCRAM-SHA-512 password, ${configuration.name}: every record streams, exactly once and in order`, { skip }, async () => {
    const topic = await topicWithRecords();
    const server = await startServer(configuration.options(), () =>
      Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 0 })),
    );
    const received: Array<{ partition: number; offset: number; n: number }> = [];
    const errors: string[] = [];
    const es = new EventSource(server.url);
    es.addEventListener('message', (e: MessageEvent<string>) => {
      const { n, _kafka } = JSON.parse(e.data) as { n: number; _kafka: { partition: number; offset: number } };
      received.push({ partition: _kafka.partition, offset: _kafka.offset, n });
    });
    es.addEventListener('error', (e: Event & { data?: unknown }) => {
      if (typeof e.data === 'string') errors.push(e.data);
    });
    try {
      await eventually(() => received.length >= PARTITIONS * PER_PARTITION, 15_000, () => `${received.length} events, errors ${errors.join(' ')}`);
      await delay(300); // a duplicate would arrive right behind the last record
      for (let partition = 0; partition < PARTITIONS; partition++) {
        assert.deepEqual(
          received.filter((r) => r.partition === partition),
          Array.from({ length: PER_PARTITION }, (_, i) => ({ partition, offset: i, n: i })),
          `partition ${partition}: every record once, in order`,
        );
      }
      assert.equal(received.length, PARTITIONS * PER_PARTITION);
      assert.deepEqual(errors, [], 'no SSE error event');
    } finally {
      es.close();
      await server.close();
    }
  });
}

/** What a browser must not learn from the error: how the server logs in to Kafka, and where Kafka is. */
const LEAKS: RegExp[] = [/sasl/i, /scram/i, /sha-?512/i, /authenticat/i, /credential/i, /localhost/i, /127\.0\.0\.1/, /29292/, new RegExp(WRONG_PASSWORD)];

const PROMPT_MS = 8000;

for (const configuration of configurations(WRONG_PASSWORD)) {
  test(`a wrong SCRAM-SHA-512 password, ${configuration.name}: a prompt error with a stable code that names neither the mechanism nor the broker`, { skip }, async (t) => {
    const topic = await topicWithRecords();
    const server = await startServer(configuration.options());
    try {
      const startedAt = Date.now();
      // As a browser's EventSource asks. The answer is a JSON error (status ≥ 400) before the stream
      // starts, or a 200 stream whose `event: error` carries it.
      const answer = await readRaw(`${server.url}/${topic}`, {
        headers: { accept: 'text/event-stream' },
        until: (text) => /event: error\n(?:.*\n)*?\n/.test(text),
        timeoutMs: 20_000,
      });
      const ms = Date.now() - startedAt;
      t.diagnostic(`status ${answer.status} after ${ms} ms: ${JSON.stringify(answer.text)}`);

      let error: { code?: string; message?: string };
      if (answer.status === 200) {
        const block = /event: error\n((?:.*\n)*?)\n/.exec(answer.text);
        assert.ok(block, 'a 200 stream carries an `event: error`');
        error = JSON.parse(block[1]!.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n')) as typeof error;
      } else {
        assert.ok(answer.status >= 400, `an error status (got ${answer.status})`);
        error = JSON.parse(answer.text) as typeof error;
      }
      assert.equal(error.code, new KafkaUnavailableError('').code, 'the stable code of an unreachable Kafka');
      for (const leak of LEAKS) assert.doesNotMatch(answer.text, leak, `the client-facing body does not mention ${leak}`);
      assert.ok(ms < PROMPT_MS, `answered after ${ms} ms (bound ${PROMPT_MS} ms)`);
    } finally {
      await server.close();
    }
  });
}
