// Limits and keep-alive on the ready-made server (in process, port 0, real broker): --max-connections
// answers 503 with Retry-After before anything touches Kafka, the per-address limit, heartbeats, the
// `retry:` hint, and --max-lifetime with the real `eventsource` client resuming exactly once.
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders } from 'node:http';
import { after, test } from 'node:test';
import { EventSource } from 'eventsource';
import { pino } from 'pino';
import { kafkaSseResponse, sharedClient } from '../../src/index.js';
import { sharedKafka } from '../helpers/sse.js';
import { parseCli, type ServeConfig } from '../../src/server/config.js';
import { createKafkaSseServer, type KafkaSseServerOptions } from '../../src/server/server.js';
import { createTopics, messageOffsets, openStream, parseSse } from '../e2e/helpers/cliProcess.js';
import { fixtureKafka, produce, testBrokers } from '../helpers/kafka.js';
import { until } from '../helpers/wait.js';

const [topicA, topicB, lifeTopic] = (await createTopics([
  { prefix: 'limits-a', partitions: 2 },
  { prefix: 'limits-b', partitions: 1 },
  { prefix: 'limits-life', partitions: 3 },
])) as [string, string, string];

type LogLine = { level: number; msg: string } & Record<string, unknown>;

/**
 * createKafkaSseServer on 127.0.0.1:0 with its pino lines captured. `warm`: one stream first reads from
 * Kafka, so the streams a test opens at once find the fetch connection ready (concurrent first fetches
 * orphan kafkajs sockets that keep the test process alive: see test/soak/leaks.test.ts).
 */
async function startServer(options: KafkaSseServerOptions = {}, warm = false) {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', metricsPort: 0, logger, shutdownGraceMs: 500, ...options });
  const { port, metricsUrl } = await server.listen();
  after(() => server.close());
  const url = `http://127.0.0.1:${port}`;
  if (warm) {
    const first = await httpStream(`${url}/v1/stream/${topicA}`);
    await until(async () => (await metric(metricsUrl!, 'kafka_sse_fetch_duration_seconds_count')) > 0, 'a first fetch');
    first.close();
    await until(() => server.openStreams === 0, 'the warm-up stream closed');
  }
  return { server, port, url, metricsUrl: metricsUrl!, logs };
}


