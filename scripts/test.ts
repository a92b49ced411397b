// `npm test`: typecheck, then every test file under node:test (through tsx) against a real Kafka broker.
// Global setup: starts the local broker when KAFKA_BROKERS is unset and nothing listens on :9092,
// and stops it afterwards only if it started it.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BROKER_HOST,
  BROKER_PORT,
  HarnessError,
  ROOT,
  brokers,
  describeCluster,
  externalBrokers,
  isListening,
  runningVersion,
  startBroker,
  stopBroker,
} from './lib/kafkaHarness.js';

const TEST_DIRS = ['test/unit', 'test/integration', 'test/e2e', 'test/soak', 'test/packaging'];

function findTests(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [relative(ROOT, path)] : [];
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const requested = process.argv.slice(2);
const files = requested.length > 0 ? requested : TEST_DIRS.flatMap((d) => findTests(join(ROOT, d)));

console.log('» typecheck (tsc --noEmit)');
if ((await run('npx', ['tsc', '--noEmit'])) !== 0) {
  console.error('typecheck failed');
  process.exit(1);
}

let startedHere = false;
let stopping = false;
async function teardown() {
  if (stopping) return;
  stopping = true;
  if (startedHere) await stopBroker({ log: (l) => console.log(l) });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void teardown().then(() => process.exit(130));
  });
}

let code = 1;
try {
  if (!externalBrokers() && !(await isListening(BROKER_HOST, BROKER_PORT))) {
    const info = await startBroker({ log: (l) => console.log(l) });
    startedHere = info.startedHere;
  }
  const cluster = await describeCluster(brokers());
  const version = externalBrokers()
    ? 'external cluster (KAFKA_BROKERS)'
    : `Apache Kafka ${runningVersion() ?? '(version unknown: not started by this harness)'}`;
  console.log(
    `» Kafka broker: ${version} at ${brokers().join(',')} (cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s))`,
  );
  console.log(`» ${files.length} test file(s)`);
  code = await run(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...files],
    { ...process.env, KAFKA_SSE_TEST_BROKERS: brokers().join(',') },
  );
} catch (err) {
  console.error(err instanceof HarnessError ? err.message : err);
  code = 1;
} finally {
  await teardown();
}
process.exit(code);

