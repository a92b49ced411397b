// resolveStart against a fake cluster: which topics may be read, which exist, and what each partition
// asks the Kafka client to resolve. (Resolving offsets itself is the client's job: integration tests.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAssignments } from '../../src/position.js';
import { resolveStart } from '../../src/resolve.js';
import type { Position } from '../../src/types.js';
import { assertRejectsCode } from './support.js';

type Start = { topic: string; partition: number; offset?: number; timestamp?: number };

/** A cluster with these topics (name → partition count) that records what it was asked. */
function fakeCluster(topics: Record<string, number>) {
  const asked: { topics: string[][]; starts: Start[][] } = { topics: [], starts: [] };
  return {
    asked,
    async topicPartitions(names: string[]) {
      asked.topics.push(names);
      return new Map(names.filter((n) => n in topics).map((n) => [n, topics[n]!]));
    },
    async resolve(starts: Start[]): Promise<Position[]> {
      asked.starts.push(starts);
      return starts.map(({ topic, partition, offset }) => ({ topic, partition, offset: offset ?? 1000 }));
    },
  };
}

describe('resolveStart', () => {
  it('starts every partition of a named topic, in partition order, at latest', async () => {
    const cluster = fakeCluster({ a: 3 });
    await resolveStart(cluster, parseAssignments('a'));
    assert.deepEqual(cluster.asked.starts[0], [
      { topic: 'a', partition: 0 },
      { topic: 'a', partition: 1 },
      { topic: 'a', partition: 2 },
    ]);
  });

  it('starts named topics at atTimestamp when given', async () => {
    const cluster = fakeCluster({ a: 2 });
    await resolveStart(cluster, parseAssignments('a'), { atTimestamp: 123 });
    assert.deepEqual(cluster.asked.starts[0], [
      { topic: 'a', partition: 0, timestamp: 123 },
      { topic: 'a', partition: 1, timestamp: 123 },
    ]);
  });

  it('passes assignment offsets and timestamps through, and gives atTimestamp only to those with neither', async () => {
    const cluster = fakeCluster({ a: 4 });
    const request = parseAssignments([
      { topic: 'a', partition: 0, offset: 5 },
      { topic: 'a', partition: 1, timestamp: 77 },
      { topic: 'a', partition: 2, offset: 6, timestamp: 88 },
      { topic: 'a', partition: 3 },
    ]);
    await resolveStart(cluster, request, { atTimestamp: 999 });
    assert.deepEqual(cluster.asked.starts[0], [
      { topic: 'a', partition: 0, offset: 5 },
      { topic: 'a', partition: 1, timestamp: 77 },
      { topic: 'a', partition: 2, offset: 6, timestamp: 88 },
      { topic: 'a', partition: 3, timestamp: 999 },
    ]);
  });

  it('returns what the client resolved', async () => {
    const positions = await resolveStart(fakeCluster({ a: 1 }), parseAssignments([{ topic: 'a', partition: 0, offset: 5 }]));
    assert.deepEqual(positions, [{ topic: 'a', partition: 0, offset: 5 }]);
  });

  it('answers 404 for a topic that does not exist, without resolving anything', async () => {
    const cluster = fakeCluster({ a: 1 });
    const err = await assertRejectsCode(resolveStart(cluster, parseAssignments('a,missing')), 'KSSE_TOPIC_NOT_FOUND', 404);
    assert.equal(err.details.topic, 'missing');
    assert.equal(cluster.asked.starts.length, 0);
  });

  it('answers 400 for a partition the topic does not have', async () => {
    const err = await assertRejectsCode(
      resolveStart(fakeCluster({ a: 2 }), parseAssignments([{ topic: 'a', partition: 2, offset: 0 }])),
      'KSSE_PARTITION_NOT_FOUND',
      400,
    );
    assert.deepEqual({ topic: err.details.topic, partition: err.details.partition }, { topic: 'a', partition: 2 });
  });

  describe('with allowedTopics', () => {
    it('answers 404 for a topic not allowed, before asking the cluster anything', async () => {
      const cluster = fakeCluster({ a: 1, secret: 1 });
      await assertRejectsCode(resolveStart(cluster, parseAssignments('secret'), { allowedTopics: ['a'] }), 'KSSE_TOPIC_NOT_ALLOWED', 404);
      assert.equal(cluster.asked.topics.length, 0);
    });

    it('answers "not allowed" and "missing" with the same status, so names do not leak', async () => {
      const notAllowed = await assertRejectsCode(resolveStart(fakeCluster({ a: 1, b: 1 }), parseAssignments('b'), { allowedTopics: ['a'] }), 'KSSE_TOPIC_NOT_ALLOWED', 404);
      const missing = await assertRejectsCode(resolveStart(fakeCluster({ a: 1 }), parseAssignments('c'), { allowedTopics: ['a', 'c'] }), 'KSSE_TOPIC_NOT_FOUND', 404);
      assert.equal(notAllowed.status, missing.status);
    });

    it('answers 500 when none of the allowed topics exists (a misconfiguration)', async () => {
      await assertRejectsCode(resolveStart(fakeCluster({}), parseAssignments('a'), { allowedTopics: ['a', 'b'] }), 'KSSE_NO_TOPICS_AVAILABLE', 500);
    });

    it('streams an allowed topic that exists', async () => {
      const positions = await resolveStart(fakeCluster({ a: 1 }), parseAssignments('a'), { allowedTopics: ['a', 'b'] });
      assert.deepEqual(positions, [{ topic: 'a', partition: 0, offset: 1000 }]);
    });
  });
});
