// Broker faults on a private broker (localhost:19092, never the shared one): a broker stopped and
// started again under a running stream, and a broker that is down when a client connects.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { EventSource } from 'eventsource';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { closeSharedClient, type KafkaSseOptions } from '../../src/index.js';
import { startCli } from '../e2e/helpers/cliProcess.js';
import { brokerFaultsSkip, startPrivateBroker, type PrivateBroker } from '../helpers/privateBroker.js';
import { createTopicsReady } from '../helpers/kafka.js';
import { readRaw, startServer } from '../helpers/sse.js';
import { delay, eventually } from '../helpers/wait.js';
import { refusedPort } from '../helpers/net.js';
import { assertExactlyOnce, keepProducing, type Received } from '../helpers/continuousProducer.js';

const skip = brokerFaultsSkip;
// Started at the top level: `after` hooks registered inside a `before` hook run as soon as that hook ends.
const broker = (skip ? undefined : await startPrivateBroker()) as PrivateBroker;

/** The kafkajs settings the CLI uses (src/server/server.ts): a short connection timeout and one retry. */
const FAIL_FAST: Partial<KafkaConfig> = { connectionTimeout: 1000, retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 } };



/**
 * A client built on the real `eventsource` package. It reconnects by itself (with `Last-Event-ID`,
 * after the server's `retry:` hint); when the EventSource gives up for good (a non-200 answer on a
 * reconnection, e.g. a 503 while Kafka is still down) it opens a new one from its last id, as an
 * application would.
 */
function resilientReader(url: string) {
  const received: Received[] = [];
  const errorEvents: Array<{ code?: string }> = [];
  const failedReconnects: Array<number | undefined> = [];
  let opens = 0;
  let lastId: string | undefined;
  let closed = false;
  let source: EventSource;
  const open = (fromId: string | undefined) => {
    let first = true;
    const es = new EventSource(url, {
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        if (first && fromId !== undefined) headers.set('Last-Event-ID', fromId);
        first = false;
        return fetch(input, { ...init, headers });
      },
    });
    es.addEventListener('open', () => opens++);
    es.addEventListener('message', (e: MessageEvent<string>) => {
      const { n, _kafka } = JSON.parse(e.data) as { n: number; _kafka: { partition: number; offset: number } };
      received.push({ partition: _kafka.partition, offset: _kafka.offset, n });
      lastId = e.lastEventId;
    });
    es.addEventListener('error', (e: Event & { data?: unknown; code?: number }) => {
      if (typeof e.data === 'string') {
        errorEvents.push(JSON.parse(e.data) as { code?: string });
        return;
      }
      if (es.readyState === EventSource.CLOSED && !closed) {
        failedReconnects.push(e.code);
        setTimeout(() => {
          if (!closed) source = open(lastId);
        }, 200);
      }
    });
    return es;
  };
  source = open(undefined);
  return {
    received,
    errorEvents,
    failedReconnects,
    opens: () => opens,
    close() {
      closed = true;
      source.close();
    },
  };
}


interface RestartCase {
  signal: 'SIGTERM' | 'SIGKILL';
  /** The broker is back within the stream's retry window: the stream must pause and go on. */
  withinWindow: boolean;
  /** The library options of the SSE server, for a topic on the private broker. */
  options(): KafkaSseOptions;
}

/**
 * Runs a stream of a 3-partition topic from offset 0 while a producer writes, stops the broker with
 * `signal`, starts it again a second later, and checks what the client got. Returns what happened.
 */