interface HttpStream {
  status: number;
  headers: IncomingHttpHeaders;
  text(): string;
  /** Settles when the response has ended or the connection closed. */
  ended: Promise<void>;
  until(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

/** A streaming GET through node:http, so the client's own address can be chosen (`localAddress`). */
function httpStream(url: string, options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<HttpStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: options.headers, ...(options.localAddress ? { localAddress: options.localAddress } : {}) }, (res) => {
      let text = '';
      const waiters = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (const w of waiters) w();
      });
      res.on('error', () => {});
      const ended = new Promise<void>((done) => res.once('close', done));
      after(() => req.destroy());
      resolve({
        ended,
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => text,
        close: () => req.destroy(),
        until: (predicate, timeoutMs = 10_000) =>
          new Promise((done, fail) => {
            const check = () => {
              if (!predicate(text)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done(text);
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`not within ${timeoutMs} ms; got ${text.slice(-500)}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no response within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

async function errorBody(stream: HttpStream): Promise<Record<string, unknown>> {
  assert.match(String(stream.headers['content-type']), /^application\/json/);
  await stream.ended;
  const body = JSON.parse(stream.text()) as Record<string, unknown>;
  assert.ok(!('stack' in body));
  return body;
}

/** Records every call of the server's shared Kafka client: what "touching Kafka" means here. */
function spyOnKafka(server: { kafka: Parameters<typeof sharedClient>[0] }): Array<{ method: string; topics: string[] }> {
  const client = sharedClient(server.kafka) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const calls: Array<{ method: string; topics: string[] }> = [];
  const topicsIn = (args: unknown[]): string[] =>
    args.flatMap((a) =>
      Array.isArray(a) ? a.map((p: unknown) => (typeof p === 'string' ? p : (p as { topic?: string })?.topic ?? '')).filter(Boolean) : [],
    );
  for (const method of ['connect', 'topicPartitions', 'listTopics', 'resolve', 'fetch']) {
    const original = client[method]!.bind(client);
    client[method] = (...args: unknown[]) => {
      calls.push({ method, topics: topicsIn(args) });
      return original(...args);
    };
  }
  return calls;
}

/** What `kafka-sse serve` uses when given no flags. */
function cliDefaults(): ServeConfig {
  const cli = parseCli(['serve'], {});
  assert.equal(cli.command, 'serve');
  return (cli as { config: ServeConfig }).config;
}

/** A Prometheus sample's value (0 when absent), from the server's metrics listener. */
async function metric(metricsUrl: string, series: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('--max-connections: the stream over the limit gets 503 with Retry-After, before touching Kafka', async () => {
  const limited = await startServer({ maxConnections: 1 });
  const calls = spyOnKafka(limited.server);
  const first = await httpStream(`${limited.url}/v1/stream/${topicA}`);
  assert.equal(first.status, 200);
  await first.until((t) => t.includes('id: '));
  const openedBefore = await metric(limited.metricsUrl, 'kafka_sse_streams_opened_total');

  // Over the limit, for a topic that exists and one that does not: if Kafka were asked, the second
  // would be a 404 (and the first would resolve offsets). Both are 503, and the client was not called
  // for either topic.
  const ghost = `limits-ghost-${Date.now().toString(36)}`;
  const mark = calls.length;
  for (const topic of [topicB, ghost]) {
    const over = await httpStream(`${limited.url}/v1/stream/${topic}`);
    assert.equal(over.status, 503, topic);
    assert.match(String(over.headers['retry-after']), /^\d+$/);
    const body = await errorBody(over);
    assert.equal(body.code, 'KSSE_TOO_MANY_CONNECTIONS');
    assert.equal(body.status, 503);
  }
  const during = calls.slice(mark);
  assert.deepEqual(during.filter((c) => c.method !== 'fetch'), [], 'no connect, metadata or offset lookups');
  assert.deepEqual(during.filter((c) => c.topics.some((t) => t !== topicA)), [], 'the only fetches are the open stream\'s');
  assert.equal(await metric(limited.metricsUrl, 'kafka_sse_streams_opened_total'), openedBefore, 'no stream was started');
  assert.equal(await metric(limited.metricsUrl, 'kafka_sse_errors_total{code="KSSE_TOO_MANY_CONNECTIONS"}'), 2);
  assert.ok(!(await (await fixtureKafka().admin).listTopics()).includes(ghost), 'the ghost topic was not created');
  assert.equal(limited.logs.filter((l) => l.code === 'KSSE_TOO_MANY_CONNECTIONS').length, 2, 'each refusal is logged');

  // The slot is free again once the first client has gone.
  first.close();
  await until(() => limited.server.openStreams === 0, 'the first stream closed');
  const next = await httpStream(`${limited.url}/v1/stream/${topicB}`);
  assert.equal(next.status, 200);
  next.close();
});

test('--max-connections under a burst: exactly the limit is admitted, every other request is a 503', async () => {
  const limited = await startServer({ maxConnections: 3 }, true);
  const streams = await Promise.all(Array.from({ length: 12 }, () => httpStream(`${limited.url}/v1/stream/${topicA}`)));
  const statuses = streams.map((s) => s.status).sort();
  for (const s of streams) s.close();
  assert.deepEqual(statuses, [...Array(3).fill(200), ...Array(9).fill(503)]);
  await until(() => limited.server.openStreams === 0, 'every stream closed');
  assert.equal(await metric(limited.metricsUrl, 'kafka_sse_active_streams'), 0);
});

test('the per-address limit is off by default; on, a second stream from the same address gets 429', async () => {
  const unlimited = await startServer({}, true);
  const three = await Promise.all([1, 2, 3].map(() => httpStream(`${unlimited.url}/v1/stream/${topicA}`)));
  assert.deepEqual(three.map((s) => s.status), [200, 200, 200]);
  for (const s of three) s.close();
  assert.equal(cliDefaults().maxConnectionsPerClient, undefined, 'no CLI default');

  const perClient = await startServer({ maxConnectionsPerClient: 1 });
  const first = await httpStream(`${perClient.url}/v1/stream/${topicA}`, { localAddress: '127.0.0.1' });
  assert.equal(first.status, 200);
  const second = await httpStream(`${perClient.url}/v1/stream/${topicB}`, { localAddress: '127.0.0.1' });
  assert.equal(second.status, 429);
  assert.match(String(second.headers['retry-after']), /^\d+$/);
  const body = await errorBody(second);
  assert.equal(body.code, 'KSSE_TOO_MANY_CLIENT_CONNECTIONS');
  assert.equal(body.status, 429);
  // Another address (all of 127.0.0.0/8 is loopback) still gets its stream.
  const neighbour = await httpStream(`${perClient.url}/v1/stream/${topicB}`, { localAddress: '127.0.0.2' });
  assert.equal(neighbour.status, 200);
  neighbour.close();
  first.close();
});

test('over the per-address limit, an EventSource (Accept: text/event-stream) gets a transient refusal and comes back when a slot is free', async () => {
  const perClient = await startServer({ maxConnectionsPerClient: 1 });
  const first = await httpStream(`${perClient.url}/v1/stream/${topicA}`, { localAddress: '127.0.0.1' });
  assert.equal(first.status, 200);
  await first.until((t) => t.includes('id: '));

  // The raw answer: a 200 event stream with a retry: hint and one error event, no id, then its end.
  const refused = await httpStream(`${perClient.url}/v1/stream/${topicB}`, { localAddress: '127.0.0.1', headers: { accept: 'text/event-stream' } });
  assert.equal(refused.status, 200);
  assert.match(String(refused.headers['content-type']), /^text\/event-stream/);
  assert.equal(refused.headers['x-kafka-sse-error'], 'KSSE_TOO_MANY_CLIENT_CONNECTIONS');
  await refused.ended;
  const blocks = parseSse(refused.text());
  assert.ok(blocks.some((b) => b.retry !== undefined && b.retry >= 5000), 'retry: at least Retry-After');
  const errors = blocks.filter((b) => b.event === 'error');
  assert.equal(errors.length, 1);
  assert.equal((JSON.parse(errors[0]!.data!) as { code: string; status: number }).code, 'KSSE_TOO_MANY_CLIENT_CONNECTIONS');
  assert.ok(!blocks.some((b) => b.id !== undefined), 'no id: the client keeps its own');

  // The real client: it sees the error event, does not close for good, and is served once the slot is free.
  const source = new EventSource(`${perClient.url}/v1/stream/${topicB}`);
  after(() => source.close());
  const codes: string[] = [];
  source.addEventListener('error', (event) => {
    if ('data' in event && typeof event.data === 'string') codes.push((JSON.parse(event.data) as { code: string }).code);
  });
  await until(() => codes.length > 0, 'the error event');
  assert.deepEqual(codes, ['KSSE_TOO_MANY_CLIENT_CONNECTIONS']);
  assert.notEqual(source.readyState, EventSource.CLOSED, 'the EventSource keeps trying');
  // Served: a real stream starts with a position block (the refusal had none).
  const served = new Promise<void>((resolve) => source.addEventListener('position', () => resolve()));
  first.close();
  await served;
  source.close();
});

test('an idle stream gets a heartbeat comment every --heartbeat seconds, which clients ignore', async () => {
  const beating = await startServer({ heartbeatSeconds: 1 });
  const stream = await httpStream(`${beating.url}/v1/stream/${topicB}`);
  const beats: number[] = [];
  await stream.until((text) => {
    const count = text.split(': heartbeat\n\n').length - 1;
    while (beats.length < count) beats.push(Date.now());
    return count >= 3;
  }, 6000);
  stream.close();
  const gaps = beats.slice(1).map((t, i) => t - beats[i]!);
  // About a second apart (the default is 15 s); loose bounds for a busy machine.
  for (const gap of gaps) assert.ok(gap >= 700 && gap <= 2500, `heartbeats ${gaps.join(', ')} ms apart`);
  // A real client sees no events from them.
  const es = new EventSource(`${beating.url}/v1/stream/${topicB}`);
  let messages = 0;
  let errors = 0;
  es.addEventListener('message', () => messages++);
  es.addEventListener('error', () => errors++);
  await new Promise((resolve) => setTimeout(resolve, 2500)); // two heartbeats' worth of idle time
  es.close();
  assert.equal(messages, 0);
  assert.equal(errors, 0);
  // The default is 15 s; 0 turns them off.
  assert.equal(cliDefaults().heartbeatSeconds, 15);
  const silent = await startServer({ heartbeatSeconds: 0 });
  const quiet = await httpStream(`${silent.url}/v1/stream/${topicB}`);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  quiet.close();
  assert.ok(!quiet.text().includes('heartbeat'));
});

test('every stream starts with a retry: hint, before any record', async () => {
  const plain = await startServer();
  const stream = await httpStream(`${plain.url}/v1/stream/${topicB}`);
  const text = await stream.until((t) => t.includes('id: '));
  stream.close();
  const blocks = parseSse(text);
  assert.match(blocks[0]!.comment ?? '', /^kafka-sse stream /, 'first a comment naming the connection');
  assert.equal(blocks[1]!.retry, 2000, 'then the retry hint (default 2,000 ms)');
  const custom = await startServer({ retryMs: 250 });
  const short = await httpStream(`${custom.url}/v1/stream/${topicB}`);
  const shortText = await short.until((t) => t.includes('id: '));
  short.close();
  assert.equal(parseSse(shortText)[1]!.retry, 250);
});

test('--max-lifetime ends streams cleanly; the eventsource client resumes by itself with every record exactly once', async () => {
  const lifetime = await startServer({ maxLifetimeSeconds: 1, retryMs: 100, heartbeatSeconds: 0 });
  const partitions = [0, 1, 2];
  const received = new Map<number, number[]>(partitions.map((p) => [p, []]));
  const requests: Array<string | null> = [];
  let opens = 0;
  let target: Map<number, number> | undefined;
  let reached: () => void = () => {};
  const done = new Promise<void>((resolve) => (reached = resolve));
  const check = () => {
    if (target && partitions.every((p) => (received.get(p)!.at(-1) ?? -1) >= target!.get(p)! - 1)) reached();
  };
  const openedAt: number[] = [];
  const endedAt: number[] = [];
  const es = new EventSource(`${lifetime.url}/v1/stream/${lifeTopic}`, {
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      // Start at offset 0 of every partition, so "every record" is well defined from the first request.
      if (requests.length === 0) headers.set('Last-Event-ID', JSON.stringify(partitions.map((partition) => ({ topic: lifeTopic, partition, offset: 0 }))));
      requests.push(headers.get('last-event-id'));
      return fetch(input, { ...init, headers });
    },
  });
  es.addEventListener('open', () => {
    opens++;
    openedAt.push(Date.now());
  });
  es.addEventListener('error', () => endedAt.push(Date.now()));
  es.addEventListener('message', (e: MessageEvent<string>) => {
    const { _kafka } = JSON.parse(e.data) as { _kafka: { partition: number; offset: number } };
    received.get(_kafka.partition)!.push(_kafka.offset);
    check();
  });
  try {
    // A producer writing steadily for 4.5 s, so records arrive before, during and between lifetimes.
    const startedAt = Date.now();
    let n = 0;
    while (Date.now() - startedAt < 4500) {
      await produce(lifeTopic, partitions.map((partition) => ({ partition, value: { n: n++ } })));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const offsets = await (await fixtureKafka().admin).fetchTopicOffsets(lifeTopic);
    target = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
    check();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not every record within 15 s: ${JSON.stringify([...received].map(([p, o]) => [p, o.length]))}`)), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    es.close();
  }
  for (const p of partitions) {
    const expected: number[] = Array.from({ length: target!.get(p)! }, (_, i) => i);
    assert.deepEqual(received.get(p), expected, `partition ${p}: every offset exactly once, in order`);
  }
  assert.ok(opens >= 4, `the client reconnected ${opens - 1} times`);
  assert.ok(requests.length >= 4 && requests.every((id) => id !== null), 'every request carried a Last-Event-ID');
  // The retry hint was honoured: 100 ms, not the client's own 3 s default.
  const gaps = endedAt.slice(0, opens - 1).map((t, i) => openedAt[i + 1]! - t);
  assert.ok(gaps.every((g) => g < 2000), `reconnected after ${gaps.join(', ')} ms`);
  // The server ended the streams itself, cleanly, after about a second each.
  const closed = lifetime.logs.filter((l) => l.msg === 'stream closed');
  const byLifetime = closed.filter((l) => l.reason === 'lifetime reached');
  assert.ok(byLifetime.length >= opens - 1, `${byLifetime.length} of ${closed.length} streams ended by lifetime`);
  for (const l of byLifetime) assert.ok((l.durationMs as number) >= 950 && (l.durationMs as number) < 5000, `lasted ${String(l.durationMs)} ms`);
  assert.ok(lifetime.logs.every((l) => l.level <= 30), 'ending by lifetime is routine: nothing above info');
  await until(() => lifetime.server.openStreams === 0, 'every stream closed');
});

test('a stream that ended by lifetime is resumed exactly where it stopped (raw check of the final id)', async () => {
  const lifetime = await startServer({ maxLifetimeSeconds: 1, heartbeatSeconds: 0 });
  await produce(topicB, [{ partition: 0, value: { k: 1 } }, { partition: 0, value: { k: 2 } }]);
  const start = JSON.stringify([{ topic: topicB, partition: 0, offset: 0 }]);
  const first = await openStream(`${lifetime.url}/v1/stream/${topicB}`, { 'Last-Event-ID': start });
  assert.equal(await first.ended, 'clean', 'the response completed normally');
  const ids = parseSse(first.text()).filter((b) => b.id !== undefined);
  const last = ids.at(-1)!.id!;
  const offsets = messageOffsets(first.text());
  const resumed = await openStream(`${lifetime.url}/v1/stream/${topicB}`, { 'Last-Event-ID': last });
  await resumed.until((t) => t.includes('id: '));
  await produce(topicB, [{ partition: 0, value: { k: 3 } }]);
  const next = await resumed.until((t) => messageOffsets(t).length >= 1);
  resumed.close();
  assert.deepEqual(messageOffsets(next), [`0:${offsets.length}`], 'the next record, no gap and no repeat');
});

test('refusals at the connection limit are logged at warn, not error (a flood of them must not look like a failure)', async () => {
  const limited = await startServer({ maxConnections: 1 });
  const first = await httpStream(`${limited.url}/v1/stream/${topicA}`);
  const over = await httpStream(`${limited.url}/v1/stream/${topicA}`);
  await over.ended;
  first.close();
  const refusals = limited.logs.filter((l) => l.code === 'KSSE_TOO_MANY_CONNECTIONS');
  assert.equal(refusals.length, 1);
  assert.ok(refusals[0]!.level <= 40, `logged at ${refusals[0]!.level}: ${String(refusals[0]!.msg)}`);
});


test(
  'kafkaSseResponse (fetch-style frameworks) honours the same limits: Retry-After on 503, maximum lifetime',
  async () => {
    const options = { kafka: sharedKafka(), maxConnections: 1, maxLifetimeMs: 500, heartbeatMs: 0 };
    const first = await kafkaSseResponse(new Request('http://127.0.0.1/'), topicA, options);
    assert.equal(first.status, 200);
    const over = await kafkaSseResponse(new Request('http://127.0.0.1/'), topicA, options);
    assert.equal(over.status, 503);
    assert.match(over.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After');
    // The first stream ends by itself after its lifetime.
    const started = Date.now();
    const reader = first.body!.getReader();
    const ended = (async () => {
      while (!(await reader.read()).done);
    })();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([ended.then(() => 'ended'), new Promise((r) => (timer = setTimeout(() => r('still open'), 3000)))]);
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
    assert.equal(outcome, 'ended', `after ${Date.now() - started} ms`);
  },
);
