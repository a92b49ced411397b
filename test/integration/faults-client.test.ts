// A client that vanishes (its TCP socket destroyed, no FIN, no clean close): the stream it leaves behind
// must give back its fetches, timers and sockets within a second, whether it was waiting for new records
// or draining history into a full socket. Counted with process.getActiveResourcesInfo().
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { logLevel } from 'kafkajs';
import { sharedClient, type KafkaSseOptions, type StreamSummary } from '../../src/index.js';
import { createTopic, produce, testBrokers } from '../helpers/kafka.js';
import { sharedKafka, startServer } from '../helpers/sse.js';
import { delay } from '../helpers/wait.js';

const RELEASE_MS = 1000;
/** Active handles and requests of this process, by type (`Timeout`, `TCPSocketWrap`, …). */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** The types whose count is above the baseline, e.g. `Timeout 4 > 3`. */
function above(baseline: Map<string, number>, now = resources()): string[] {
  return [...now].filter(([type, n]) => n > (baseline.get(type) ?? 0)).map(([type, n]) => `${type} ${n} > ${baseline.get(type) ?? 0}`);
}

/** Polls every 10 ms until `check()` returns nothing; rejects with the last complaint after `timeoutMs`. */
async function settles(check: () => string[], timeoutMs: number): Promise<number> {
  const startedAt = Date.now();
  for (;;) {
    const complaints = check();
    if (complaints.length === 0) return Date.now() - startedAt;
    if (Date.now() - startedAt > timeoutMs) throw new Error(`not released within ${timeoutMs} ms: ${complaints.join('; ')}`);
    await delay(10);
  }
}

interface RawStream {
  socket: Socket;
  text(): string;
  /** Resolves once the response so far satisfies `predicate`. */
  until(predicate: (text: string) => boolean, timeoutMs?: number): Promise<void>;
}

