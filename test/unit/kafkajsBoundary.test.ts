// kafkajs stays behind one boundary: only the adapter (src/kafka/) imports it, and the server, which
// builds its own Kafka instance. Elsewhere only type imports are allowed (options name `Kafka`,
// `KafkaConfig`), so nothing outside the adapter depends on kafkajs at run time.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const ALLOWED = ['kafka/', 'server/'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

describe('the kafkajs boundary', () => {
  it('nothing outside src/kafka/ and src/server/ imports kafkajs but its types', () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      const path = relative(SRC, file).replaceAll('\\', '/');
      if (ALLOWED.some((dir) => path.startsWith(dir))) continue;
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'(kafkajs[^']*)'/gm)) {
        if (!match[2]) offenders.push(`${path}: ${match[0].trim()}`);
      }
      for (const match of text.matchAll(/(require|import)\(\s*'(kafkajs[^']*)'\s*\)/g)) offenders.push(`${path}: ${match[0]}`);
    }
    assert.deepEqual(offenders, []);
  });
});