async function brokerRestartMidStream({ signal, withinWindow, options }: RestartCase, t: { diagnostic(message: string): void }) {
  const admin = await broker.admin();
  const topic = `faults-restart-${signal.toLowerCase()}-${Date.now().toString(36)}`;
  await createTopicsReady(admin, [{ topic, numPartitions: 3 }]);

  const ends: Array<{ reason: string }> = [];
  // Every partition from offset 0, so the records written before the stream opened count too.
  const server = await startServer({ ...options(), retryMs: 200, onStreamEnd: (s) => ends.push({ reason: s.reason }) }, () =>
    [0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })),
  );
  const producer = keepProducing(
    broker.kafka(FAIL_FAST).producer({ allowAutoTopicCreation: false, retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 } }),
    topic,
    3,
    { sendTimeoutMs: 2000, pauseMs: 10 },
  );
  const reader = resilientReader(server.url);
  try {
    await eventually(() => reader.received.length >= 30, 20_000, () => `${reader.received.length} events before the outage`);

    const stoppedAt = Date.now();
    await broker.stop(signal);
    const ackedWhenStopped = producer.acked.length;
    await delay(1000); // the outage: the producer keeps failing, the stream has nothing to read
    await broker.start();
    const downMs = Date.now() - stoppedAt;

    await eventually(() => producer.acked.length >= ackedWhenStopped + 30, 30_000, () => `${producer.acked.length - ackedWhenStopped} acks after the restart`);
    await producer.stop();
    const offsets = await admin.fetchTopicOffsets(topic);
    const partitionEnds = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
    const total = [...partitionEnds.values()].reduce((a, b) => a + b, 0);
    const summary = () =>
      `${reader.opens()} opens, SSE error events [${reader.errorEvents.map((e) => e.code).join(',')}], ` +
      `refused reconnects [${reader.failedReconnects.join(',')}], streams ended [${ends.map((e) => e.reason).join(',')}]`;
    const offsetsReceived = () =>
      [...partitionEnds].map(([p, end]) => `partition ${p}: ${reader.received.filter((r) => r.partition === p).map((r) => r.offset).join(' ')} (end ${end})`).join('; ');
    // Until the last offset of every partition has arrived (a gap or a duplicate shows in the check below).
    const reachedEnds = () => [...partitionEnds].every(([p, end]) => end === 0 || reader.received.some((r) => r.partition === p && r.offset === end - 1));
    await eventually(reachedEnds, 45_000, () => `${offsetsReceived()}; ${summary()}`);
    await delay(300); // a duplicate would arrive right behind the last record

    t.diagnostic(`broker down ${downMs} ms, ${producer.failedSends()} failed sends; ${summary()}`);
    assertExactlyOnce(reader.received, partitionEnds, producer.acked);
    assert.ok(ackedWhenStopped > 0 && producer.acked.length > ackedWhenStopped, 'records were acked before and after the outage');
    assert.deepEqual(reader.failedReconnects, [], 'the EventSource never gave up (no non-200 answer)');
    if (withinWindow) {
      // Back within the retry window: the stream paused and went on. No error event, no reconnect.
      assert.deepEqual(reader.errorEvents, [], 'no SSE error event');
      assert.equal(reader.opens(), 1, 'one connection from start to end');
    }
    for (const e of reader.errorEvents) assert.match(e.code ?? '', /^KSSE_/);
    return { opens: reader.opens(), errorEvents: reader.errorEvents, failedReconnects: reader.failedReconnects };
  } finally {
    reader.close();
    await producer.stop().catch(() => {});
    await server.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  }
}

/**
 * The SSE server's shared kafkajs instance for the private broker, with default settings as a user's
 * would have. Call it inside a test: its client closes when that test ends.
 */
function defaultSharedKafka(): Kafka {
  const kafka = broker.kafka({ clientId: 'faults-sse' });
  after(() => closeSharedClient(kafka));
  return kafka;
}

test('shared kafka: broker stopped (SIGTERM) mid-stream and started again while a producer writes: the stream pauses, then every offset once, no error, no reconnect', { skip }, async (t) => {
  const kafka = defaultSharedKafka();
  await brokerRestartMidStream({ signal: 'SIGTERM', withinWindow: true, options: () => ({ kafka }) }, t);
});

