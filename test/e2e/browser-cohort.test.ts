// Cohorts as a browser meets them: Chromium's own EventSources on one topic (four plain, one filtered)
// are served by two cohorts of the real server; the network cuts them all, each reconnects with its
// Last-Event-ID, rejoins, and every page-side stream has every record (or every matching one) once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafkaSseServer } from '../../src/server/server.js';
import { createTopic, produce, testBrokers } from '../helpers/kafka.js';
import { eventually } from '../helpers/wait.js';
import { chromiumPage } from './helpers/chromium.js';
import { cuttingProxy } from './helpers/proxy.js';

interface Log {
  streams: Array<{ messages: number[]; opens: number; closed: boolean }>;
}

test("Chromium's EventSources share cohorts, survive a cut of every connection, and get every record once", async (t) => {
  const topic = await createTopic(3, 'browser-cohort');
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', retryMs: 300, logLevel: 'silent' });
  const { url } = await server.listen();
  t.after(() => server.close());
  const proxy = await cuttingProxy(new URL(url));
  t.after(() => {
    proxy.cut();
    return proxy.close();
  });

  const page = await chromiumPage(t);
  await page.goto(`${proxy.url}/healthz`); // any page of the server's origin hosts the script
  // Chromium opens at most 6 HTTP/1.1 connections per host: five streams stay under that.
  const paths = [...Array.from({ length: 4 }, () => `/v1/stream/${topic}`), `/v1/stream/${topic}?match.colour=red`];
  await page.evaluate((paths) => {
    const log: Log = { streams: [] };
    (window as unknown as { cohort: Log }).cohort = log;
    for (const path of paths) {
      const stream = { messages: [] as number[], opens: 0, closed: false };
      log.streams.push(stream);
      const source = new EventSource(path);
      source.onopen = () => stream.opens++;
      source.onmessage = (e) => stream.messages.push((JSON.parse(e.data as string) as { n: number }).n);
      source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) stream.closed = true;
      };
    }
  }, paths);
  const state = () => page.evaluate(() => (window as unknown as { cohort: Log }).cohort);
  await eventually(() => server.cohorts.members === 5, 20_000, () => JSON.stringify(server.cohorts));
  assert.equal(server.cohorts.cohorts, 2, 'one cohort for the plain streams, one for the filtered one');

  const batch = (from: number) =>
    Array.from({ length: 30 }, (_, i) => ({ partition: i % 3, value: { n: from + i, colour: (from + i) % 3 === 0 ? 'red' : 'blue' } }));
  await produce(topic, batch(0));
  await page.waitForFunction(() => (window as unknown as { cohort: Log }).cohort.streams.every((s, i) => s.messages.length >= (i < 4 ? 30 : 10)));
  proxy.cut();
  await produce(topic, batch(30));
  await page.waitForFunction(() => (window as unknown as { cohort: Log }).cohort.streams.every((s, i) => s.messages.length >= (i < 4 ? 60 : 20)), undefined, {
    timeout: 30_000,
  });
  await eventually(() => server.cohorts.members === 5, 20_000, () => `after the cut: ${JSON.stringify(server.cohorts)}`);
  await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive right behind

  const final = await state();
  const sorted = (ns: number[]) => [...ns].sort((a, b) => a - b);
  for (const [i, stream] of final.streams.entries()) {
    const want = Array.from({ length: 60 }, (_, n) => n).filter((n) => i < 4 || n % 3 === 0);
    assert.deepEqual(sorted(stream.messages), want, `stream ${i}: every record it asked for, once`);
    assert.ok(stream.opens >= 2, `stream ${i} reconnected after the cut (${stream.opens} opens)`);
    assert.equal(stream.closed, false, `stream ${i}'s EventSource never gave up`);
  }
});
