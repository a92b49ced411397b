// MemorySource is held to the contract of the Source port, the same test the kafkajs adapter passes on a
// real broker (test/integration/kafkaSource.test.ts).
import { randomUUID } from 'node:crypto';
import { MemorySource } from '../../src/testing.js';
import { sourceContract } from '../contract/source.contract.js';

sourceContract('MemorySource', async () => {
  // Each MemorySource is its own store: the fixture writes to every one it made, like a cluster they all read.
  const sources = [new MemorySource({ batchSize: 2 })];
  return {
    source: sources[0]!,
    another() {
      const source = new MemorySource({ batchSize: 2 });
      sources.push(source);
      return source;
    },
    async createTopic(partitions) {
      const topic = `t-${randomUUID().slice(0, 8)}`;
      for (const source of sources) source.createTopic(topic, partitions);
      return topic;
    },
    async append(topic, partition, records) {
      for (const source of sources) source.append(...records.map(({ value, timestamp }) => ({ topic, partition, value, timestamp })));
    },
    missingTopic: () => `missing-${randomUUID().slice(0, 8)}`,
  };
});
