// The `kafka-sse serve` CLI server: every route and flag, with real requests against child processes on
// the real broker.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { EventSource } from 'eventsource';
import { produce } from '../helpers/kafka.js';
import { BIN, createTopics, messageOffsets, openStream, parseSse, runCli, startCli } from '../e2e/helpers/cliProcess.js';

const [topicA, topicB, topicTime, topicOther] = await createTopics([
  { prefix: 'srv-a', partitions: 2 },
  { prefix: 'srv-b', partitions: 1 },
  { prefix: 'srv-time', partitions: 2 },
  { prefix: 'srv-other', partitions: 1 },
]) as [string, string, string, string];
const ORIGIN = 'https://app.example';

// Started in parallel: each is a separate process with its own flags.
const [main, limited, perClient, lifetime, down, open] = await Promise.all([
  startCli(['--allowed-topics', `${topicA},${topicB},${topicTime},never-created-${Date.now()}`, '--cors-origin', ORIGIN, '--heartbeat', '1', '--demo']),
  startCli(['--max-connections', '1']),
  startCli(['--max-connections-per-client', '1']),
  startCli(['--max-lifetime', '1', '--timestamp-ids'], { HEARTBEAT_SECONDS: '0' }),
  startCli(['--brokers', '127.0.0.1:1']),
  startCli(['--metrics-port', '0']),
]);

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

function assertError(body: Record<string, unknown>, code: string, status: number): void {
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.name, 'string');
  assert.equal(typeof body.message, 'string');
  assert.equal(body.stack, undefined);
}

test('GET /v1/stream/:topic streams records produced after it opened, with resumable ids', async () => {
  const stream = await openStream(`${main.url}/v1/stream/${topicA}`);
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  await stream.until((t) => t.includes('retry:') && t.includes('id: '));
  await produce(topicA, [
    { partition: 0, value: { n: 1 } },
    { partition: 1, value: { n: 2 } },
  ]);
  const text = await stream.until((t) => messageOffsets(t).length >= 2);
  stream.close();
  assert.deepEqual(messageOffsets(text).sort(), ['0:0', '1:0']);
  const last = parseSse(text).filter((b) => b.event === 'message').at(-1)!;
  const id = JSON.parse(last.id!) as Array<{ topic: string; partition: number; offset: number }>;
  assert.deepEqual(id.map((p) => [p.topic, p.partition, p.offset]).sort(), [
    [topicA, 0, 1],
    [topicA, 1, 1],
  ]);
});

test('GET /v1/stream/a,b streams several topics; Last-Event-ID resumes exactly where it says', async () => {
  await produce(topicB, [{ partition: 0, value: { b: 0 } }, { partition: 0, value: { b: 1 } }, { partition: 0, value: { b: 2 } }]);
  const lastEventId = JSON.stringify([{ topic: topicB, partition: 0, offset: 1 }]);
  const stream = await openStream(`${main.url}/v1/stream/${topicB}`, { 'Last-Event-ID': lastEventId });
  const text = await stream.until((t) => messageOffsets(t).length >= 2);
  stream.close();
  assert.deepEqual(messageOffsets(text), ['0:1', '0:2']);

  const both = await openStream(`${main.url}/v1/stream/${topicA},${topicB}`);
  await both.until((t) => t.includes('id: '));
  await produce(topicB, [{ partition: 0, value: { b: 3 } }]);
  await produce(topicA, [{ partition: 1, value: { a: 'x' } }]);
  const mixed = await both.until((t) => messageOffsets(t).length >= 2);
  both.close();
  const topics = parseSse(mixed)
    .filter((b) => b.event === 'message')
    .map((b) => (JSON.parse(b.data!) as { _kafka: { topic: string } })._kafka.topic);
  assert.deepEqual(topics.sort(), [topicA, topicB].sort());
});

