// What a stream sends: event framing, the default deserializer, skipped and filtered records, NDJSON,
// headers, instrumentation events, connection naming. Real broker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KafkaInstrumentationEvent, Logger } from '../../src/index.js';
import { createTopic, fixtureKafka, produce } from '../helpers/kafka.js';
import { collectEvents, kafkaCoordinates, readRaw, sharedKafka, startServer } from '../helpers/sse.js';
import { until } from '../helpers/wait.js';

const kafka = sharedKafka();
const from0 = (topic: string, partitions = 1) =>
  JSON.stringify(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));

/** A logger that records every call, with the bindings of its children. */
function recordingLogger() {
  const lines: Array<{ level: string; bindings: Record<string, unknown>; obj: unknown; msg?: string }> = [];
  const make = (bindings: Record<string, unknown>): Logger => ({
    child: (more) => make({ ...bindings, ...more }),
    debug: (obj, msg) => lines.push({ level: 'debug', bindings, obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', bindings, obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', bindings, obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', bindings, obj, msg }),
  });
  return { logger: make({}), lines };
}

test('every event is `event: message` with an id over all partitions and the message as JSON data', async () => {
  const topic = await createTopic(2);
  await produce(topic, [
    { partition: 0, value: { text: 'line one\nline two\r\nthree\rfour', emoji: '\u2028ok' }, key: 'k1' },
    { partition: 1, value: { n: 1 } },
  ]);
  const server = await startServer({ kafka });
  const { text } = await readRaw(`${server.url}/x`, {
    headers: { 'Last-Event-ID': from0(topic, 2) },
    until: (t) => (t.match(/event: message\n/g) ?? []).length >= 2,
  });
  const blocks = text.split('\n\n').filter((b) => b.startsWith('event: message'));
  assert.equal(blocks.length, 2);
  for (const block of blocks) {
    const lines = block.split('\n');
    assert.equal(lines[0], 'event: message');
    assert.match(lines[1]!, /^id: \[/);
    assert.match(lines[2]!, /^data: \{/);
    assert.equal(lines.length, 3, 'no raw line breaks inside data');
  }
  // Through the real client, the text with every kind of line break comes back intact.
  const { events } = await collectEvents(`${server.url}/x`, { lastEventId: from0(topic, 2), until: (e) => e.length >= 2 });
  const withText = events.map((e) => JSON.parse(e.data)).find((m) => m.text);
  assert.equal(withText.text, 'line one\nline two\r\nthree\rfour');
  assert.equal(withText.emoji, '\u2028ok');
  const ids = events.map((e) => JSON.parse(e.lastEventId) as Array<{ partition: number; offset: number }>);
  assert.equal(ids.at(-1)!.length, 2);
  assert.deepEqual(ids.at(-1)!.map((p) => p.offset), [1, 1]);
});

test('the default deserializer adds _kafka, and skips bad JSON and tombstones with a warning', async () => {
  const topic = await createTopic(1);
  const ts = Date.now() - 5000;
  await produce(topic, [
    { partition: 0, value: { n: 0 }, key: 'key-0', timestamp: ts },
    { partition: 0, value: Buffer.from('{not json') },
    { partition: 0, value: null, key: 'gone' },
    { partition: 0, value: { n: 3 } },
  ]);
  const { logger, lines } = recordingLogger();
  const server = await startServer({ kafka, logger });
  const { events } = await collectEvents(`${server.url}/x`, { lastEventId: from0(topic), until: (e) => e.length >= 2 });
  assert.deepEqual(JSON.parse(events[0]!.data), { n: 0, _kafka: { topic, partition: 0, offset: 0, timestamp: ts, key: 'key-0' } });
  assert.equal(JSON.parse(events[1]!.data)._kafka.offset, 3);
  assert.equal(JSON.parse(events[1]!.data)._kafka.key, null);
  const warnings = lines.filter((l) => l.level === 'warn' && l.msg?.includes('skipped'));
  assert.deepEqual(warnings.map((w) => (w.obj as { offset: number }).offset), [1, 2]);
});

test('10,000 filtered-out records still count as read: the client resumes after them', async () => {
  const topic = await createTopic(1);
  const records = Array.from({ length: 10_001 }, (_, n) => ({ partition: 0, value: { n, keep: n === 10_000 } }));
  await produce(topic, records.slice(0, 10_000));
  const server = await startServer({ kafka, filterer: (r) => (r.message as { keep: boolean }).keep });
  // Nothing passes the filter, yet the client's last event id moves past all 10,000 records.
  const { text } = await readRaw(`${server.url}/x`, {
    headers: { 'Last-Event-ID': from0(topic) },
    until: (t) => t.includes(`"offset":10000}]`),
  });
  assert.doesNotMatch(text, /event: message/);
  const lastId = [...text.matchAll(/\nid: (.*)\n/g)].at(-1)![1]!;
  assert.deepEqual(JSON.parse(lastId), [{ topic, partition: 0, offset: 10_000 }]);
  // Reconnecting with that id reads only what came after.
  await produce(topic, records.slice(10_000));
  const { events } = await collectEvents(`${server.url}/x`, { lastEventId: lastId, until: (e) => e.length >= 1 });
  assert.deepEqual(kafkaCoordinates(events), [[0, 10_000]]);
});

test('a custom deserializer and filterer see records with topic, partition, offset, timestamp, key, value, headers', async () => {
  const topic = await createTopic(1);
  await produce(topic, [
    { partition: 0, value: { price: 5 }, headers: { source: 'a' } },
    { partition: 0, value: { price: 15 }, headers: { source: 'b' } },
  ]);
  const seen: string[] = [];
  const server = await startServer({
    kafka,
    deserializer: (record) => {
      seen.push(Object.keys(record).sort().join(','));
      return Object.assign(record, {
        message: { ...JSON.parse(record.value!.toString()), source: String(record.headers.source), at: record.offset },
      });
    },
    filterer: (record) => (record.message as { price: number }).price >= 10,
  });
  const { events } = await collectEvents(`${server.url}/x`, { lastEventId: from0(topic), until: (e) => e.length >= 1 });
  assert.deepEqual(JSON.parse(events[0]!.data), { price: 15, source: 'b', at: 1 });
  assert.equal(seen[0], 'headers,key,offset,partition,timestamp,topic,value');
});

test('Accept: application/json streams NDJSON messages without SSE framing', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }, { partition: 0, value: { n: 1 } }]);
  const server = await startServer({ kafka });
  const { status, headers, text } = await readRaw(`${server.url}/x`, {
    headers: { accept: 'application/json', 'Last-Event-ID': from0(topic) },
    until: (t) => t.split('\n').length > 2,
  });
  assert.equal(status, 200);
  assert.match(headers.get('content-type')!, /^application\/json/);
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((m) => m.n), [0, 1]);
  assert.doesNotMatch(text, /^(id|event|data):/m);
});

