#!/usr/bin/env node
// The `kafka-sse` command. In a source checkout (src/ present, tsx installed) it runs the TypeScript
// through tsx, so no build step is needed and a stale dist/ is never run by mistake; as installed from
// npm (dist/ only) it runs the compiled CLI.
import { existsSync } from 'node:fs';

const source = new URL('../src/server/cli.ts', import.meta.url);
const built = new URL('../dist/server/cli.js', import.meta.url);

async function tsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined; // installed without dev dependencies
  }
}

let cli;
const api = existsSync(source) ? await tsx() : undefined;
if (api) {
  api.register();
  cli = await import(source.href);
} else {
  cli = await import(built.href);
}
await cli.run();
