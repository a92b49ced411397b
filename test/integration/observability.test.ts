// What an operator sees: pino lines for every stream's open and close (with who, what, how long, how
// much and why it ended), warnings for skipped records, Prometheus metrics at /metrics — and the
// library's hooks, so users of `kafkaSse` can wire their own.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { kafkaSseResponse, type KafkaInstrumentationEvent, type KafkaSseError, type StreamSummary } from '../../src/index.js';
import { createKafkaSseServer, type KafkaSseServerOptions } from '../../src/server/server.js';
import { createTopics, messageOffsets, openStream, parseSse } from '../e2e/helpers/cliProcess.js';
import { fixtureKafka, produce, testBrokers } from '../helpers/kafka.js';
import { sharedKafka, startServer as startLibraryServer } from '../helpers/sse.js';
import { until } from '../helpers/wait.js';

const [topic, skipTopic, deleteMe] = (await createTopics([
  { prefix: 'obs', partitions: 2 },
  { prefix: 'obs-skip', partitions: 1 },
  { prefix: 'obs-delete', partitions: 1 },
])) as [string, string, string];
await produce(topic, [
  { partition: 0, value: { n: 0 } },
  { partition: 1, value: { n: 1 } },
  { partition: 0, value: { n: 2 } },
]);
const FROM_START = JSON.stringify([0, 1].map((partition) => ({ topic, partition, offset: 0 })));

type LogLine = { level: number; msg: string } & Record<string, unknown>;

async function startServer(options: KafkaSseServerOptions = {}) {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', metricsPort: 0, logger, shutdownGraceMs: 500, ...options });
  const { port, metricsUrl } = await server.listen();
  after(() => server.close());
  return { server, port, url: `http://127.0.0.1:${port}`, metricsUrl: metricsUrl!, logs };
}


/** Every sample of a Prometheus text exposition, by series (name plus labels). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** The metrics listener's exposition (`metricsPort`: never the public port). */
async function scrape(metricsUrl: string): Promise<Map<string, number>> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return samples(await res.text());
}

/** `after - before` for one series (absent counts as 0). */
const delta = (before: Map<string, number>, after: Map<string, number>, series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);

test('one log line when a stream opens and one when it closes: connection id, topics, client address, duration, events, bytes, reason', async () => {
  const app = await startServer();
  const stream = await openStream(`${app.url}/v1/stream/${topic}`, { 'Last-Event-ID': FROM_START, 'X-Request-Id': 'obs-req-1' });
  const text = await stream.until((t) => messageOffsets(t).length >= 3);
  await new Promise((resolve) => setTimeout(resolve, 300)); // time for the duration to be visibly non-zero
  stream.close();
  await until(() => app.logs.some((l) => l.msg === 'stream closed'), 'the close line');

  const opened = app.logs.filter((l) => l.msg === 'stream opened');
  const closed = app.logs.filter((l) => l.msg === 'stream closed');
  assert.equal(opened.length, 1);
  assert.equal(closed.length, 1);
  const [o, c] = [opened[0]!, closed[0]!];
  assert.equal(o.level, 30);
  assert.equal(c.level, 30);
  // The connection id is the request's X-Request-Id when it has a sane one, and is the stream's first comment.
  assert.equal(o.connectionId, 'obs-req-1');
  assert.equal(c.connectionId, 'obs-req-1');
  assert.match(text, /^: kafka-sse stream obs-req-1\n/);
  assert.deepEqual(o.topics, [topic]);
  assert.deepEqual(c.topics, [topic]);
  assert.equal(o.clientAddress, '127.0.0.1');
  assert.equal(c.clientAddress, '127.0.0.1');
  assert.equal(typeof c.durationMs, 'number');
  assert.ok((c.durationMs as number) >= 300 && (c.durationMs as number) < 10_000, `durationMs ${String(c.durationMs)}`);
  assert.equal(c.events, 3);
  const eventBytes = parseSse(text)
    .filter((b) => b.event === 'message')
    .reduce((n, b) => n + Buffer.byteLength(`event: message\nid: ${b.id}\ndata: ${b.data}\n\n`), 0);
  assert.ok((c.bytes as number) >= eventBytes && (c.bytes as number) <= Buffer.byteLength(text), `bytes ${String(c.bytes)}: events ${eventBytes}, body ${Buffer.byteLength(text)}`);
  assert.equal(c.reason, 'client disconnected');
  // Exactly one line each: nothing else mentions the stream at info or above.
  assert.equal(app.logs.filter((l) => l.connectionId === 'obs-req-1').length, 2);
});