test('SSE headers and a first comment are flushed before any record exists', async () => {
  const topic = await createTopic(1);
  const server = await startServer({ kafka, retryMs: 1234 });
  const { status, headers, text } = await readRaw(`${server.url}/${topic}`, { until: (t) => t.includes('id: ') });
  assert.equal(status, 200);
  assert.equal(headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.equal(headers.get('cache-control'), 'no-cache');
  assert.equal(headers.get('transfer-encoding'), 'chunked');
  assert.match(text, /^: kafka-sse stream /);
  assert.match(text, /\nretry: 1234\n/);
});

test('kafkaEventHandlers receive consumer events; connections are named after x-request-id; no groups, no commits', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  const admin = await fixtureKafka().admin;
  const groupsBefore = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
  const received: KafkaInstrumentationEvent[] = [];
  const record = (e: KafkaInstrumentationEvent) => received.push(e);
  const { logger, lines } = recordingLogger();
  const server = await startServer({
    kafka,
    logger,
    kafkaEventHandlers: { 'consumer.connect': record, 'consumer.fetch': record, 'consumer.disconnect': record },
  });
  await collectEvents(`${server.url}/x`, {
    lastEventId: from0(topic),
    headers: { 'x-request-id': 'req-42' },
    until: (e) => e.length >= 1,
  });
  await until(() => received.some((e) => e.type === 'consumer.disconnect'), 'the disconnect event');
  const types = new Set(received.map((e) => e.type));
  assert.ok(types.has('consumer.connect') && types.has('consumer.fetch') && types.has('consumer.disconnect'), [...types].join());
  assert.ok(received.every((e) => e.payload.connectionId === 'req-42'));
  assert.ok(lines.some((l) => l.bindings.connectionId === 'req-42' && l.msg === 'stream opened'));
  const groupsAfter = (await admin.listGroups()).groups.map((g) => g.groupId).sort();
  assert.deepEqual(groupsAfter, groupsBefore);
});

test('a per-connection client from kafkaConfig is named KafkaSSE-<connection id> and closed at the end', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  const clientIds: string[] = [];
  const server = await startServer({
    kafkaConfig: {
      brokers: (process.env.KAFKA_SSE_TEST_BROKERS ?? 'localhost:9092').split(','),
      // The client id reaches kafkajs's log creator with every entry: record it.
      logCreator: () => (entry) => {
        clientIds.push(String(entry.log.clientId ?? ''));
      },
      logLevel: 5,
    },
  });
  await collectEvents(`${server.url}/x`, {
    lastEventId: from0(topic),
    headers: { 'x-request-id': 'abc-123' },
    until: (e) => e.length >= 1,
  });
  await until(() => server.finished === 1, 'the handler settling');
  assert.ok(clientIds.includes('KafkaSSE-abc-123'), `client ids seen: ${[...new Set(clientIds)].join()}`);
});


test('the eventsource client itself carries skipped positions across a reconnect (position events)', async () => {
  const topic = await createTopic(1);
  await produce(topic, Array.from({ length: 10_000 }, (_, n) => ({ partition: 0, value: { n } })));
  const server = await startServer({ kafka, retryMs: 20, filterer: () => false });
  const { EventSource } = await import('eventsource');
  const from = from0(topic);
  let first = true;
  const es = new EventSource(`${server.url}/x`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      if (first) headers.set('Last-Event-ID', from);
      first = false;
      return fetch(input, { ...init, headers });
    },
  });
  try {
    // Wait until the client holds the position after all 10,000 filtered records, then cut it off.
    await new Promise<void>((resolve) => {
      es.addEventListener('position', (e: MessageEvent<string>) => {
        if (e.lastEventId.includes('"offset":10000')) resolve();
      });
    });
    server.cutAll();
    await until(() => server.lastEventIds.length >= 2, 'the reconnection');
    assert.deepEqual(JSON.parse(server.lastEventIds[1]!), [{ topic, partition: 0, offset: 10_000 }]);
  } finally {
    es.close();
  }
});