/** A GET over a plain TCP socket of our own (no agent, no pool), so the test can destroy it at will. */
async function openRawStream(url: string): Promise<RawStream> {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let text = '';
  const waiters = new Set<() => void>();
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
    for (const w of waiters) w();
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
  return {
    socket,
    text: () => text,
    until(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(text)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`condition not met within ${timeoutMs} ms; got ${text.length} bytes: ${text.slice(0, 300)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

interface VanishCase {
  /** Library options for the stream (the test adds `onStreamEnd`). */
  options: KafkaSseOptions;
  /** The topic's records, produced before the stream opens; the stream starts at offset 0. */
  topic: string;
  /** Brings the stream to the state in which the client vanishes. */
  reach(stream: RawStream): Promise<void>;
  /** Extra checks that must hold once everything is released (empty when fine). */
  released?: () => string[];
}

/**
 * Takes a resource baseline with the server up and Kafka connected, opens one stream, brings it to the
 * state under test, destroys the client's socket, and waits for everything to come back to the baseline.
 */
async function vanish({ options, topic, reach, released }: VanishCase): Promise<{ summary: StreamSummary; ms: number }> {
  const ends: StreamSummary[] = [];
  const server = await startServer({ ...options, onStreamEnd: (s) => ends.push(s) }, () => [{ topic, partition: 0, offset: 0 }]);
  try {
    // Warm-up: a first stream reaches the same state, so the shared Kafka client has opened every
    // connection the state needs (they stay for the next streams), then its client vanishes too.
    const warm = await openRawStream(server.url);
    await reach(warm);
    warm.socket.destroy();
    await settles(() => (server.finished === 1 ? [] : ['warm-up stream still running']), 5000);
    await delay(600); // the warm-up's last tail long-poll (500 ms on the broker) comes back
    const baseline = resources();

    const stream = await openRawStream(server.url);
    await reach(stream);
    assert.equal(server.finished, 1, 'the stream is still running when its client vanishes');
    stream.socket.destroy();
    const ms = await settles(
      () => [
        ...(server.finished === 2 ? [] : ['the kafkaSse promise has not settled']),
        ...(ends.length === 2 ? [] : ['onStreamEnd was not called']),
        ...above(baseline),
        ...(released?.() ?? []),
      ],
      RELEASE_MS,
    );
    return { summary: ends[1]!, ms };
  } finally {
    await server.close();
  }
}

test('a client that vanishes while its stream waits for new records: the long-poll waiter, timers and sockets are released within 1 s', async (t) => {
  const kafka = sharedKafka();
  const client = sharedClient(kafka);
  const topic = await createTopic(1, 'faults-vanish-wait');
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  const { summary, ms } = await vanish({
    topic,
    options: { kafka },
    async reach(stream) {
      await stream.until((text) => text.includes('"offset":0'));
      await settles(() => (client.waitingStreams === 1 ? [] : [`${client.waitingStreams} streams waiting`]), 5000);
    },
    released: () => (client.waitingStreams === 0 ? [] : [`${client.waitingStreams} streams still waiting on Kafka`]),
  });
  t.diagnostic(`released in ${ms} ms`);
  assert.equal(summary.reason, 'client disconnected');
  assert.equal(summary.events, 1);
});

test('a client that vanishes while its stream drains history into a full socket: fetches stop, timers and sockets are released within 1 s', async (t) => {
  const kafka = sharedKafka();
  const client = sharedClient(kafka);
  const topic = await createTopic(1, 'faults-vanish-drain');
  const padding = 'x'.repeat(1000);
  const history = Array.from({ length: 20_000 }, (_, n) => ({ partition: 0, value: { n, padding } }));
  for (let i = 0; i < history.length; i += 500) await produce(topic, history.slice(i, i + 500)); // under the 1 MB request limit
  let fetchesAtEnd = -1;
  const { summary, ms } = await vanish({
    topic,
    options: { kafka },
    async reach(stream) {
      // Read a little, then stop reading: the server's writes back up until it waits for `drain`.
      await stream.until((text) => text.includes('"offset":100,'));
      stream.socket.pause();
      // Quiet means no new fetch for 500 ms: a single fetch round trip on a busy machine can take far
      // longer than one 10 ms poll, so a short window would mistake a slow fetch for backpressure.
      let before = -1;
      let changedAt = Date.now();
      await settles(() => {
        const now = client.directFetches;
        if (now !== before) {
          before = now;
          changedAt = Date.now();
        }
        return Date.now() - changedAt >= 500 ? [] : ['the stream is still fetching'];
      }, 15_000);
      await delay(100); // and none in the next 100 ms either: the stream sits in backpressure
      assert.equal(client.directFetches, before, 'backpressure holds the stream');
      assert.equal(client.waitingStreams, 0, 'a stream draining history is not in a long-poll');
    },
    released() {
      fetchesAtEnd = client.directFetches;
      return client.waitingStreams === 0 ? [] : [`${client.waitingStreams} streams waiting`];
    },
  });
  await delay(300);
  assert.equal(client.directFetches, fetchesAtEnd, 'no fetch after the stream ended');
  t.diagnostic(`released in ${ms} ms after ${summary.events} events, ${summary.bytes} bytes`);
  assert.equal(summary.reason, 'client disconnected');
  assert.ok(summary.events < 20_000, 'the client vanished mid-history');
});

test('a client that vanishes from a stream with its own Kafka client (kafkaConfig): that client\'s broker sockets close within 1 s', async (t) => {
  const topic = await createTopic(1, 'faults-vanish-own');
  await produce(topic, [{ partition: 0, value: { n: 0 } }]);
  // The warm-up stream's client is closed at its end; the baseline then has no Kafka socket of a stream.
  const { summary, ms } = await vanish({
    topic,
    options: { kafkaConfig: { brokers: testBrokers(), logLevel: logLevel.NOTHING } },
    async reach(stream) {
      await stream.until((text) => text.includes('"offset":0'));
    },
  });
  t.diagnostic(`released in ${ms} ms`);
  assert.equal(summary.reason, 'client disconnected');
});