test('shared kafka: broker killed (SIGKILL) mid-stream and started again while a producer writes: the stream pauses, then every offset once, no error, no reconnect', { skip }, async (t) => {
  const kafka = defaultSharedKafka();
  await brokerRestartMidStream({ signal: 'SIGKILL', withinWindow: true, options: () => ({ kafka }) }, t);
});

// The seed's model: a client per connection from `kafkaConfig`. Its default retry window is the shared one's (30 s).
test('kafkaConfig per connection: broker stopped (SIGTERM) mid-stream and started again: the stream pauses, then every offset once, no error, no reconnect', { skip }, async (t) => {
  await brokerRestartMidStream({ signal: 'SIGTERM', withinWindow: true, options: () => ({ kafkaConfig: { brokers: broker.brokers } }) }, t);
});

test('kafkaConfig per connection: broker killed (SIGKILL) mid-stream and started again: the stream pauses, then every offset once, no error, no reconnect', { skip }, async (t) => {
  await brokerRestartMidStream({ signal: 'SIGKILL', withinWindow: true, options: () => ({ kafkaConfig: { brokers: broker.brokers } }) }, t);
});

test('a stream whose retry window is shorter than the outage ends with an SSE error event; the client resumes from its last id, exactly once', { skip }, async (t) => {
  // A per-connection client that gives up after 300 ms: the stream ends with KSSE_CONSUME_ERROR, the
  // client's reconnections get a 200 holding a retry hint and one KSSE_KAFKA_UNAVAILABLE error event
  // until the broker is back (never a non-200, which would end the EventSource), then the stream resumes.
  const outcome = await brokerRestartMidStream(
    {
      signal: 'SIGTERM',
      withinWindow: false,
      options: () => ({ kafkaConfig: { brokers: broker.brokers, logLevel: logLevel.NOTHING, ...FAIL_FAST }, clientTuning: { retryWindowMs: 300 } }),
    },
    t,
  );
  const codes = outcome.errorEvents.map((e) => e.code);
  assert.equal(codes[0], 'KSSE_CONSUME_ERROR', 'the stream ended with one error event when the retry window ran out');
  assert.deepEqual(
    codes.slice(1).filter((c) => c !== 'KSSE_KAFKA_UNAVAILABLE'),
    [],
    `reconnections while the broker was down were transient refusals: ${codes.join(',')}`,
  );
  assert.deepEqual(outcome.failedReconnects, [], 'the EventSource never gave up');
  assert.ok(outcome.opens >= 2, 'the client came back');
});

// ---- Broker down when a client connects: a quick 503 with a JSON reason, not a hang ----

const QUICK_MS = 5000;


interface DownSetup {
  /** Bootstrap brokers that refuse connections. */
  brokers: string[];
  /** Shared kafkajs instances that had streamed from the broker before it stopped (none against an external cluster). */
  warm?: { defaults: Kafka; failFast: Kafka };
}

// Made at the top level so that they live (and are closed) with the file, not with the first test using them.
const warm = skip
  ? undefined
  : { defaults: broker.kafka({ clientId: 'faults-warm-defaults' }), failFast: broker.kafka({ clientId: 'faults-warm-fail-fast', ...FAIL_FAST }) };
if (warm) after(() => Promise.all([closeSharedClient(warm.defaults), closeSharedClient(warm.failFast)]));

let downSetup: Promise<DownSetup> | undefined;

/**
 * With the harness: the two shared kafkajs instances of `warm` (default settings, and the CLI's
 * fail-fast ones) each serve one stream while the private broker runs, then the broker is stopped for
 * the rest of the file. Against an external cluster: a refused local port.
 */
