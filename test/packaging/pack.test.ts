// The package as users get it: `npm pack` (which runs `prepare`, i.e. the build), then scratch projects in
// the temp dir that install the tarball from it and use it the ways the README says:
//   - ESM TypeScript (strict, node16): typechecks, then runs consume → deserialize → idTrack → sseEncode
//     against the real broker and through MemorySource + collect; a .cts file typechecks the require()
//     side's declarations; a node10 config typechecks `kafka-eventsource/testing`; the `kafka-sse` bin
//     answers --version and, without the server's optional peers, names what to install;
//   - CommonJS (plain .js): require() of the package, /testing and /server, the same pipeline.
// Installs use the local npm cache first (`--prefer-offline`).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createTopic, fixtureKafka, produce, testBrokers } from '../helpers/kafka.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const repoPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const RECORDS = 5;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never rejects, so a test can assert on the exit code and show the output. */
function exec(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve) => {
    // npm_config_* from an outer `npm test` would point the scratch installs at this repository's settings.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(result: Result, what: string): string {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The version this repository installed, so the scratch install is served from the npm cache. */
function installed(name: string): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${version}`;
}

// Shared by both projects: the pipeline, written once in the dialect each project can run.
const ESM_MAIN = `
import { Kafka, logLevel } from 'kafkajs';
import { pipe } from 'it-pipe';
import { KafkaClient, consume, deserialize, idTrack, parseAssignments, resolveStart, sseEncode } from '${repoPkg.name}';
import { MemorySource, collect } from '${repoPkg.name}/testing';

type Source = Parameters<typeof consume>[0];
type Positions = Parameters<typeof consume>[1];

/** The SSE text of the first \`expected\` records from \`positions\`, then the pipeline is closed. */
async function sse(source: Source, positions: Positions, expected: number): Promise<string> {
  const stop = new AbortController();
  const chunks = await collect(
    pipe(consume(source, positions, { signal: stop.signal }), deserialize(), idTrack(positions), sseEncode(), async function* (text) {
      let seen = 0;
      for await (const chunk of text) {
        yield chunk;
        seen += chunk.split('\\n').filter((line) => line.startsWith('data: {')).length;
        if (seen >= expected) return;
      }
    }),
  );
  stop.abort();
  return chunks.join('');
}

const [topic, brokers, count] = process.argv.slice(2);
if (!topic || !brokers || !count) throw new Error('usage: main.js <topic> <brokers> <count>');

const memory = new MemorySource();
memory.append({ topic: 'memory', partition: 0, value: { n: 0 } }, { topic: 'memory', partition: 0, value: { n: 1 } });
const fromMemory = await sse(memory, [{ topic: 'memory', partition: 0, offset: 0 }], 2);

const kafka = new Kafka({ clientId: 'pack-test-esm', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const client = new KafkaClient(kafka);
try {
  await client.connect();
  const positions = await resolveStart(client, parseAssignments(topic), { atTimestamp: 0 });
  const fromKafka = await sse(client, positions, Number(count));
  process.stdout.write(JSON.stringify({ fromMemory, fromKafka }));
} finally {
  await client.close();
}
`;

const CJS_MAIN = `
'use strict';
const { Kafka, logLevel } = require('kafkajs');
const { KafkaClient, consume, deserialize, idTrack, parseAssignments, resolveStart, sseEncode } = require('${repoPkg.name}');
const { MemorySource, collect } = require('${repoPkg.name}/testing');
const server = require('${repoPkg.name}/server');

// it-pipe is ESM only; stages compose by plain application too.
async function sse(source, positions, expected) {
  const stop = new AbortController();
  const text = sseEncode()(idTrack(positions)(deserialize()(consume(source, positions, { signal: stop.signal }))));
  async function* firstRecords() {
    let seen = 0;
    for await (const chunk of text) {
      yield chunk;
      seen += chunk.split('\\n').filter((line) => line.startsWith('data: {')).length;
      if (seen >= expected) return;
    }
  }
  const chunks = await collect(firstRecords());
  stop.abort();
  return chunks.join('');
}

async function main() {
  const [topic, brokers, count] = process.argv.slice(2);
  if (typeof server.createKafkaSseServer !== 'function') throw new Error('server entry without createKafkaSseServer');
  const memory = new MemorySource();
  memory.append({ topic: 'memory', partition: 0, value: { n: 0 } }, { topic: 'memory', partition: 0, value: { n: 1 } });
  const fromMemory = await sse(memory, [{ topic: 'memory', partition: 0, offset: 0 }], 2);
  const kafka = new Kafka({ clientId: 'pack-test-cjs', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const client = new KafkaClient(kafka);
  try {
    await client.connect();
    const positions = await resolveStart(client, parseAssignments(topic), { atTimestamp: 0 });
    const fromKafka = await sse(client, positions, Number(count));
    process.stdout.write(JSON.stringify({ fromMemory, fromKafka }));
  } finally {
    await client.close();
  }
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
`;

// TypeScript's view of require(): in a .cts file under node16 the package must resolve to CommonJS
// declarations (an ESM-only answer is error TS1479).
const CTS_CHECK = `
import { consume, KafkaClient } from '${repoPkg.name}';
import { MemorySource, collect } from '${repoPkg.name}/testing';
export const names: unknown[] = [consume, KafkaClient, MemorySource, collect];
`;

const NODE10_CHECK = `
import { MemorySource, collect } from '${repoPkg.name}/testing';
import { consume } from '${repoPkg.name}';
const memory: MemorySource = new MemorySource();
export const pending: Promise<unknown[]> = collect(consume(memory, [{ topic: 't', partition: 0, offset: 0 }]));
`;

function sseData(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: {'))
    .map((line) => JSON.parse(line.slice('data: '.length)) as unknown);
}

function assertPipelineOutput(stdout: string, topic: string) {
  const { fromMemory, fromKafka } = JSON.parse(stdout) as { fromMemory: string; fromKafka: string };
  assert.deepEqual(
    sseData(fromMemory).map((m) => (m as { n: number }).n),
    [0, 1],
  );
  const fromKafkaData = sseData(fromKafka) as Array<{ n: number; _kafka: { topic: string; offset: number } }>;
  assert.deepEqual(
    fromKafkaData.map((m) => m.n),
    Array.from({ length: RECORDS }, (_, n) => n),
  );
  assert.ok(fromKafkaData.every((m) => m._kafka.topic === topic));
  // The last event's id names the next offset to read, as the README describes.
  const ids = fromKafka.split('\n').filter((line) => line.startsWith('id: '));
  assert.deepEqual(JSON.parse(ids[ids.length - 1]!.slice(4)), [{ topic, partition: 0, offset: RECORDS }]);
}

// At the top level, so that its clean-up hook (topic deleted, clients closed) is the file's: `after` hooks
// registered inside a `before` hook run as soon as that hook ends.
fixtureKafka();

describe(`the packed ${repoPkg.name} tarball, installed into fresh projects`, { timeout: 180_000 }, () => {
  let scratch: string;
  let tarball: string;
  let topic: string;
  let esm: string;
  let cjs: string;
  let esmInstall: Promise<Result>;
  let cjsInstall: Promise<Result>;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'kafka-sse-pack-'));
    const packs = join(scratch, 'packs');
    await mkdir(packs);
    const started = Date.now();
    ok(await exec(NPM, ['pack', '--pack-destination', packs, '--silent'], ROOT), 'npm pack');
    const tgz = (await readdir(packs)).filter((f) => f.endsWith('.tgz'));
    assert.equal(tgz.length, 1, `one tarball expected, got ${tgz.join(', ')}`);
    tarball = join(packs, tgz[0]!);
    console.log(`npm pack (with the build): ${Date.now() - started} ms`);

    const install = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'];
    const kafkajs = installed('kafkajs');
    esm = join(scratch, 'esm-ts');
    await mkdir(join(esm, 'src'), { recursive: true });
    await writeFile(join(esm, 'package.json'), JSON.stringify({ name: 'esm-ts', private: true, type: 'module' }));
    const compilerOptions = { strict: true, target: 'ES2022', types: ['node'], skipLibCheck: false };
    await writeFile(
      join(esm, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'node16', moduleResolution: 'node16', outDir: 'out', rootDir: 'src' }, include: ['src'] }),
    );
    await writeFile(
      join(esm, 'tsconfig.node10.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'commonjs', moduleResolution: 'node10', noEmit: true }, files: ['node10.ts'] }),
    );
    await writeFile(join(esm, 'src', 'main.ts'), ESM_MAIN);
    await writeFile(join(esm, 'src', 'check.cts'), CTS_CHECK);
    await writeFile(join(esm, 'node10.ts'), NODE10_CHECK);
    esmInstall = exec(NPM, [...install, tarball, kafkajs, installed('it-pipe'), installed('typescript'), installed('@types/node')], esm);

    cjs = join(scratch, 'cjs');
    await mkdir(cjs);
    await writeFile(join(cjs, 'package.json'), JSON.stringify({ name: 'cjs', private: true, type: 'commonjs' }));
    await writeFile(join(cjs, 'main.js'), CJS_MAIN);
    cjsInstall = exec(NPM, [...install, tarball, kafkajs, installed('pino'), installed('prom-client'), installed('jose')], cjs);

    topic = await createTopic(1, 'pack');
    await produce(topic, Array.from({ length: RECORDS }, (_, n) => ({ partition: 0, value: { n } })));
    const [esmResult, cjsResult] = await Promise.all([esmInstall, cjsInstall]);
    ok(esmResult, 'npm install (ESM project)');
    ok(cjsResult, 'npm install (CommonJS project)');
    console.log(`pack and both installs: ${Date.now() - started} ms`);
  });

  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('ships dist/ with both formats and their declarations, and no src/', async () => {
    const list = ok(await exec('tar', ['-tzf', tarball], scratch), 'tar -t').split('\n');
    for (const entry of ['index', 'testing', 'server/index']) {
      for (const ext of ['.js', '.cjs', '.d.ts', '.d.cts']) assert.ok(list.includes(`package/dist/${entry}${ext}`), `dist/${entry}${ext} missing`);
    }
    assert.ok(list.includes('package/dist/server/public/index.html'), 'the demo page is missing');
    assert.ok(!list.some((f) => f.startsWith('package/src/')), 'src/ is published');
    const map = JSON.parse(await readFile(join(esm, 'node_modules', repoPkg.name, 'dist', 'index.js.map'), 'utf8')) as { sourcesContent?: unknown[] };
    assert.ok(map.sourcesContent?.length, 'source maps do not embed their sources');
  });

  it('an ESM TypeScript project (strict, node16) typechecks and streams a topic and a MemorySource', async () => {
    ok(await exec(process.execPath, [join(esm, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], esm), 'tsc (node16)');
    const stdout = ok(await exec(process.execPath, ['out/main.js', topic, testBrokers().join(','), String(RECORDS)], esm, 30_000), 'node out/main.js');
    assertPipelineOutput(stdout, topic);
  });

  it('kafka-eventsource/testing typechecks under moduleResolution node10', async () => {
    ok(await exec(process.execPath, [join(esm, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.node10.json'], esm), 'tsc (node10)');
  });

  it('a CommonJS project require()s the package, /testing and /server and streams the same', async () => {
    const stdout = ok(await exec(process.execPath, ['main.js', topic, testBrokers().join(','), String(RECORDS)], cjs, 30_000), 'node main.js');
    assertPipelineOutput(stdout, topic);
  });

  it('the kafka-sse bin runs, and without the optional server peers says what to install', async () => {
    const bin = join(esm, 'node_modules', '.bin', 'kafka-sse');
    assert.equal(ok(await exec(bin, ['--version'], esm, 15_000), 'kafka-sse --version').trim(), repoPkg.version);
    const serve = await exec(bin, ['serve', '--port', '0'], esm, 15_000);
    assert.equal(serve.code, 1, `kafka-sse serve without pino should exit 1:\n${serve.stdout}\n${serve.stderr}`);
    assert.match(serve.stderr, /npm install pino prom-client jose/);
  });
});
