// Every code block of the README compiles as written. A block is either a whole module, typechecked as
// written (strict, node16) against the package's own declarations (built by tsc from src/ into a temp
// folder and installed there as node_modules/kafka-eventsource), or — in "Recipes" — an excerpt shown
// under a link to its recipe, which must appear in that file verbatim (the recipes compile with the
// project and run in test/integration/recipes.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from '../e2e/helpers/cliProcess.js';

interface Block {
  lang: string;
  code: string;
  line: number;
  /** The recipe linked by the nearest heading above the block, if any. */
  recipe?: string;
  section: string;
}

function readmeBlocks(): Block[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  let heading = '';
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3);
    if (line.startsWith('#')) heading = line;
    const open = /^```(\w*)\s*$/.exec(line);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    const recipe = /\(recipes\/([\w-]+\.ts)\)/.exec(heading)?.[1];
    blocks.push({ lang: open[1]!, code: `${body.join('\n')}\n`, line: start + 1, section, ...(recipe ? { recipe } : {}) });
  }
  return blocks;
}

const blocks = readmeBlocks();
const code = blocks.filter((b) => ['ts', 'js', 'typescript', 'javascript'].includes(b.lang));
const excerpts = code.filter((b) => b.section === 'Recipes' && b.recipe && !/^import /m.test(b.code));
const modules = code.filter((b) => !excerpts.includes(b));

test('the README has code blocks to check (the extraction works)', () => {
  assert.ok(modules.length >= 4, `${modules.length} whole modules`);
  assert.ok(excerpts.length >= 5, `${excerpts.length} recipe excerpts`);
  assert.ok(code.every((b) => b.lang === 'ts' || b.lang === 'js'), 'code blocks say ts or js');
});

test('recipe excerpts appear verbatim in their recipe', () => {
  const missing = excerpts.filter((block) => !readFileSync(join(ROOT, 'recipes', block.recipe!), 'utf8').includes(block.code.trimEnd()));
  assert.deepEqual(
    missing.map((b) => `README line ${b.line}, recipes/${b.recipe}:\n${b.code}`),
    [],
    'excerpts not found as written in their recipe',
  );
});

test('every other block typechecks as written, strict, against the built package', () => {
  const work = mkdtempSync(join(tmpdir(), 'kafka-sse-readme-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  // The package as installed: its package.json (exports, types) and declarations emitted from src/.
  const pkg = join(work, 'node_modules', 'kafka-eventsource');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  const emit = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--emitDeclarationOnly', '--outDir', join(pkg, 'dist')], { encoding: 'utf8' });
  assert.equal(emit.status, 0, `declarations did not build:\n${emit.stdout}${emit.stderr}`);
  // CommonJS declaration names the exports map points at (.d.cts): the same declarations.
  for (const name of ['index', 'testing', 'server/index']) cpSync(join(pkg, 'dist', `${name}.d.ts`), join(pkg, 'dist', `${name}.d.cts`));
  for (const dep of ['kafkajs', 'it-pipe', '@types', 'eventsource', 'express', 'fastify', 'hono', '@hono']) {
    try {
      symlinkSync(join(ROOT, 'node_modules', dep), join(work, 'node_modules', dep));
    } catch {
      // not installed here: a block importing it fails to compile below, which says so
    }
  }
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'readme-snippets', type: 'module', private: true }));
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { strict: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], noEmit: true, allowJs: true, checkJs: true, skipLibCheck: true },
      include: ['*.ts', '*.js'],
    }),
  );
  for (const block of modules) {
    // Each block is its own module (a trailing export makes a script without imports one too).
    writeFileSync(join(work, `readme-line-${block.line}.${block.lang}`), `${block.code}export {};\n`);
  }
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(work, 'tsconfig.json')], { encoding: 'utf8', cwd: work });
  assert.equal(tsc.status, 0, `README blocks that do not compile as written (file names carry the README line):\n${tsc.stdout}${tsc.stderr}`);
});
