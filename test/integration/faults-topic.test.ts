// A topic deleted under a running stream (on the shared broker, a topic this file created): the stream
// sends one SSE `error` event (KSSE_TOPIC_DELETED) and ends; a client that reconnects is told 404; and
// the topic stays deleted even though the broker has auto.create.topics.enable=true.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventSource } from 'eventsource';
import type { StreamSummary } from '../../src/index.js';
import { openStream, parseSse } from '../e2e/helpers/cliProcess.js';
import { createTopic, fixtureKafka, produce } from '../helpers/kafka.js';
import { sharedKafka, startServer } from '../helpers/sse.js';
import { delay, within } from '../helpers/wait.js';


test('a topic deleted mid-stream: an SSE error event KSSE_TOPIC_DELETED, the stream ends, a reconnect gets 404, and the topic is not recreated', async (t) => {
  const topic = await createTopic(2, 'faults-deleted');
  await produce(topic, [0, 1, 2, 3].map((n) => ({ partition: n % 2, value: { n } })));
  const ends: StreamSummary[] = [];
  const server = await startServer({ kafka: sharedKafka(), retryMs: 100, onStreamEnd: (s) => ends.push(s) }, (req) =>
    // A first request reads both partitions from the start; a reconnection's Last-Event-ID replaces this.
    req.headers['last-event-id'] ? topic : [0, 1].map((partition) => ({ topic, partition, offset: 0 })),
  );

  // A raw reader sees exactly what is sent and how the response ends.
  const raw = await openStream(server.url);
  // A real EventSource reconnects after the error event, with a Last-Event-ID naming the deleted topic.
  const es = new EventSource(server.url);
  const esMessages: string[] = [];
  const esErrorEvents: string[] = [];
  const esGaveUp = new Promise<number | undefined>((resolve) => {
    es.addEventListener('message', (e: MessageEvent<string>) => esMessages.push(e.data));
    es.addEventListener('error', (e: Event & { data?: unknown; code?: number }) => {
      if (typeof e.data === 'string') esErrorEvents.push(e.data);
      else if (es.readyState === EventSource.CLOSED) resolve(e.code);
    });
  });
  try {
    await raw.until((text) => parseSse(text).filter((b) => b.event === 'message').length === 4);
    const deadline = Date.now() + 10_000;
    while (esMessages.length < 4 && Date.now() < deadline) await delay(20);
    assert.equal(esMessages.length, 4, 'the EventSource read the history too');

    const { admin } = fixtureKafka();
    const deletedAt = Date.now();
    await (await admin).deleteTopics({ topics: [topic] });

    const ended = await within(raw.ended, 35_000, 'the stream ending after the deletion');
    const tookMs = Date.now() - deletedAt;
    const blocks = parseSse(raw.text());
    const errors = blocks.filter((b) => b.event === 'error');
    assert.equal(errors.length, 1, 'one error event');
    const error = JSON.parse(errors[0]!.data!) as { code: string; status: number; topic?: string };
    assert.equal(error.code, 'KSSE_TOPIC_DELETED');
    assert.equal(error.status, 410);
    assert.equal(error.topic, topic);
    assert.equal(blocks.at(-1)?.event, 'error', 'the error event is the last thing sent');
    assert.equal(ended, 'clean', 'then the response ends');

    // The EventSource got the same event, reconnected from its last id, and was refused for good.
    assert.equal(await within(esGaveUp, 10_000, 'the EventSource giving up'), 404);
    assert.deepEqual(esErrorEvents.map((d) => (JSON.parse(d) as { code: string }).code), ['KSSE_TOPIC_DELETED']);
    assert.deepEqual(
      ends.map((e) => e.reason).sort(),
      ['KSSE_TOPIC_DELETED', 'KSSE_TOPIC_DELETED'],
      'both streams ended because of the deletion',
    );

    // A couple of seconds later the topic is still gone: nothing (stream, reconnection, metadata
    // refresh) asked the broker in a way that auto-creates it.
    const watchUntil = Date.now() + 2500;
    do {
      const topics = await (await admin).listTopics();
      assert.ok(!topics.includes(topic), `the deleted topic was recreated (${Date.now() - deletedAt} ms after the deletion)`);
      await delay(250);
    } while (Date.now() < watchUntil);
    t.diagnostic(`the stream ended ${tookMs} ms after the deletion`);
  } finally {
    es.close();
    raw.close();
  }
});
