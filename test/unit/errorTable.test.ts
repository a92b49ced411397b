// One error table (src/errors.ts ERROR_TABLE): every error class, the library's and the server's, is a
// row of it, and the README's table is that table, row for row.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as library from '../../src/errors.js';
import { ERROR_TABLE, KafkaSseError, errorInfo, type KafkaSseErrorCode } from '../../src/errors.js';
import * as server from '../../src/server/errors.js';
import { ROOT } from '../e2e/helpers/cliProcess.js';

type ErrorClass = new (message: string) => KafkaSseError;
const classes = [...Object.entries(library as Record<string, unknown>), ...Object.entries(server as Record<string, unknown>)].filter(
  (entry): entry is [string, ErrorClass] => typeof entry[1] === 'function' && (entry[1] as ErrorClass).prototype instanceof KafkaSseError,
);

test('every error class is a row of the table, with its name, code and status', () => {
  const seen = new Set<string>();
  for (const [exportName, Cls] of classes) {
    const err = new Cls('x');
    const row = errorInfo(err.code as KafkaSseErrorCode);
    assert.ok(row, `${exportName}: code ${err.code} is not in ERROR_TABLE`);
    assert.equal(row.name, exportName);
    assert.equal(err.name, exportName);
    assert.equal(err.status, row.status, exportName);
    seen.add(err.code);
  }
  assert.deepEqual(
    ERROR_TABLE.map((r) => r.code).filter((c) => !seen.has(c)),
    [],
    'every row has a class',
  );
});

test('error classes are types too', () => {
  // Compiles only if TopicNotFoundError names a type (it was a const before: TS2749).
  const describe = (e: library.TopicNotFoundError): string => `${e.code} ${e.status}`;
  assert.equal(describe(new library.TopicNotFoundError('gone')), 'KSSE_TOPIC_NOT_FOUND 404');
  const code: 'KSSE_TOPIC_NOT_FOUND' = new library.TopicNotFoundError('gone').code;
  assert.equal(code, 'KSSE_TOPIC_NOT_FOUND');
});

test("the README's error table is ERROR_TABLE, row for row", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Errors'), readme.indexOf('\n## ', readme.indexOf('\n## Errors') + 1));
  const documented = section.split('\n').filter((line) => line.startsWith('| `KSSE_'));
  const expected = ERROR_TABLE.map((r) => `| \`${r.code}\` | ${r.status} | ${r.scope === 'server' ? '*server*: ' : ''}${r.when} |`);
  assert.deepEqual(documented, expected);
});
