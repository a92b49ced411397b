// The README's "pipeline of your own" (recipes/own-pipeline.ts, shown there as written) served to
// Chromium's own EventSource: it streams, and after a connection cut the browser resumes from its
// Last-Event-ID with every record exactly once. A TCP proxy in front of the recipe does the cutting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromiumPage } from './helpers/chromium.js';
import { cuttingProxy } from './helpers/proxy.js';
import { produce } from '../helpers/kafka.js';
import { createRecipeTopic, startServerRecipe } from '../helpers/recipes.js';

test("the README's own pipeline streams to Chromium's EventSource and resumes after a cut, every record once", async (t) => {
  const topic = await createRecipeTopic(3, 'own-pipeline');
  const recipe = await startServerRecipe('own-pipeline.ts');
  t.after(() => recipe.stop());
  const proxy = await cuttingProxy(new URL(recipe.url.replace('localhost', '127.0.0.1')));
  t.after(() => {
    proxy.cut();
    return proxy.close();
  });

  const page = await chromiumPage(t);
  await page.goto(`${proxy.url}/`); // the recipe's own origin (a 400 for no topics; the page only hosts the script)
  await page.evaluate((path) => {
    const log = { messages: [] as string[], opens: 0, positions: 0 };
    (window as unknown as { own: typeof log }).own = log;
    const source = new EventSource(path);
    source.onopen = () => log.opens++;
    source.onmessage = (e) => log.messages.push(e.data as string);
    source.addEventListener('position', () => log.positions++);
  }, `/${topic}`);
  type Log = { messages: string[]; opens: number; positions: number };
  const state = () => page.evaluate(() => (window as unknown as { own: Log }).own);
  await page.waitForFunction(() => (window as unknown as { own: Log }).own.positions > 0);

  await produce(topic, Array.from({ length: 15 }, (_, n) => ({ partition: n % 3, value: { n } })));
  await page.waitForFunction(() => (window as unknown as { own: Log }).own.messages.length >= 15);
  proxy.cut();
  await produce(topic, Array.from({ length: 15 }, (_, i) => ({ partition: i % 3, value: { n: 15 + i } })));
  await page.waitForFunction(() => (window as unknown as { own: Log }).own.messages.length >= 30, undefined, { timeout: 20_000 });
  await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive right behind

  const final = await state();
  const messages = final.messages.map((d) => JSON.parse(d) as { n: number; servedBy: string });
  assert.deepEqual(messages.map((m) => m.n).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'every record exactly once');
  assert.ok(messages.every((m) => m.servedBy === 'own-pipeline'), 'the stage of your own ran');
  assert.ok(final.opens >= 2, `the browser reconnected after the cut (${final.opens} opens)`);
});
