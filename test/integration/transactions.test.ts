// Transactional producers on a real broker: a stream delivers what a read_committed consumer sees —
// committed records only, none of an aborted transaction, no transaction markers — and its ids move past
// the markers, so a client that resumes reads nothing twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTopic, fixtureKafka, produce } from '../helpers/kafka.js';
import { collectEvents, sharedKafka, startServer } from '../helpers/sse.js';

test('records of an aborted transaction are never sent; committed ones are, and ids move past the markers', async () => {
  const topic = await createTopic(1, 'txn');
  const producer = fixtureKafka().kafka.producer({ transactionalId: `kafka-sse-test-${topic}`, maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  try {
    await produce(topic, [{ partition: 0, value: { n: 'before' } }]);
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ partition: 0, value: JSON.stringify({ n: 'aborted-1' }) }, { partition: 0, value: JSON.stringify({ n: 'aborted-2' }) }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ partition: 0, value: JSON.stringify({ n: 'committed' }) }] });
    await committed.commit();
    await produce(topic, [{ partition: 0, value: { n: 'after' } }]);
  } finally {
    await producer.disconnect();
  }
  // Offsets: 0 before, 1-2 aborted, 3 abort marker, 4 committed, then the commit marker and `after` in
  // either order (the coordinator writes markers after commit() returns).
  const server = await startServer({ kafka: sharedKafka() });
  const { events, source } = await collectEvents(`${server.url}/${topic}`, {
    lastEventId: JSON.stringify([{ topic, partition: 0, offset: 0 }]),
    until: (e) => e.some((x) => x.data.includes('"after"')),
  });
  source.close();
  const messages = events.filter((e) => e.type === 'message').map((e) => JSON.parse(e.data) as { n: string; _kafka: { offset: number } });
  assert.deepEqual(messages.map((m) => m.n), ['before', 'committed', 'after']);
  assert.deepEqual(messages.map((m) => m._kafka.offset).slice(0, 2), [0, 4]);
  const afterOffset = messages[2]!._kafka.offset;
  assert.ok(afterOffset === 5 || afterOffset === 6, `after at ${afterOffset}`);
  const last = events.filter((e) => e.type === 'message').at(-1)!;
  assert.deepEqual(JSON.parse(last.lastEventId), [{ topic, partition: 0, offset: afterOffset + 1 }]);
});