function brokerDown(): Promise<DownSetup> {
  downSetup ??= (async (): Promise<DownSetup> => {
    if (!warm) return { brokers: [`127.0.0.1:${await refusedPort()}`] };
    await broker.start();
    const admin = await broker.admin();
    const topic = `faults-down-${Date.now().toString(36)}`;
    await createTopicsReady(admin, [{ topic, numPartitions: 1 }]);
    for (const kafka of [warm.defaults, warm.failFast]) {
      const server = await startServer({ kafka });
      const { status } = await readRaw(`${server.url}/${topic}`, { until: (text) => text.includes('id: '), timeoutMs: 10_000 });
      assert.equal(status, 200, 'the stream opened while the broker ran');
      await server.close();
    }
    await broker.stop();
    return { brokers: broker.brokers, warm };
  })();
  return downSetup;
}

/** Opens a stream through the library with these options and times the answer. */
interface TimedAnswer {
  ms: number;
  status: number;
  body: Record<string, unknown>;
  type: string | null;
  retryAfter: string | null;
}

/** Opens a stream through the library with these options and times the answer (a client that is not an EventSource). */
async function timedStream(options: KafkaSseOptions): Promise<TimedAnswer> {
  const server = await startServer(options);
  try {
    const startedAt = Date.now();
    const res = await fetch(`${server.url}/faults-any-topic`, { signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    const ms = Date.now() - startedAt;
    return { ms, status: res.status, body: JSON.parse(text) as Record<string, unknown>, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after') };
  } finally {
    await server.close();
  }
}

/** Host names, ports, addresses and library words a public error must never carry. */
const INTERNALS = /ECONNREFUSED|127\.0\.0\.1|localhost|[\w.\]]:\d{2,5}\b|kafkajs|KafkaJS|SASL|SCRAM|Connection error/;

function assertQuickUnavailable(answer: TimedAnswer): void {
  assert.equal(answer.status, 503);
  assert.match(answer.type ?? '', /^application\/json/);
  assert.equal(answer.body.code, 'KSSE_KAFKA_UNAVAILABLE');
  assert.match(String(answer.body.message), /Kafka/);
  assert.doesNotMatch(JSON.stringify(answer.body), INTERNALS, 'no internals in the public error');
  assert.ok(Number(answer.retryAfter) > 0, 'a 503 says when to retry (Retry-After)');
  assert.ok(answer.ms < QUICK_MS, `answered after ${answer.ms} ms (bound ${QUICK_MS} ms)`);
}

/**
 * An EventSource (it sends `Accept: text/event-stream`) must never get a non-200 for a condition that
 * passes: it gets a 200 stream with a retry hint and one error event, which then ends.
 */
async function assertTransientEventStream(options: KafkaSseOptions): Promise<void> {
  const server = await startServer({ ...options, retryMs: 1500 });
  try {
    const startedAt = Date.now();
    const { status, headers, text, ended } = await readRaw(`${server.url}/faults-any-topic`, {
      headers: { accept: 'text/event-stream' },
      until: () => false,
      timeoutMs: 20_000,
    });
    const ms = Date.now() - startedAt;
    assert.equal(status, 200, 'an EventSource is never refused with a non-200 for a passing condition');
    assert.match(headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(ended, 'the stream ends by itself, so the EventSource reconnects');
    assert.match(text, /^retry: 2000$/m, 'the retry hint (the larger of retryMs and Retry-After)');
    const data = /^event: error\ndata: (.*)$/m.exec(text)?.[1];
    assert.ok(data, `one error event in ${JSON.stringify(text)}`);
    const body = JSON.parse(data) as Record<string, unknown>;
    assert.equal(body.code, 'KSSE_KAFKA_UNAVAILABLE');
    assert.doesNotMatch(text, INTERNALS, 'no internals in the public error');
    assert.doesNotMatch(text, /^id:/m, "no id: the browser keeps the Last-Event-ID it had");
    assert.ok(ms < QUICK_MS, `answered after ${ms} ms (bound ${QUICK_MS} ms)`);
  } finally {
    await server.close();
  }
}

// With kafkajs's default retries a connect can take 6-15 s; the library's setup deadline (setupTimeoutMs,
// 4 s) and fail-fast defaults for kafkaConfig clients keep the 503 quick anyway.

test('broker down, per-connection client from a fail-fast kafkaConfig: a quick 503 KSSE_KAFKA_UNAVAILABLE', async () => {
  const { brokers } = await brokerDown();
  assertQuickUnavailable(await timedStream({ kafkaConfig: { brokers, logLevel: logLevel.NOTHING, ...FAIL_FAST } }));
});

test('broker down, per-connection client from a kafkaConfig with kafkajs defaults: a quick 503', async () => {
  const { brokers } = await brokerDown();
  assertQuickUnavailable(await timedStream({ kafkaConfig: { brokers, logLevel: logLevel.NOTHING } }));
});

test('broker down, shared fail-fast kafka instance that has never connected: a quick 503', async () => {
  const { brokers } = await brokerDown();
  const kafka = new Kafka({ clientId: 'faults-cold', brokers, logLevel: logLevel.NOTHING, ...FAIL_FAST });
  after(() => closeSharedClient(kafka));
  assertQuickUnavailable(await timedStream({ kafka }));
});

test('broker down, shared fail-fast kafka instance that streamed before the broker stopped: a quick 503', { skip }, async () => {
  const { warm } = await brokerDown();
  assertQuickUnavailable(await timedStream({ kafka: warm!.failFast }));
  // The next request is just as quick: nothing is left waiting on the dead broker.
  assertQuickUnavailable(await timedStream({ kafka: warm!.failFast }));
});

test('broker down, shared kafka instance with kafkajs defaults that streamed before the broker stopped: a quick 503', { skip }, async () => {
  const { warm } = await brokerDown();
  assertQuickUnavailable(await timedStream({ kafka: warm!.defaults }));
});

test('broker down, an EventSource request (per-connection kafkaConfig): 200 with a retry hint and one KSSE_KAFKA_UNAVAILABLE error event, never a 503', async () => {
  const { brokers } = await brokerDown();
  await assertTransientEventStream({ kafkaConfig: { brokers } });
});

test('broker down, an EventSource request (shared kafka instance): 200 with a retry hint and one error event, never a 503', { skip }, async () => {
  const { warm } = await brokerDown();
  await assertTransientEventStream({ kafka: warm!.failFast });
});

test('broker down, a topic outside allowedTopics is a 404 at once, without asking Kafka', async () => {
  const { brokers } = await brokerDown();
  const server = await startServer({ kafkaConfig: { brokers }, allowedTopics: ['faults-allowed'] });
  try {
    const startedAt = Date.now();
    const res = await fetch(`${server.url}/faults-not-allowed`, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.timeout(20_000) });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 404);
    assert.equal(body.code, 'KSSE_TOPIC_NOT_ALLOWED');
    assert.ok(Date.now() - startedAt < 500, `answered after ${Date.now() - startedAt} ms: Kafka was not asked`);
  } finally {
    await server.close();
  }
});

test('broker down, the CLI server: /v1/stream/x and /healthz answer 503 with a JSON reason within the bound', async () => {
  const { brokers } = await brokerDown();
  const server = await startCli(['--brokers', brokers.join(',')]);
  try {
    for (const path of ['/v1/stream/x', '/healthz', '/v1/stream/x']) {
      const startedAt = Date.now();
      const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(20_000) });
      const body = (await res.json()) as Record<string, unknown>;
      const ms = Date.now() - startedAt;
      assert.equal(res.status, 503, path);
      assert.equal(body.code, 'KSSE_KAFKA_UNAVAILABLE', path);
      assert.match(String(path === '/healthz' ? body.reason : body.message), /Kafka/, path);
      assert.doesNotMatch(JSON.stringify(body), INTERNALS, `${path}: no internals in the public error`);
      assert.ok(ms < QUICK_MS, `${path} answered after ${ms} ms`);
    }
  } finally {
    await server.stop();
  }
});
