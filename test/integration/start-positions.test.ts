// Where a stream starts: latest, atTimestamp, assignment offsets and timestamps, Last-Event-ID, and
// offsets outside the log. Real broker, real `eventsource` client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTopic, produce } from '../helpers/kafka.js';
import { collectEvents, kafkaCoordinates, readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const kafka = sharedKafka();
const options = { kafka, retryMs: 50 };

function id(entries: Array<{ topic: string; partition: number; offset?: number | string; timestamp?: number }>) {
  return JSON.stringify(entries);
}

/** Reads the stream's first id-only block: the exact start positions. */
async function startId(url: string, headers: Record<string, string> = {}) {
  const { text } = await readRaw(url, { headers, until: (t) => /\nid: .*\n\n/.test(t) });
  const line = /\nid: (.*)\n/.exec(text)?.[1];
  assert.ok(line, `no id in ${text}`);
  return JSON.parse(line) as Array<{ topic: string; partition: number; offset: number }>;
}

test('a topic name starts at the latest offset of every partition, named exactly in the first id', async () => {
  const topic = await createTopic(2);
  await produce(topic, [
    { partition: 0, value: { old: 0 } },
    { partition: 0, value: { old: 1 } },
    { partition: 1, value: { old: 2 } },
  ]);
  const server = await startServer(options);
  assert.deepEqual(await startId(`${server.url}/${topic}`), [
    { topic, partition: 0, offset: 2 },
    { topic, partition: 1, offset: 1 },
  ]);
  // The stream opens only after its start is resolved: what is produced then must arrive.
  const { events } = await collectEvents(`${server.url}/${topic}`, {
    until: (e) => e.length >= 1,
    onOpen: () => void produce(topic, [{ partition: 1, value: { fresh: true } }]),
  });
  assert.deepEqual(JSON.parse(events[0]!.data).fresh, true);
  assert.deepEqual(JSON.parse(events[0]!.lastEventId), [
    { topic, partition: 0, offset: 2 },
    { topic, partition: 1, offset: 2 },
  ]);
});

test('atTimestamp starts topics at the first record at or after that time', async () => {
  const topic = await createTopic(1);
  const t0 = Date.now() - 100_000;
  await produce(
    topic,
    [0, 1, 2, 3].map((n) => ({ partition: 0, value: { n }, timestamp: t0 + n * 1000 })),
  );
  const server = await startServer(options);
  const { events } = await collectEvents(`${server.url}/${topic}?at=${t0 + 2000}`, { until: (e) => e.length >= 2 });
  assert.deepEqual(events.map((e) => JSON.parse(e.data).n), [2, 3]);
});

test('assignment objects start at offset; else timestamp; else latest; offset wins over timestamp', async () => {
  const topic = await createTopic(3);
  const t0 = Date.now() - 100_000;
  const records = [0, 1, 2].flatMap((p) => [0, 1, 2, 3].map((n) => ({ partition: p, value: { p, n }, timestamp: t0 + n * 1000 })));
  await produce(topic, records);
  const server = await startServer(options, () => [
    { topic, partition: 0, offset: 1, timestamp: t0 + 3000 },
    { topic, partition: 1, timestamp: t0 + 2000 },
    { topic, partition: 2 },
  ]);
  const start = await startId(`${server.url}/ignored`);
  assert.deepEqual(start, [
    { topic, partition: 0, offset: 1 },
    { topic, partition: 1, offset: 2 },
    { topic, partition: 2, offset: 4 },
  ]);
  const { events } = await collectEvents(`${server.url}/ignored`, { until: (e) => e.length >= 5 });
  const byPartition = (p: number) => kafkaCoordinates(events).filter(([pp]) => pp === p).map(([, o]) => o);
  assert.deepEqual(byPartition(0), [1, 2, 3]);
  assert.deepEqual(byPartition(1), [2, 3]);
  assert.deepEqual(byPartition(2), []);
});

test('Last-Event-ID replaces the assignments entirely, and accepts digit strings for offsets', async () => {
  const topic = await createTopic(2);
  const other = await createTopic(1);
  await produce(topic, [0, 1, 2].map((n) => ({ partition: 1, value: { n } })));
  await produce(other, [{ partition: 0, value: { other: true } }]);
  const server = await startServer(options);
  const { events } = await collectEvents(`${server.url}/${other}`, {
    lastEventId: id([{ topic, partition: 1, offset: '1' }]),
    until: (e) => e.length >= 2,
  });
  assert.deepEqual(kafkaCoordinates(events), [
    [1, 1],
    [1, 2],
  ]);
  // Only the partition named in Last-Event-ID is tracked: the URL's topic is not read at all.
  assert.deepEqual(JSON.parse(events[1]!.lastEventId), [{ topic, partition: 1, offset: 3 }]);
});

test('a timestamp after the last record starts at the end of the partition', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }, { partition: 0, value: { n: 1 } }]);
  const server = await startServer(options);
  const start = await startId(`${server.url}/x`, {
    'Last-Event-ID': id([{ topic, partition: 0, timestamp: Date.now() + 3_600_000 }]),
  });
  assert.deepEqual(start, [{ topic, partition: 0, offset: 2 }]);
});

