// Debian's chromium, headless, through playwright-core (no browser is ever downloaded), for tests that
// need a real EventSource. Closed, with its profile removed, when the test ends.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A fresh headless Chromium with one page; `t.after` closes it. */
export async function chromiumPage(t: { after(fn: () => unknown): void }): Promise<Page> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'kafka-sse-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
  // One hook, in this order: after hooks run in the order they were added, and removing the profile
  // while Chromium still writes to it fails with ENOTEMPTY (and leaves the browser open).
  t.after(async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });
  return context.pages()[0] ?? (await context.newPage());
}
