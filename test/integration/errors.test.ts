// Errors before the stream (HTTP status + JSON) and after it (one SSE `error` event), topics that must
// never be created, and prompt clean-up when the client leaves. Real broker.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { KafkaSseError } from '../../src/index.js';
import { createTopic, fixtureKafka, produce } from '../helpers/kafka.js';
import { readRaw, sharedKafka, startServer } from '../helpers/sse.js';

const kafka = sharedKafka();

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, type: res.headers.get('content-type') };
}

test('a topic that does not exist is 404 and is never created, even with auto.create.topics.enable', async () => {
  const server = await startServer({ kafka });
  const name = `never-created-${Date.now()}`;
  const { status, body, type } = await getJson(`${server.url}/${name}`);
  assert.equal(status, 404);
  assert.match(type!, /application\/json/);
  assert.equal(body.code, 'KSSE_TOPIC_NOT_FOUND');
  assert.equal(body.stack, undefined);
  // Also when named only in Last-Event-ID.
  const viaHeader = await getJson(`${server.url}/x`, {
    'Last-Event-ID': JSON.stringify([{ topic: name, partition: 0, offset: 0 }]),
  });
  assert.equal(viaHeader.status, 404);
  const admin = await fixtureKafka().admin;
  assert.ok(!(await admin.listTopics()).includes(name), 'the topic was created');
});

test('allowedTopics: a topic not allowed is 404; when no allowed topic exists, 500', async () => {
  const allowed = await createTopic(1);
  const other = await createTopic(1);
  const server = await startServer({ kafka, allowedTopics: [allowed] });
  const refused = await getJson(`${server.url}/${other}`);
  assert.equal(refused.status, 404);
  assert.equal(refused.body.code, 'KSSE_TOPIC_NOT_ALLOWED');
  const refusedByHeader = await getJson(`${server.url}/${allowed}`, {
    'Last-Event-ID': JSON.stringify([{ topic: other, partition: 0, offset: 0 }]),
  });
  assert.equal(refusedByHeader.status, 404);

  const ghost = `ghost-${Date.now()}`;
  const misconfigured = await startServer({ kafka, allowedTopics: [ghost] });
  const none = await getJson(`${misconfigured.url}/${ghost}`);
  assert.equal(none.status, 500);
  assert.equal(none.body.code, 'KSSE_NO_TOPICS_AVAILABLE');
});

test('malformed assignments, bad Last-Event-ID and missing partitions are 400', async () => {
  const topic = await createTopic(2);
  const server = await startServer({ kafka });
  const cases: Array<[string, Record<string, string>, string]> = [
    [`/${topic},,x`, {}, 'KSSE_INVALID_TOPIC_NAME'],
    ['/bad%20name', {}, 'KSSE_INVALID_TOPIC_NAME'],
    ['/x', { 'Last-Event-ID': 'not json' }, 'KSSE_INVALID_ASSIGNMENT'],
    ['/x', { 'Last-Event-ID': '{}' }, 'KSSE_INVALID_ASSIGNMENT'],
    ['/x', { 'Last-Event-ID': JSON.stringify([{ topic, partition: 0, offset: -1 }]) }, 'KSSE_INVALID_ASSIGNMENT'],
    ['/x', { 'Last-Event-ID': JSON.stringify([{ topic, partition: 0, offset: 1.5 }]) }, 'KSSE_INVALID_ASSIGNMENT'],
    ['/x', { 'Last-Event-ID': JSON.stringify([{ topic, partition: 2, offset: 0 }]) }, 'KSSE_PARTITION_NOT_FOUND'],
  ];
  for (const [path, headers, code] of cases) {
    const { status, body } = await getJson(`${server.url}${path}`, headers);
    assert.equal(status, 400, `${path} ${JSON.stringify(headers)}`);
    assert.equal(body.code, code, `${path} ${JSON.stringify(headers)}`);
    assert.equal(typeof body.message, 'string');
    assert.equal(body.name !== undefined, true);
  }
});

test('connectErrorHandler can answer errors its own way', async () => {
  const seen: KafkaSseError[] = [];
  const server = await startServer({
    kafka,
    connectErrorHandler: (error, _req, res) => {
      seen.push(error);
      res.writeHead(418, { 'content-type': 'text/plain' }).end(`no: ${error.code}`);
    },
  });
  const res = await fetch(`${server.url}/missing-${Date.now()}`);
  assert.equal(res.status, 418);
  assert.equal(await res.text(), 'no: KSSE_TOPIC_NOT_FOUND');
  assert.equal(seen[0]?.status, 404);
});

test('a stage that throws after the stream started ends it with one SSE error event', async () => {
  const topic = await createTopic(1);
  await produce(topic, [{ partition: 0, value: { n: 0 } }, { partition: 0, value: { n: 1 } }]);
  const server = await startServer({
    kafka,
    filterer: (r) => {
      if ((r.message as { n: number }).n === 1) throw new Error('filter exploded');
      return true;
    },
  });
  // Read to the end of the response: it must end by itself right after the error event.
  const { text, ended } = await readRaw(`${server.url}/x`, {
    headers: { 'Last-Event-ID': JSON.stringify([{ topic, partition: 0, offset: 0 }]) },
    until: () => false,
    timeoutMs: 10_000,
  });
  assert.ok(ended, 'the stream did not end after the error');
  // Nothing from the failing batch on is sent; the error event is the last thing on the stream.
  assert.doesNotMatch(text, /"n":1/);
  const errorBlock = text.slice(text.indexOf('event: error'));
  assert.match(errorBlock, /^event: error\ndata: .*\n\n$/);
  const data = JSON.parse(/data: (.*)\n/.exec(errorBlock)![1]!);
  assert.equal(data.code, 'KSSE_STAGE_ERROR');
  assert.match(data.message, /filter exploded/);
  assert.equal(data.stack, undefined);
});

test('when the client disconnects the handler settles promptly and the per-connection client closes', async () => {
  const topic = await createTopic(1);
  const ended: string[] = [];
  const server = await startServer({
    kafkaConfig: { brokers: (process.env.KAFKA_SSE_TEST_BROKERS ?? 'localhost:9092').split(',') },
    onStreamEnd: (s) => ended.push(s.reason),
  });
  await new Promise<void>((resolve, reject) => {
    const req = request(`${server.url}/${topic}`, (res) => {
      res.once('data', () => {
        // Connected and streaming (waiting on Kafka): vanish.
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.setTimeout(5000, () => reject(new Error('no data')));
    req.end();
  });
  const start = Date.now();
  while (server.finished < 1 && Date.now() - start < 2000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.finished, 1, 'kafkaSse did not settle within 2 s of the disconnect');
  assert.deepEqual(ended, ['client disconnected']);
});

test("Kafka's internal topics (names starting with __) are refused unless allowedTopics names them", async () => {
  // A topic of our own with the internal prefix: __consumer_offsets exists only once a group has been used.
  const internal = await createTopic(1, '__ksse-internal');
  const server = await startServer({ kafka });
  const viaHeader = { 'Last-Event-ID': JSON.stringify([{ topic: internal, partition: 0, offset: 0 }]) };
  for (const headers of [{}, viaHeader] as Array<Record<string, string>>) {
    const { status, body } = await getJson(`${server.url}/${internal}`, headers);
    assert.equal(status, 404);
    assert.equal(body.code, 'KSSE_TOPIC_NOT_ALLOWED');
  }
  const allowed = await startServer({ kafka, allowedTopics: [internal] });
  const res = await readRaw(`${allowed.url}/${internal}`, { until: (t) => t.includes('id: ') });
  assert.equal(res.status, 200);
});