test('an offset outside the partition resets to the latest offset', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  const server = await startServer(options);
  const start = await startId(`${server.url}/x`, { 'Last-Event-ID': id([{ topic, partition: 0, offset: 999 }]) });
  assert.deepEqual(start, [{ topic, partition: 0, offset: 1 }]);
});

test('a client that reconnects before any record arrives loses nothing', async () => {
  const topic = await createTopic(1);
  const server = await startServer(options);
  const first = await startId(`${server.url}/${topic}`);
  // Records arrive while the client is away; it comes back with the id of the start block.
  await produce(topic, [{ partition: 0, value: { n: 'while-away' } }]);
  const { events } = await collectEvents(`${server.url}/${topic}`, {
    lastEventId: JSON.stringify(first),
    until: (e) => e.length >= 1,
  });
  assert.equal(JSON.parse(events[0]!.data).n, 'while-away');
});

test('useTimestampForId puts the last delivered timestamp + 1 in ids, and timestamp ids resume', async () => {
  const topic = await createTopic(1);
  const t0 = Date.now() - 50_000;
  await produce(topic, [0, 1, 2].map((n) => ({ partition: 0, value: { n }, timestamp: t0 + n * 1000 })));
  const server = await startServer({ ...options, useTimestampForId: true });
  const { events } = await collectEvents(`${server.url}/x`, {
    lastEventId: id([{ topic, partition: 0, offset: 0 }]),
    until: (e) => e.length >= 2,
  });
  assert.deepEqual(JSON.parse(events[1]!.lastEventId), [{ topic, partition: 0, timestamp: t0 + 1001 }]);
  // Resuming from that timestamp id continues with the next record.
  const resumed = await collectEvents(`${server.url}/x`, { lastEventId: events[1]!.lastEventId, until: (e) => e.length >= 1 });
  assert.equal(JSON.parse(resumed.events[0]!.data).n, 2);
});

test('?lastEventId= stands in for the header (browsers cannot set it on a new EventSource); the header wins', async () => {
  const topic = await createTopic(1);
  await produce(topic, [0, 1, 2].map((n) => ({ partition: 0, value: { n } })));
  const server = await startServer(options, (req) => new URL(req.url ?? '/', 'http://x').pathname.slice(1));
  const fromQuery = encodeURIComponent(id([{ topic, partition: 0, offset: 2 }]));
  const { events } = await collectEvents(`${server.url}/${topic}?lastEventId=${fromQuery}`, { until: (e) => e.length >= 1 });
  assert.deepEqual(kafkaCoordinates(events), [[0, 2]]);
  const both = await startId(`${server.url}/${topic}?lastEventId=${fromQuery}`, { 'Last-Event-ID': id([{ topic, partition: 0, offset: 1 }]) });
  assert.deepEqual(both, [{ topic, partition: 0, offset: 1 }]);
});
