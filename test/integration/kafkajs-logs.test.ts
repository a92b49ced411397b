// kafkajs logs through the library's logger, which is silent by default: a per-connection client whose
// broker refuses connections prints nothing to stdout or stderr (kafkajs's own console logger would
// print "[BrokerPool] Failed to connect to seed broker …").
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../e2e/helpers/cliProcess.js';
import { refusedPort } from '../helpers/net.js';


test('kafkaConfig per connection, no logger, broker refusing connections: nothing on stdout or stderr', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'fixtures', 'quiet-stream.ts'), String(await refusedPort())], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, out);
  assert.equal(out, '', 'the process printed nothing');
});
