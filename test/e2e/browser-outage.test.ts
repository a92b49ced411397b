// Kafka is down when a browser connects. Chromium's own EventSource, with nothing in the page but
// `new EventSource(url)` and listeners that record what arrives, must keep retrying by itself (it closes
// for good on any non-200 answer) and, once Kafka is back, receive every record exactly once.
// A private broker (localhost:19192) is stopped and started; the shared one is never touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromiumPage } from './helpers/chromium.js';
import { pino } from 'pino';
import { createKafkaSseServer } from '../../src/server/server.js';
import { createTopicsReady } from '../helpers/kafka.js';
import { brokerFaultsSkip, startPrivateBroker } from '../helpers/privateBroker.js';

const skip = brokerFaultsSkip;
const broker = skip ? undefined : await startPrivateBroker({ name: 'browser-outage', port: 19192, controllerPort: 19193 });

/** What the page records: every message's data, error events' data, and each readyState it was seen in. */
interface PageLog {
  messages: string[];
  errorEvents: string[];
  states: number[];
}

test("Kafka down when the page connects, back 10 s later: Chromium's EventSource retries by itself and gets every record exactly once", { skip }, async (t) => {
  const admin = await broker!.admin();
  const topic = `browser-outage-${Date.now().toString(36)}`;
  await createTopicsReady(admin, [{ topic, numPartitions: 3 }]);
  const producer = broker!.kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const write = async (from: number, to: number) => {
    for (let n = from; n < to; n++) await producer.send({ topic, acks: -1, messages: [{ partition: n % 3, value: JSON.stringify({ n }) }] });
  };
  await write(0, 30);
  await producer.disconnect();

  const logLines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const server = createKafkaSseServer({ brokers: broker!.brokers, port: 0, host: '127.0.0.1', retryMs: 500, logger });
  const url = (await server.listen()).url.replace(/\/$/, '');
  t.after(() => server.close());

  await broker!.stop();

  const page = await chromiumPage(t);
  // A page of the server's own origin, so the stream is same-origin; the page does nothing by itself.
  await page.goto(`${url}/healthz`);
  // `since=0`: the stream starts at each partition's first record, so "every record" is well defined.
  await page.evaluate((streamUrl) => {
    const log: PageLog = { messages: [], errorEvents: [], states: [] };
    (window as unknown as { outage: PageLog }).outage = log;
    const source = new EventSource(streamUrl);
    source.onmessage = (e) => log.messages.push(e.data as string);
    source.addEventListener('error', (e) => {
      if (typeof (e as MessageEvent).data === 'string') log.errorEvents.push((e as MessageEvent).data as string);
      log.states.push(source.readyState);
    });
    setInterval(() => log.states.push(source.readyState), 100);
  }, `${url}/v1/stream/${topic}?since=0`);
  const pageLog = () => page.evaluate(() => (window as unknown as { outage: PageLog }).outage);

  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const whileDown = await pageLog();
  assert.equal(whileDown.messages.length, 0, 'nothing could arrive while Kafka was down');
  assert.ok(whileDown.errorEvents.length >= 2, `the page was told, on each attempt, why (${whileDown.errorEvents.length} error events)`);
  for (const data of whileDown.errorEvents) assert.equal((JSON.parse(data) as { code: string }).code, 'KSSE_KAFKA_UNAVAILABLE');

  await broker!.start();
  const again = broker!.kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await again.connect();
  try {
    for (let n = 30; n < 60; n++) await again.send({ topic, acks: -1, messages: [{ partition: n % 3, value: JSON.stringify({ n }) }] });
  } finally {
    await again.disconnect();
  }
  await page.waitForFunction(() => (window as unknown as { outage: PageLog }).outage.messages.length >= 60, undefined, { timeout: 40_000 });
  await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would arrive right behind

  const final = await pageLog();
  const received = final.messages.map((d) => (JSON.parse(d) as { n: number }).n).sort((a, b) => a - b);
  assert.deepEqual(received, Array.from({ length: 60 }, (_, i) => i), 'every record exactly once');
  assert.ok(!final.states.includes(2), 'the EventSource never reached CLOSED (it would never have come back)');
  t.diagnostic(`${final.errorEvents.length} transient error events while Kafka was down; ${logLines.filter((l) => l.msg === 'stream opened').length} stream(s) opened`);
});