test('the eventsource client reconnects through the server with Last-Event-ID after a drop (demo route)', async () => {
  const clientId = `test-${Date.now()}`;
  const received: string[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const receivedAtLeast = (count: number) =>
    within(new Promise<void>((resolve) => (received.length >= count ? resolve() : waiters.push({ count, resolve }))), 10_000);
  let opens = 0;
  const es = new EventSource(`${main.url}/v1/stream/${topicB}?client=${clientId}`);
  try {
    const opened = () => within(new Promise<void>((resolve) => es.addEventListener('open', () => resolve(), { once: true })), 10_000);
    es.addEventListener('open', () => opens++);
    es.addEventListener('message', (e: MessageEvent<string>) => {
      const { _kafka } = JSON.parse(e.data) as { _kafka: { offset: number } };
      received.push(String(_kafka.offset));
      for (const w of waiters) if (received.length >= w.count) w.resolve();
    });
    await opened();
    await produce(topicB, [{ partition: 0, value: { n: 'before' } }]);
    await receivedAtLeast(1);
    const reopened = opened();
    const drop = await fetch(`${main.url}/demo/drop?client=${clientId}`, { method: 'POST' });
    assert.deepEqual(await json(drop), { dropped: 1 });
    await produce(topicB, [{ partition: 0, value: { n: 'while away' } }]);
    await reopened;
    await produce(topicB, [{ partition: 0, value: { n: 'after' } }]);
    await receivedAtLeast(3);
  } finally {
    es.close();
  }
  assert.equal(opens, 2);
  const offsets = received.map(Number);
  assert.deepEqual(offsets, [offsets[0]!, offsets[0]! + 1, offsets[0]! + 2], 'every record exactly once across the drop');
  const resumed = main.logs.filter((l) => l.msg === 'stream opened').length;
  assert.ok(resumed >= 2);
});

test('?since= (ms epoch or ISO-8601) starts at that time; unknown query parameters are ignored', async () => {
  const t0 = Date.now() - 60_000;
  await produce(topicTime, [
    { partition: 0, value: { i: 0 }, timestamp: t0 },
    { partition: 1, value: { i: 1 }, timestamp: t0 + 10_000 },
    { partition: 0, value: { i: 2 }, timestamp: t0 + 20_000 },
    { partition: 1, value: { i: 3 }, timestamp: t0 + 30_000 },
  ]);
  for (const since of [String(t0 + 10_000), new Date(t0 + 10_000).toISOString()]) {
    const stream = await openStream(`${main.url}/v1/stream/${topicTime}?utm_source=x&since=${encodeURIComponent(since)}&foo=`);
    assert.equal(stream.status, 200);
    const text = await stream.until((t) => messageOffsets(t).length >= 3);
    stream.close();
    const values = parseSse(text)
      .filter((b) => b.event === 'message')
      .map((b) => (JSON.parse(b.data!) as { i: number }).i);
    assert.deepEqual(values.sort(), [1, 2, 3], `since=${since}`);
  }
});

test('?since= that is not a date is a 400 KSSE_INVALID_TIMESTAMP', async () => {
  const res = await fetch(`${main.url}/v1/stream/${topicA}?since=yesterday`);
  assert.equal(res.status, 400);
  assertError(await json(res), 'KSSE_INVALID_TIMESTAMP', 400);
});

test('Accept: application/json streams NDJSON', async () => {
  const stream = await openStream(`${main.url}/v1/stream/${topicA}`, { accept: 'application/json' });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^application\/json/);
  // NDJSON has no preamble to wait for; the stream has resolved its start once the headers arrived.
  await produce(topicA, [{ partition: 0, value: { nd: 1 } }]);
  const text = await stream.until((t) => t.includes('\n'));
  stream.close();
  const first = JSON.parse(text.split('\n')[0]!) as { nd: number; _kafka: { topic: string } };
  assert.equal(first.nd, 1);
  assert.equal(first._kafka.topic, topicA);
});

test('topics that are not allowed or do not exist are 404, and the topic is not created', async () => {
  const notAllowed = await fetch(`${main.url}/v1/stream/${topicOther}`);
  assert.equal(notAllowed.status, 404);
  assertError(await json(notAllowed), 'KSSE_TOPIC_NOT_ALLOWED', 404);
  const ghost = `ghost-${Date.now()}`;
  const missing = await fetch(`${open.url}/v1/stream/${ghost}`);
  assert.equal(missing.status, 404);
  assertError(await json(missing), 'KSSE_TOPIC_NOT_FOUND', 404);
  const topics = (await json(await fetch(`${open.url}/v1/topics`))).topics as Array<{ topic: string }>;
  assert.ok(!topics.some((t) => t.topic === ghost));
});

