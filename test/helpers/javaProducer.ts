// Produces test records with the Java client (test/java/CompressedProducer.java), for batches exactly as
// Java producers write them. The class is compiled once per source version into .kafka/java-classes/,
// against the jars the Kafka harness already resolved (kafka-clients, snappy-java, lz4-java, zstd-jni).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureJars, ROOT } from '../../scripts/lib/kafkaHarness.js';

const SOURCE = join(ROOT, 'test', 'java', 'CompressedProducer.java');
const CLASS = 'CompressedProducer';

export interface JavaProduceOptions {
  brokers: string[];
  topic: string;
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  count: number;
  /** When set, record i goes to partition i % partitions; otherwise the key ("k<i>") decides. */
  partitions?: number;
  /** More producer properties, e.g. security.protocol, sasl.mechanism and sasl.jaas.config for a SASL broker. */
  extraConfig?: Record<string, string>;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? err.message : stderr });
    });
  });
}

const tail = (text: string, lines = 30) => text.trim().split('\n').slice(-lines).join('\n');

let compiled: Promise<{ classes: string; lib: string }> | undefined;

/** Compiles the producer once per source hash; concurrent test processes each build aside, then rename. */
function compile(): Promise<{ classes: string; lib: string }> {
  compiled ??= (async () => {
    const lib = ensureJars();
    const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
    const classes = join(ROOT, '.kafka', 'java-classes', hash);
    if (existsSync(join(classes, `${CLASS}.class`))) return { classes, lib };
    const building = `${classes}.${process.pid}.tmp`;
    rmSync(building, { recursive: true, force: true });
    mkdirSync(building, { recursive: true });
    const javac = await run('javac', ['-nowarn', '-cp', join(lib, '*'), '-d', building, SOURCE], 120_000);
    if (javac.code !== 0) {
      rmSync(building, { recursive: true, force: true });
      throw new Error(`javac failed to compile ${SOURCE} (exit ${javac.code}):\n${tail(javac.stderr + javac.stdout)}`);
    }
    try {
      renameSync(building, classes);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another process got there first
    }
    return { classes, lib };
  })();
  compiled.catch(() => (compiled = undefined));
  return compiled;
}

/** Writes `count` JSON records ({"n":i,"pad":…}, about 300 bytes, keys "k<i>") with the Java producer. */
export async function produceWithJava(opts: JavaProduceOptions): Promise<void> {
  const { classes, lib } = await compile();
  const extra = Object.entries(opts.extraConfig ?? {}).map(([key, value]) => `${key}=${value}`);
  const args = [
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
    '-cp',
    `${classes}:${join(lib, '*')}`,
    CLASS,
    opts.brokers.join(','),
    opts.topic,
    opts.compression,
    String(opts.count),
    ...(opts.partitions !== undefined ? [String(opts.partitions)] : []),
    ...extra,
  ];
  const java = await run('java', args, 120_000);
  if (java.code !== 0 || java.stdout.trim() !== `sent ${opts.count}`) {
    throw new Error(
      `the Java producer failed writing ${opts.count} ${opts.compression} records to ${opts.topic} (exit ${java.code}):\n` +
        `${tail(java.stderr)}${java.stdout.trim() ? `\nstdout: ${tail(java.stdout, 5)}` : ''}`,
    );
  }
}
