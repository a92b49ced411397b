// The kafkajs adapter (KafkaClient) held to the contract of the Source port on the real broker: the same
// test MemorySource passes in test/unit/memorySource.test.ts.
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { KafkaClient } from '../../src/kafka/client.js';
import type { Source } from '../../src/source/source.js';
import { sourceContract } from '../contract/source.contract.js';
import { createTopic, fixtureKafka, produce } from '../helpers/kafka.js';

const clients: Source[] = [];
const client = () => {
  const made = new KafkaClient(fixtureKafka().kafka, { pollMaxWaitMs: 500 });
  clients.push(made);
  return made;
};
const shared = client();
after(() => Promise.all(clients.map((c) => c.close())));

sourceContract('KafkaClient (kafkajs adapter, real broker)', async () => ({
  source: shared,
  another: client,
  createTopic: (partitions) => createTopic(partitions, 'source-contract'),
  append: (topic, partition, records) => produce(topic, records.map(({ value, timestamp }) => ({ partition, value, timestamp }))),
  missingTopic: () => `missing-${randomUUID().slice(0, 8)}`,
}));