test('GET /v1/topics lists the allowed topics that exist, with partition counts', async () => {
  const body = await json(await fetch(`${main.url}/v1/topics`));
  assert.deepEqual(
    body.topics,
    [
      { topic: topicA, partitions: 2 },
      { topic: topicB, partitions: 1 },
      { topic: topicTime, partitions: 2 },
    ].sort((a, b) => a.topic.localeCompare(b.topic)),
  );
  const all = (await json(await fetch(`${open.url}/v1/topics`))).topics as Array<{ topic: string; partitions: number }>;
  assert.deepEqual(all.find((t) => t.topic === topicOther), { topic: topicOther, partitions: 1 });
  assert.ok(!all.some((t) => t.topic.startsWith('__')), 'internal topics are not listed');
});

test('GET /healthz is 200 {status: ok} when Kafka answers', async () => {
  const res = await fetch(`${main.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await json(res), { status: 'ok' });
});

test('GET /healthz is a quick 503 with a reason when Kafka does not answer; streams too', async () => {
  const started = Date.now();
  const res = await fetch(`${down.url}/healthz`);
  assert.equal(res.status, 503);
  const body = await json(res);
  assertError(body, 'KSSE_KAFKA_UNAVAILABLE', 503);
  assert.equal(typeof body.reason, 'string');
  assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);

  const streamStarted = Date.now();
  const stream = await fetch(`${down.url}/v1/stream/anything`);
  assert.equal(stream.status, 503);
  assertError(await json(stream), 'KSSE_KAFKA_UNAVAILABLE', 503);
  assert.ok(Date.now() - streamStarted < 5000, `stream refusal took ${Date.now() - streamStarted} ms`);
  const topics = await fetch(`${down.url}/v1/topics`);
  assert.equal(topics.status, 503);
  assertError(await json(topics), 'KSSE_KAFKA_UNAVAILABLE', 503);
  // kafkajs's own error lines arrive through the server's pino logger, as warnings: kafka-sse itself
  // reports what they lead to (a refused request, a failed health check), so they are not errors twice.
  assert.ok(down.logs.some((l) => l.component === 'kafkajs' && l.level === 40 && typeof l.msg === 'string'));
});

test('methods other than GET/HEAD are 405 with Allow', async () => {
  for (const [method, path] of [
    ['POST', `/v1/stream/${topicA}`],
    ['DELETE', '/healthz'],
    ['PUT', '/v1/topics'],
    ['PATCH', '/healthz'],
  ] as const) {
    const res = await fetch(`${open.url}${path}`, { method });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assertError(await json(res), 'KSSE_METHOD_NOT_ALLOWED', 405);
  }
  const dropByGet = await fetch(`${main.url}/demo/drop`);
  assert.equal(dropByGet.status, 405);
  assert.equal(dropByGet.headers.get('allow'), 'POST');
});

test('HEAD answers headers only, without opening a Kafka stream', async () => {
  const page = await fetch(`${main.url}/`, { method: 'HEAD' });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const stream = await fetch(`${open.url}/v1/stream/${topicA}`, { method: 'HEAD' });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  assert.equal(await stream.text(), '');
  assert.equal(open.logs.filter((l) => l.msg === 'stream opened' && (l.topics as string[]).includes(topicA)).length, 0);
});

test('unknown routes are 404 JSON errors', async () => {
  for (const path of ['/nope', '/v1/stream', '/v1/stream/a/b', '/v1/topics/x', '/demo/drop', '/index.html']) {
    const res = await fetch(`${open.url}${path}`, { method: path === '/demo/drop' ? 'POST' : 'GET' });
    assert.equal(res.status, 404, path);
    assertError(await json(res), 'KSSE_NOT_FOUND', 404);
  }
});

test('request targets longer than 8 KiB are 414', async () => {
  const res = await fetch(`${open.url}/v1/stream/${'a'.repeat(9000)}`);
  assert.equal(res.status, 414);
  assertError(await json(res), 'KSSE_URI_TOO_LONG', 414);
  const fine = await fetch(`${open.url}/v1/stream/${topicA}?pad=${'x'.repeat(7000)}`, { method: 'HEAD' });
  assert.equal(fine.status, 200);
});

test('headers too large for the HTTP parser get a JSON 431', async () => {
  const { status, body } = await rawGet(open.port, '/healthz', { 'x-big': 'y'.repeat(40_000) });
  assert.equal(status, 431);
  assertError(JSON.parse(body) as Record<string, unknown>, 'KSSE_HEADER_TOO_LARGE', 431);
});

test('malformed percent-encoding in the topic list is a 400', async () => {
  const res = await fetch(`${open.url}/v1/stream/%E0%A4%A`);
  assert.equal(res.status, 400);
  assertError(await json(res), 'KSSE_BAD_REQUEST', 400);
});

test('--cors-origin sets Access-Control-Allow-Origin on streams, errors and preflights', async () => {
  const stream = await openStream(`${main.url}/v1/stream/${topicA}`, { origin: ORIGIN });
  assert.equal(stream.headers.get('access-control-allow-origin'), ORIGIN);
  stream.close();
  const error = await fetch(`${main.url}/v1/stream/${topicOther}`, { headers: { origin: ORIGIN } });
  assert.equal(error.headers.get('access-control-allow-origin'), ORIGIN);
  assert.equal(error.headers.get('vary'), 'Origin');
  assert.equal(error.headers.get('access-control-allow-credentials'), 'true');
  await error.body?.cancel();
  const preflight = await fetch(`${main.url}/v1/stream/${topicA}`, {
    method: 'OPTIONS',
    headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Last-Event-ID/);
  // Without --cors-origin: no CORS headers, and OPTIONS is just another method.
  const plain = await fetch(`${open.url}/healthz`, { headers: { origin: ORIGIN } });
  assert.equal(plain.headers.get('access-control-allow-origin'), null);
  assert.equal((await fetch(`${open.url}/healthz`, { method: 'OPTIONS' })).status, 405);
});

test('--heartbeat sends a comment on an idle stream; streams start with a retry hint', async () => {
  const stream = await openStream(`${main.url}/v1/stream/${topicB}`);
  const started = Date.now();
  const text = await stream.until((t) => t.includes(': heartbeat'), 5000);
  stream.close();
  assert.ok(Date.now() - started < 3000);
  assert.equal(parseSse(text).find((b) => b.retry !== undefined)?.retry, 2000);
});

test('--max-connections: one stream over the limit gets 503 with Retry-After, before touching Kafka', async () => {
  const first = await openStream(`${limited.url}/v1/stream/${topicA}`);
  assert.equal(first.status, 200);
  const second = await fetch(`${limited.url}/v1/stream/${topicA}`);
  assert.equal(second.status, 503);
  assert.match(second.headers.get('retry-after') ?? '', /^\d+$/);
  assertError(await json(second), 'KSSE_TOO_MANY_CONNECTIONS', 503);
  first.close();
  await first.ended;
  // The slot is released when the first client leaves.
  await until(async () => {
    const again = await fetch(`${limited.url}/v1/stream/${topicA}`, { method: 'GET', signal: AbortSignal.timeout(5000) });
    const ok = again.status === 200;
    await again.body?.cancel();
    return ok;
  });
});

test('--max-connections-per-client limits streams per client address', async () => {
  const first = await openStream(`${perClient.url}/v1/stream/${topicA}`);
  assert.equal(first.status, 200);
  const second = await fetch(`${perClient.url}/v1/stream/${topicB}`);
  assert.equal(second.status, 429);
  assert.ok(second.headers.get('retry-after'));
  assertError(await json(second), 'KSSE_TOO_MANY_CLIENT_CONNECTIONS', 429);
  first.close();
});

test('--max-lifetime ends streams cleanly; --timestamp-ids puts timestamps in ids', async () => {
  const started = Date.now();
  const stream = await openStream(`${lifetime.url}/v1/stream/${topicA}`);
  await stream.until((t) => t.includes('id: '));
  await produce(topicA, [{ partition: 0, value: { life: 1 } }]);
  assert.equal(await stream.ended, 'clean');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 900 && elapsed < 5000, `ended after ${elapsed} ms`);
  const ids = parseSse(stream.text()).filter((b) => b.id !== undefined);
  assert.ok(ids.length > 0);
  for (const { id } of ids) {
    for (const p of JSON.parse(id!) as Array<Record<string, unknown>>) {
      assert.equal(typeof p.timestamp, 'number');
      assert.equal(p.offset, undefined);
    }
  }
  assert.ok(!stream.text().includes(': heartbeat'), 'HEARTBEAT_SECONDS=0 turned heartbeats off');
});

test('GET / serves the demo page and its script with --demo only; /demo/drop too', async () => {
  const page = await fetch(`${main.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script type="module" src="\/demo.js">/);
  const script = await fetch(`${main.url}/demo.js`);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(await script.text(), /new EventSource\(/);
  // Without --demo, none of it exists.
  for (const [method, path] of [['GET', '/'], ['GET', '/demo.js'], ['POST', '/demo/drop']] as const) {
    const res = await fetch(`${open.url}${path}`, { method });
    assert.equal(res.status, 404, `${method} ${path} without --demo`);
    assertError(await json(res), 'KSSE_NOT_FOUND', 404);
  }
});

/** The value of one sample in Prometheus text (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('GET /metrics is served on the --metrics-port listener only, on localhost', async () => {
  assert.match(open.metricsUrl ?? '', /^http:\/\/localhost:\d+\/metrics$/);
  assert.notEqual(new URL(open.metricsUrl!).port, String(open.port));
  const onPublicPort = await fetch(`${open.url}/metrics`);
  assert.equal(onPublicPort.status, 404);
  assertError(await json(onPublicPort), 'KSSE_NOT_FOUND', 404);
  assert.equal(main.metricsUrl, undefined, 'no metrics listener without --metrics-port');
  assert.equal((await fetch(new URL('/healthz', open.metricsUrl))).status, 404, 'the metrics listener answers /metrics only');
});

test('GET /metrics counts streams, events, bytes and errors in Prometheus format', async () => {
  const scrape = async () => {
    const res = await fetch(open.metricsUrl!);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  };
  const before = await scrape();
  const stream = await openStream(`${open.url}/v1/stream/${topicOther}`);
  await stream.until((t) => t.includes('id: '));
  const during = await scrape();
  assert.equal(sample(during, 'kafka_sse_active_streams'), sample(before, 'kafka_sse_active_streams') + 1);
  await produce(topicOther, [{ partition: 0, value: { m: 1 } }, { partition: 0, value: { m: 2 } }]);
  await stream.until((t) => messageOffsets(t).length >= 2);
  stream.close();
  await (await fetch(`${open.url}/v1/stream/missing-${Date.now()}`)).body?.cancel();
  await (await fetch(`${open.url}/no-such-route`)).body?.cancel();

  // The stream's end is counted once the server has seen the client leave.
  let after = await scrape();
  await until(async () => {
    after = await scrape();
    return sample(after, 'kafka_sse_streams_closed_total{reason="client disconnected"}') > sample(before, 'kafka_sse_streams_closed_total{reason="client disconnected"}');
  });
  assert.equal(sample(after, 'kafka_sse_streams_opened_total'), sample(before, 'kafka_sse_streams_opened_total') + 1);
  assert.equal(sample(after, 'kafka_sse_active_streams'), sample(before, 'kafka_sse_active_streams'));
  assert.equal(sample(after, 'kafka_sse_events_sent_total'), sample(before, 'kafka_sse_events_sent_total') + 2);
  assert.ok(sample(after, 'kafka_sse_bytes_sent_total') > sample(before, 'kafka_sse_bytes_sent_total'));
  assert.equal(sample(after, 'kafka_sse_errors_total{code="KSSE_TOPIC_NOT_FOUND"}'), sample(before, 'kafka_sse_errors_total{code="KSSE_TOPIC_NOT_FOUND"}') + 1);
  assert.equal(sample(after, 'kafka_sse_errors_total{code="KSSE_NOT_FOUND"}'), sample(before, 'kafka_sse_errors_total{code="KSSE_NOT_FOUND"}') + 1, 'router errors count too');
  assert.ok(sample(after, 'kafka_sse_fetch_duration_seconds_count') > 0);
  assert.match(after, /^kafka_sse_process_resident_memory_bytes /m);
});

const EVERY_FLAG = [
  ['--brokers', 'KAFKA_BROKERS'],
  ['--port', 'PORT'],
  ['--host', 'HOST'],
  ['--metrics-port', 'METRICS_PORT'],
  ['--metrics-host', 'METRICS_HOST'],
  ['--allowed-topics', 'ALLOWED_TOPICS'],
  ['--timestamp-ids', 'TIMESTAMP_IDS'],
  ['--cors-origin', 'CORS_ORIGIN'],
  ['--heartbeat', 'HEARTBEAT_SECONDS'],
  ['--max-connections', 'MAX_CONNECTIONS'],
  ['--max-connections-per-client', 'MAX_CONNECTIONS_PER_CLIENT'],
  ['--max-lifetime', 'MAX_LIFETIME_SECONDS'],
  ['--log-level', 'LOG_LEVEL'],
  ['--demo', 'KAFKA_SSE_DEMO'],
  ['--jwt-secret', 'JWT_SECRET'],
  ['--jwks-url', 'JWKS_URL'],
  ['--jwt-issuer', 'JWT_ISSUER'],
  ['--jwt-audience', 'JWT_AUDIENCE'],
  ['--jwt-topics-claim', 'JWT_TOPICS_CLAIM'],
] as const;

test('kafka-sse --help (through the bin) lists every flag with its environment variable', async () => {
  const { code, stdout } = await runCli(['--help'], {}, 20_000, BIN);
  assert.equal(code, 0);
  for (const [flag, env] of EVERY_FLAG) {
    assert.match(stdout, new RegExp(`^  ${flag}[ <]`, 'm'), `${flag} is listed`);
    assert.ok(stdout.includes(`env ${env},`) || stdout.includes(`env ${env})`), `${env} is listed`);
  }
  for (const route of ['/v1/stream/:topics', '/v1/topics', '/healthz', '/metrics']) assert.ok(stdout.includes(route));
});

test('bad flags exit with status 2 and a message', async () => {
  const unknown = await runCli(['serve', '--bogus']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /bogus/);
  const badPort = await runCli(['serve', '--port', 'eighty']);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--port/);
  const badEnv = await runCli(['serve'], { MAX_CONNECTIONS: '-3' });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /--max-connections/);
  const shortSecret = await runCli(['serve'], { JWT_SECRET: 'too-short' });
  assert.equal(shortSecret.code, 2);
  assert.match(shortSecret.stderr, /32 bytes/);
  const metricsHostAlone = await runCli(['serve', '--metrics-host', '0.0.0.0']);
  assert.equal(metricsHostAlone.code, 2);
  assert.match(metricsHostAlone.stderr, /--metrics-host needs --metrics-port/);
});

test('kafka-sse with no command prints the usage and exits 2 instead of serving', async () => {
  for (const args of [[], ['--brokers', 'localhost:9092']]) {
    const { code, stdout, stderr } = await runCli(args, {}, 20_000, BIN);
    assert.equal(code, 2, `kafka-sse ${args.join(' ')}`);
    assert.equal(stdout, '');
    assert.match(stderr, /^Usage: kafka-sse serve \[flags\]$/m);
    assert.match(stderr, /No command given/);
  }
});

/** Rejects if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 50 ms until it holds (bounded): for server-side state no event reports. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A GET with arbitrary headers through node:http (fetch refuses some), returning status and body. */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}
