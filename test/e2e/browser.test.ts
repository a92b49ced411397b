// The demo page in a real browser: Debian's chromium (driven by playwright-core, never a downloaded
// browser) opens the page, the server cuts its connection twice, and the page's own EventSource must
// reconnect with Last-Event-ID and show every produced record exactly once.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { startDemoProducer } from '../../src/server/demoProducer.js';
import { createKafkaSseServer } from '../../src/server/server.js';
import { createTopic, fixtureKafka, testBrokers } from '../helpers/kafka.js';
import { ROOT } from './helpers/cliProcess.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACT = join(ROOT, 'test-artifacts', 'browser-demo.png');
const DOCS_IMAGE = join(ROOT, 'docs', 'images', 'demo.png');

/** What the page keeps in `window.kafkaSseDemo` (see src/server/public/demo.js). */
interface PageState {
  clientId: string;
  connection: string;
  opens: number;
  reconnects: number;
  events: number;
  duplicates: number;
  gaps: number;
  lastEventId: string;
  seen: string[];
  errors: string[];
}

test('the demo page resumes after two server-side drops with every record exactly once', async (t) => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing. This test needs Debian's chromium: apt-get update && apt-get install -y chromium ` +
      '(or set CHROMIUM_PATH). .ci/run installs it; no browser is ever downloaded.',
  );
  const topic = await createTopic(3, 'browser');

  // Server in-process, logging at debug into memory: the test reads the Last-Event-ID of every request.
  const logLines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const server = createKafkaSseServer({ brokers: testBrokers(), port: 0, host: '127.0.0.1', demo: true, retryMs: 500, logger });
  const { url } = await server.listen();
  t.after(() => server.close());

  const userDataDir = await mkdtemp(join(tmpdir(), 'kafka-sse-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--disable-dev-shm-usage',
    ],
    timeout: 30_000,
  });
  // Close, then remove the profile: after hooks run in the order they were added, and removing it while
  // Chromium still writes there fails with ENOTEMPTY and leaves the browser open.
  t.after(async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  const state = () => page.evaluate(() => (window as unknown as { kafkaSseDemo: PageState }).kafkaSseDemo);
  type DemoWindow = { kafkaSseDemo: PageState };
  // Predicates are functions, not strings: the page's Content-Security-Policy forbids eval.
  const waitFor = (predicate: (arg: number) => boolean, arg = 0) => page.waitForFunction(predicate, arg);

  await page.goto(`${url}?topic=${encodeURIComponent(topic)}`);
  await waitFor(() => (window as unknown as DemoWindow).kafkaSseDemo.connection === 'open');
  assert.equal(await page.textContent('#topic'), topic);

  // The page's stream has resolved its start (latest) once it is open: every record produced from now on
  // must show up exactly once.
  const producer = await startDemoProducer(fixtureKafka().kafka, topic, 40);
  t.after(() => producer.stop());

  await waitFor(() => (window as unknown as DemoWindow).kafkaSseDemo.events >= 20);
  for (let drop = 1; drop <= 2; drop++) {
    const before = (await state()).events;
    await page.click('#drop');
    await waitFor((n) => {
      const s = (window as unknown as DemoWindow).kafkaSseDemo;
      return s.reconnects >= n && s.connection === 'open';
    }, drop);
    await page.waitForSelector('#drop-result:has-text("dropped 1 connection")');
    await waitFor((n) => (window as unknown as DemoWindow).kafkaSseDemo.events >= n, before + 20);
  }
  await producer.stop();
  const produced = producer.produced.map((r) => `${r.partition}:${r.offset}`);
  assert.ok(produced.length >= 60, `produced ${produced.length}`);
  // Bounded wait for the last records; if some never come, the assertions below say which.
  await page
    .waitForFunction((n) => (window as unknown as DemoWindow).kafkaSseDemo.seen.length >= n, produced.length, { timeout: 10_000 })
    .catch(() => {});
  await page.screenshot({ path: ARTIFACT, fullPage: false }).catch(async () => {
    await mkdir(join(ROOT, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: ARTIFACT, fullPage: false });
  });
  if (process.env.UPDATE_DOCS_SCREENSHOT === '1') await copyFile(ARTIFACT, DOCS_IMAGE);

  const final = await state();
  assert.deepEqual(pageErrors, []);
  assert.equal(final.reconnects, 2);
  assert.equal(final.duplicates, 0, 'the page counted no duplicates');
  assert.equal(final.gaps, 0, 'the page counted no gaps');
  assert.deepEqual(final.errors, []);
  assert.deepEqual([...final.seen].sort(), [...produced].sort(), 'the page shows every produced record exactly once');

  // Server side: the page's stream was requested three times, the reconnections with Last-Event-ID
  // naming every partition of the topic.
  const requests = logLines.filter((l) => l.msg === 'stream requested' && l.clientId === final.clientId);
  assert.equal(requests.length, 3);
  assert.equal(requests[0]!.lastEventId, undefined);
  for (const reconnect of requests.slice(1)) {
    const positions = JSON.parse(reconnect.lastEventId as string) as Array<{ topic: string; partition: number; offset: number }>;
    assert.deepEqual(positions.map((p) => `${p.topic}/${p.partition}`).sort(), [0, 1, 2].map((p) => `${topic}/${p}`));
    assert.ok(positions.every((p) => Number.isInteger(p.offset)));
  }
  const drops = logLines.filter((l) => l.msg === 'demo: dropped streams on request');
  assert.deepEqual(drops.map((l) => l.dropped), [1, 1]);
});