test('the close line says why the stream ended: lifetime reached, server closing, or an error code', async () => {
  const lifetime = await startServer({ maxLifetimeSeconds: 0.5, heartbeatSeconds: 0 });
  const short = await openStream(`${lifetime.url}/v1/stream/${topic}`);
  assert.equal(await short.ended, 'clean');
  await until(() => lifetime.logs.some((l) => l.msg === 'stream closed'), 'the close line');
  assert.equal(lifetime.logs.find((l) => l.msg === 'stream closed')!.reason, 'lifetime reached');

  const closing = await startServer();
  const open = await openStream(`${closing.url}/v1/stream/${topic}`);
  await open.until((t) => t.includes('id: '));
  await closing.server.close();
  assert.equal(await open.ended, 'clean');
  assert.equal(closing.logs.find((l) => l.msg === 'stream closed')?.reason, 'server closing');

  // A topic deleted under a stream: one SSE error event, and its code as the reason.
  const deleting = await startServer();
  const doomed = await openStream(`${deleting.url}/v1/stream/${deleteMe}`);
  await doomed.until((t) => t.includes('id: '));
  await (await fixtureKafka().admin).deleteTopics({ topics: [deleteMe] });
  await doomed.until((t) => t.includes('event: error'), 40_000);
  await until(() => deleting.logs.some((l) => l.msg === 'stream closed'), 'the close line', 10_000);
  const line = deleting.logs.find((l) => l.msg === 'stream closed')!;
  assert.equal(line.reason, 'KSSE_TOPIC_DELETED');
  const metrics = samples(await deleting.server.metrics.metrics());
  assert.equal(metrics.get('kafka_sse_streams_closed_total{reason="KSSE_TOPIC_DELETED"}'), 1);
  assert.equal(metrics.get('kafka_sse_errors_total{code="KSSE_TOPIC_DELETED"}'), 1);
});

test('a record that does not deserialize is skipped with a warning naming it; the stream goes on', async () => {
  const app = await startServer();
  await produce(skipTopic, [
    { partition: 0, value: { ok: 1 } },
    { partition: 0, value: Buffer.from('not json {') },
    { partition: 0, value: [1, 2, 3] },
    { partition: 0, value: { ok: 2 } },
  ]);
  const stream = await openStream(`${app.url}/v1/stream/${skipTopic}`, { 'Last-Event-ID': JSON.stringify([{ topic: skipTopic, partition: 0, offset: 0 }]) });
  const text = await stream.until((t) => messageOffsets(t).length >= 2);
  stream.close();
  assert.deepEqual(messageOffsets(text), ['0:0', '0:3']);
  const warnings = app.logs.filter((l) => l.level === 40);
  assert.deepEqual(
    warnings.map((w) => [w.topic, w.partition, w.offset]),
    [
      [skipTopic, 0, 1],
      [skipTopic, 0, 2],
    ],
  );
  for (const w of warnings) {
    assert.match(w.msg, /skipped/);
    assert.equal(typeof w.reason, 'string');
    assert.equal(typeof w.connectionId, 'string', 'the warning names its stream');
  }
  await until(() => app.logs.some((l) => l.msg === 'stream closed'), 'the close line');
  assert.equal(app.logs.find((l) => l.msg === 'stream closed')!.events, 2, 'skipped records are not counted as events');
});

