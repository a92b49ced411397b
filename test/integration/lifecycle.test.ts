// How streams end on the server's initiative: a shutdown signal and a maximum lifetime both end the
// response cleanly, and the client resumes by itself. Real broker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamSummary } from '../../src/index.js';
import { createTopic, produce } from '../helpers/kafka.js';
import { collectEvents, readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const kafka = sharedKafka();

test('aborting options.signal ends open streams cleanly with reason "server closing"', async () => {
  const topic = await createTopic(1);
  const closing = new AbortController();
  const ended: StreamSummary[] = [];
  const server = await startServer({ kafka, signal: closing.signal, onStreamEnd: (s) => ended.push(s) });
  // Once the stream is live (its start id has arrived), the server starts shutting down.
  const { ended: responseEnded, text } = await readRaw(`${server.url}/${topic}`, {
    until: (t) => {
      if (t.includes('\nid: ')) closing.abort();
      return false;
    },
    timeoutMs: 10_000,
  });
  assert.ok(responseEnded, 'the response did not end');
  assert.doesNotMatch(text, /event: error/);
  assert.equal(ended[0]?.reason, 'server closing');
});

test('maxLifetimeMs ends each stream cleanly and the client resumes with every record exactly once', async () => {
  const topic = await createTopic(1);
  const ended: string[] = [];
  const server = await startServer({ kafka, maxLifetimeMs: 300, retryMs: 20, onStreamEnd: (s) => ended.push(s.reason) });
  let produced = 0;
  const producing = setInterval(() => {
    void produce(topic, [{ partition: 0, value: { n: produced++ } }]);
  }, 20);
  try {
    const { events, opens } = await collectEvents(`${server.url}/x`, {
      lastEventId: JSON.stringify([{ topic, partition: 0, offset: 0 }]),
      until: (e) => e.length >= 60,
      timeoutMs: 20_000,
    });
    assert.ok(opens >= 2, `expected the client to reconnect after a lifetime end, opened ${opens} time(s)`);
    assert.deepEqual(
      events.map((e) => JSON.parse(e.data).n),
      Array.from({ length: events.length }, (_, i) => i),
    );
    assert.ok(ended.includes('lifetime reached'));
  } finally {
    clearInterval(producing);
  }
});
