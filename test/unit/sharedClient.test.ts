// sharedClient: one client per kafkajs instance, made with the tuning of its first use; conflicting
// tuning later is refused rather than silently ignored. Nothing here connects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { closeSharedClient, sharedClient } from '../../src/kafka/client.js';

const offlineKafka = () => new Kafka({ clientId: 'shared-client-test', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });

describe('sharedClient', () => {
  it('makes one client per kafkajs instance, with default tuning when none is given', async () => {
    const kafka = offlineKafka();
    const client = sharedClient(kafka);
    assert.equal(sharedClient(kafka), client);
    assert.notEqual(sharedClient(offlineKafka()), client, 'another instance gets its own client');
    assert.deepEqual(client.tuning, { pollMaxWaitMs: 500, partitionMaxBytes: 512 * 1024, retryWindowMs: 30_000 });
    await closeSharedClient(kafka);
  });

  it('applies the tuning of the first use, and accepts the same tuning (or none) afterwards', async () => {
    const kafka = offlineKafka();
    const client = sharedClient(kafka, { retryWindowMs: 5000 });
    assert.equal(client.tuning.retryWindowMs, 5000);
    assert.equal(client.tuning.pollMaxWaitMs, 500, 'what is not given keeps its default');
    assert.equal(sharedClient(kafka, { retryWindowMs: 5000 }), client);
    assert.equal(sharedClient(kafka, { retryWindowMs: 5000, pollMaxWaitMs: 500 }), client, 'a default named explicitly is the same tuning');
    assert.equal(sharedClient(kafka), client);
    await closeSharedClient(kafka);
  });

  it('refuses different tuning for a client that already exists, naming the setting', async () => {
    const kafka = offlineKafka();
    sharedClient(kafka, { retryWindowMs: 5000 });
    assert.throws(() => sharedClient(kafka, { retryWindowMs: 60_000 }), /retryWindowMs = 5000, not 60000/);
    assert.throws(() => sharedClient(kafka, { partitionMaxBytes: 1024 }), /partitionMaxBytes/);
    await closeSharedClient(kafka);
    assert.equal(sharedClient(kafka, { retryWindowMs: 60_000 }).tuning.retryWindowMs, 60_000, 'after closing, a new client takes new tuning');
    await closeSharedClient(kafka);
  });
});