test('/metrics: active streams, streams opened and closed by reason, events and bytes, errors by code, fetch latency', async () => {
  const app = await startServer();
  const before = await scrape(app.metricsUrl);
  for (const name of ['kafka_sse_active_streams', 'kafka_sse_streams_opened_total', 'kafka_sse_events_sent_total', 'kafka_sse_bytes_sent_total', 'kafka_sse_fetch_duration_seconds_count']) {
    assert.ok(before.has(name), `${name} is exposed from the start`);
  }

  const stream = await openStream(`${app.url}/v1/stream/${topic}`, { 'Last-Event-ID': FROM_START });
  await stream.until((t) => messageOffsets(t).length >= 3);
  const during = await scrape(app.metricsUrl);
  assert.equal(delta(before, during, 'kafka_sse_active_streams'), 1);
  assert.equal(delta(before, during, 'kafka_sse_streams_opened_total'), 1);
  assert.equal(delta(before, during, 'kafka_sse_events_sent_total'), 3, 'events are counted as they pass');
  // A caught-up stream long-polls Kafka (up to 500 ms a round): let one round complete.
  await until(async () => (await scrape(app.metricsUrl)).get('kafka_sse_fetch_duration_seconds_bucket{le="1"}')! >= 2, 'two fetches observed');
  stream.close();
  await until(async () => (await scrape(app.metricsUrl)).get('kafka_sse_active_streams') === 0, 'the stream closed');

  const refusals: Array<[string, RequestInit, string]> = [
    [`/v1/stream/${topic}`, { headers: { 'Last-Event-ID': 'nope' } }, 'KSSE_INVALID_ASSIGNMENT'],
    [`/v1/stream/ghost-${Date.now()}`, {}, 'KSSE_TOPIC_NOT_FOUND'],
    ['/v1/stream/__consumer_offsets', {}, 'KSSE_TOPIC_NOT_ALLOWED'],
    [`/v1/stream/${topic}?since=later`, {}, 'KSSE_INVALID_TIMESTAMP'],
    [`/v1/stream/${topic}`, { method: 'DELETE' }, 'KSSE_METHOD_NOT_ALLOWED'],
    ['/nowhere', {}, 'KSSE_NOT_FOUND'],
  ];
  for (const [path, init] of refusals) await (await fetch(`${app.url}${path}`, init)).body?.cancel();
  const done = await scrape(app.metricsUrl);

  assert.equal(delta(before, done, 'kafka_sse_streams_opened_total'), 1);
  assert.equal(delta(before, done, 'kafka_sse_streams_closed_total{reason="client disconnected"}'), 1);
  assert.equal(delta(before, done, 'kafka_sse_active_streams'), 0);
  assert.equal(delta(before, done, 'kafka_sse_events_sent_total'), 3);
  const closeLine = app.logs.find((l) => l.msg === 'stream closed')!;
  assert.equal(delta(before, done, 'kafka_sse_bytes_sent_total'), closeLine.bytes, 'the metric and the log agree on bytes');
  for (const [, , code] of refusals) assert.equal(delta(before, done, `kafka_sse_errors_total{code="${code}"}`), 1, code);
  const fetches = delta(before, done, 'kafka_sse_fetch_duration_seconds_count');
  assert.ok(fetches >= 2, `${fetches} fetches observed`);
  assert.ok(delta(before, done, 'kafka_sse_fetch_duration_seconds_sum') > 0);
  assert.equal(done.get('kafka_sse_fetch_duration_seconds_bucket{le="+Inf"}'), done.get('kafka_sse_fetch_duration_seconds_count'));
  // Process metrics for leak and memory watching (the soak reads these).
  assert.ok((done.get('kafka_sse_process_resident_memory_bytes') ?? 0) > 0);
  assert.ok([...done.keys()].some((k) => k.startsWith('kafka_sse_nodejs_active_resources{type=')));
});

