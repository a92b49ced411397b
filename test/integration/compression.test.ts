// Compressed topics stream with no setup: for every codec (none, gzip, snappy, lz4, zstd), 500 records
// written by the Java client (compression.type) and 500 written by kafkajs (with the codec packages
// registered in this process's kafkajs only, for producing) reach a stream from offset 0, each exactly
// once and intact, through both ways a user can give kafkaSse its Kafka. Real broker.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import kafkajs, { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { closeSharedClient, type KafkaSseOptions } from '../../src/index.js';
import { produceWithJava } from '../helpers/javaProducer.js';
import { createTopic, fixtureKafka, testBrokers } from '../helpers/kafka.js';
import { collectEvents, startServer } from '../helpers/sse.js';

const require = createRequire(import.meta.url);
const COUNT = 500;
const PARTITIONS = 3;
const PAD = 'abcdefghijklmnopqrstuvwxyz'.repeat(11).slice(0, 280); // what CompressedProducer.java writes
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];
const KAFKAJS_TYPE: Record<Codec, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

// kafkajs's own codec registry, filled the way its users fill it, for the producer only: kafka-sse's
// decoder does not consult it. There is no installable kafkajs zstd codec for Node 20 (@kafkajs/zstd
// needs a native build that fails), so zstd is wrapped here around zstd-codec's streaming encoder.
type KafkajsCodec = () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };
interface ZstdStreaming { compress(d: Uint8Array, level: number): Uint8Array; decompress(d: Uint8Array): Uint8Array }
const zstd = new Promise<new () => ZstdStreaming>((resolve) =>
  (require('zstd-codec') as { ZstdCodec: { run(cb: (z: { Streaming: new () => ZstdStreaming }) => void): void } }).ZstdCodec.run((z) => resolve(z.Streaming)),
);
const registry = kafkajs.CompressionCodecs as unknown as Record<number, KafkajsCodec>;
const saved = { ...registry };
registry[CompressionTypes.Snappy] = require('kafkajs-snappy') as KafkajsCodec;
registry[CompressionTypes.LZ4] = new (require('kafkajs-lz4') as new () => { codec: KafkajsCodec })().codec;
registry[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder) => Buffer.from(new (await zstd)().compress(encoder.buffer, 3)),
  decompress: async (buffer) => Buffer.from(new (await zstd)().decompress(buffer)),
});
after(() => Object.assign(registry, saved));

const value = (n: number) => JSON.stringify({ n, pad: PAD });

/** Writes records like the Java helper's with kafkajs, in sends of 100 so each partition gets several batches. */
async function produceWithKafkajs(topic: string, codec: Codec): Promise<void> {
  const producer = await fixtureKafka().producer;
  for (let from = 0; from < COUNT; from += 100) {
    const messages = Array.from({ length: 100 }, (_, i) => ({ key: `k${from + i}`, value: value(from + i), partition: (from + i) % PARTITIONS }));
    await producer.send({ topic, acks: -1, compression: KAFKAJS_TYPE[codec], messages });
  }
}

const topics = new Map<string, string>(); // `${producer}:${codec}` → topic
// Made at the top level so that its clean-up hook (topics deleted, clients closed) is the file's: `after`
// hooks registered inside a `before` hook run as soon as that hook ends.
fixtureKafka();

before(async () => {
  for (const codec of CODECS) {
    topics.set(`java:${codec}`, await createTopic(PARTITIONS, `compression-java-${codec}`));
    topics.set(`kafkajs:${codec}`, await createTopic(PARTITIONS, `compression-kafkajs-${codec}`));
  }
  // One JVM per codec, all at once; kafkajs sends one codec after another on the shared producer.
  await Promise.all([
    ...CODECS.map((codec) => produceWithJava({ brokers: testBrokers(), topic: topics.get(`java:${codec}`)!, compression: codec, count: COUNT })),
    (async () => {
      for (const codec of CODECS) await produceWithKafkajs(topics.get(`kafkajs:${codec}`)!, codec);
    })(),
  ]);
});

const CONFIGURATIONS: Array<{ name: string; options(): KafkaSseOptions }> = [
  { name: 'shared kafka instance', options: () => ({ kafka: new Kafka({ clientId: 'compression-test', brokers: testBrokers(), logLevel: logLevel.NOTHING }) }) },
  { name: 'kafkaConfig per connection', options: () => ({ kafkaConfig: { brokers: testBrokers(), logLevel: logLevel.NOTHING } }) },
];

/** Streams a topic from offset 0 and checks that records 0..COUNT-1 each came once, with their key and value. */
async function assertStreamsAll(url: string, topic: string): Promise<void> {
  const lastEventId = JSON.stringify(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition, offset: 0 })));
  const { events, errors } = await collectEvents(`${url}/${topic}`, { lastEventId, until: (e) => e.length >= COUNT, timeoutMs: 15_000 });
  assert.deepEqual(errors, [], 'no error events');
  const seen = new Map<number, { partition: number; offset: number }>();
  for (const event of events) {
    const message = JSON.parse(event.data) as { n: number; pad: string; _kafka: { partition: number; offset: number; key: string } };
    assert.ok(!seen.has(message.n), `record ${message.n} came twice (${JSON.stringify(message._kafka)})`);
    seen.set(message.n, message._kafka);
    assert.equal(message.pad, PAD, `record ${message.n}'s value is intact`);
    assert.equal(message._kafka.key, `k${message.n}`);
  }
  assert.equal(seen.size, COUNT);
  assert.deepEqual([...seen.keys()].sort((a, b) => a - b), Array.from({ length: COUNT }, (_, n) => n));
  const perPartition = new Set([...seen.values()].map((k) => k.partition));
  assert.ok(perPartition.size > 1, 'records came from several partitions');
}

for (const configuration of CONFIGURATIONS) {
  describe(configuration.name, () => {
    for (const codec of CODECS) {
      test(`${codec}: every record written by the Java client and by kafkajs arrives once and intact`, async () => {
        const options = configuration.options();
        const server = await startServer(options);
        try {
          await Promise.all([assertStreamsAll(server.url, topics.get(`java:${codec}`)!), assertStreamsAll(server.url, topics.get(`kafkajs:${codec}`)!)]);
        } finally {
          await server.close();
          if (options.kafka) await closeSharedClient(options.kafka);
        }
      });
    }
  });
}