test('/metrics counts refusals the HTTP parser answers (431, 408, CONNECT) too', async () => {
  const app = await startServer({ headersTimeoutMs: 300 });
  const before = await scrape(app.metricsUrl);
  const big = await new Promise<number>((resolve, reject) => {
    const req = request(`${app.url}/healthz`, { headers: { 'x-big': 'y'.repeat(40_000) }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(big, 431);
  /** Writes `text` on a raw socket and resolves with the status the server answers. */
  const raw = (text: string) =>
    new Promise<number>((resolve, reject) => {
      const socket = connect(app.port, '127.0.0.1', () => socket.write(text));
      let answer = '';
      const timer = setTimeout(() => reject(new Error(`no answer: ${answer}`)), 5000);
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Number(answer.split(' ')[1]));
      });
    });
  assert.equal(await raw('CONNECT 127.0.0.1:9092 HTTP/1.1\r\nHost: 127.0.0.1:9092\r\n\r\n'), 405);
  assert.equal(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\n'), 408); // headers never finished
  const done = await scrape(app.metricsUrl);
  assert.equal(delta(before, done, 'kafka_sse_errors_total{code="KSSE_HEADER_TOO_LARGE"}'), 1);
  assert.equal(delta(before, done, 'kafka_sse_errors_total{code="KSSE_METHOD_NOT_ALLOWED"}'), 1);
  assert.equal(delta(before, done, 'kafka_sse_errors_total{code="KSSE_REQUEST_TIMEOUT"}'), 1);
});

test('library hooks: onStreamEnd, onRequestError and kafkaEventHandlers let users wire their own logs and metrics', async () => {
  const kafka = sharedKafka();
  const summaries: StreamSummary[] = [];
  const refused: Array<{ error: KafkaSseError; lastEventId: unknown }> = [];
  const events: KafkaInstrumentationEvent[] = [];
  const record = (event: KafkaInstrumentationEvent) => void events.push(event);
  const server = await startLibraryServer({
    kafka,
    onStreamEnd: (summary) => void summaries.push(summary),
    onRequestError: (error, req) => void refused.push({ error, lastEventId: req.headers['last-event-id'] }),
    kafkaEventHandlers: { 'consumer.connect': record, 'consumer.fetch': record, 'consumer.disconnect': record },
  });
  const bad = await fetch(`${server.url}/${topic}`, { headers: { 'Last-Event-ID': '[]' } });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  assert.equal(refused.length, 1);
  assert.equal(refused[0]!.error.code, 'KSSE_INVALID_ASSIGNMENT');
  assert.equal(refused[0]!.error.status, 400);
  assert.equal(refused[0]!.lastEventId, '[]', 'the hook sees the request');

  const stream = await openStream(`${server.url}/${topic}`, { 'Last-Event-ID': FROM_START });
  await stream.until((t) => messageOffsets(t).length >= 3);
  stream.close();
  await until(() => summaries.length === 1, 'onStreamEnd');
  const [summary] = summaries as [StreamSummary];
  assert.deepEqual(summary.topics, [topic]);
  assert.equal(summary.events, 3);
  assert.equal(summary.reason, 'client disconnected');
  assert.equal(summary.clientAddress, '127.0.0.1');
  assert.ok(summary.bytes > 0 && summary.durationMs >= 0);
  const ofStream = events.filter((e) => e.payload.connectionId === summary.connectionId);
  assert.deepEqual([...new Set(ofStream.map((e) => e.type))].sort(), ['consumer.connect', 'consumer.disconnect', 'consumer.fetch']);
  const connect = ofStream.find((e) => e.type === 'consumer.connect')!;
  assert.deepEqual(connect.payload.positions, [0, 1].map((partition) => ({ topic, partition, offset: 0 })));
  for (const fetchEvent of ofStream.filter((e) => e.type === 'consumer.fetch')) assert.equal(typeof fetchEvent.payload.duration, 'number');
  assert.equal(ofStream.at(-1)!.type, 'consumer.disconnect');
  assert.equal(ofStream.at(-1)!.payload.reason, 'client disconnected');
  // Events are numbered per stream and timestamped.
  assert.deepEqual(ofStream.map((e) => e.id), ofStream.map((_, i) => i + 1));
  assert.ok(ofStream.every((e) => typeof e.timestamp === 'number'));
});

test(
  'kafkaSseResponse (fetch-style frameworks) fires the same hooks and log lines as kafkaSse',
  async () => {
    const kafka = sharedKafka();
    const summaries: StreamSummary[] = [];
    const refused: KafkaSseError[] = [];
    const logs: LogLine[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
    const options = { kafka, logger, onStreamEnd: (s: StreamSummary) => void summaries.push(s), onRequestError: (e: KafkaSseError) => void refused.push(e) };
    const bad = await kafkaSseResponse(new Request('http://127.0.0.1/', { headers: { 'last-event-id': '[]' } }), topic, options);
    assert.equal(bad.status, 400);
    assert.equal(refused.length, 1, 'onRequestError for a refusal');
    const abort = new AbortController();
    const res = await kafkaSseResponse(new Request('http://127.0.0.1/', { headers: { 'last-event-id': FROM_START }, signal: abort.signal }), topic, options);
    const reader = res.body!.getReader();
    let text = '';
    while (messageOffsets(text).length < 3) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    await reader.cancel().catch(() => {});
    await until(() => summaries.length === 1, 'onStreamEnd', 3000);
    assert.equal(summaries[0]!.events, 3);
    assert.equal(summaries[0]!.reason, 'client disconnected');
    assert.deepEqual(logs.filter((l) => l.msg === 'stream opened' || l.msg === 'stream closed').map((l) => l.msg), ['stream opened', 'stream closed']);
  },
);

test(
  'a client that leaves while its stream is being set up is closed as "client disconnected", not "ended"',
  async () => {
    const app = await startServer({ heartbeatSeconds: 0 });
    await (await fetch(`${app.url}/v1/stream/${topic}`, { method: 'HEAD' })).body?.cancel();
    for (let i = 0; i < 5; i++) {
      const socket = connect(app.port, '127.0.0.1', () => {
        socket.write(`GET /v1/stream/${topic} HTTP/1.1\r\nHost: x\r\n\r\n`);
        setTimeout(() => socket.destroy(), 2); // gone before Kafka has answered
      });
      socket.on('error', () => {});
    }
    const count = (msg: string) => app.logs.filter((l) => l.msg === msg).length;
    await until(() => count('stream closed') >= 1 && count('stream closed') === count('stream opened') && app.server.openStreams === 0, 'the streams closing');
    const reasons = app.logs.filter((l) => l.msg === 'stream closed').map((l) => l.reason);
    assert.deepEqual(reasons.filter((r) => r !== 'client disconnected'), [], `reasons: ${reasons.join(', ')}`);
  },
);
